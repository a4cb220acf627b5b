//! Host runtime for Emma brand skills: sandboxed WebAssembly components.
//!
//! A brand ships a skill as a signed bundle (`skill.toml` + component +
//! intent templates). The host verifies the signature against trusted
//! publisher keys, compiles the component once at install under its own size
//! and time caps (a compile bomb is the host's problem, not wasmtime's),
//! caches the compiled artifact, and runs every call with an epoch deadline,
//! a memory cap and a reply-size cap. Each capability the skill imports
//! (devices, store, profile, notify, orders, handoff, clock, log) is allowed
//! only if the manifest declares it AND the customer granted it.
//! A trap, timeout or limit hit fails that call with a specific error, the
//! instance is discarded and recreated, and other skills keep serving.
//!
//! # Layout
//! - [`permission`]: permission syntax and matching.
//! - [`manifest`]: `skill.toml` parsing with field/line errors.
//! - [`bundle`]: bundle format, ed25519 signing, key files.
//! - [`storage`]: SQLite key-value store per skill and customer grants.
//! - `budget`: per-call and per-period budgets of side-effecting capabilities.
//! - [`orders`]: order proposals the customer confirms or declines.
//! - [`compile_worker`]: compiling in a child process under a memory cap, killed at the deadline.
//! - [`runtime`]: engine, compile caps, artifact cache, calls under limits.
//! - [`scaffold`]: `emma skill new` (the carried guest SDK, unpacked per API version).
//! - [`lookalike`]: skills whose sentences sound like an installed skill's are refused at install.
//! - [`home`]: installed skills on disk (trust store, install, remove, erase).
//! - [`guest_build`]: building a guest crate and turning it into a component.
//! - [`skill_tests`]: a skill's own `skill-tests.toml` cases, run against its component.
//! - [`trivial`]: a minimal canonical-ABI skill for benchmarks and self-tests.
//! - [`bench`]: the `emma bench skills` measurements.
//! - `wit`: one module per frozen WIT version.

pub mod bench;
mod budget;
pub mod bundle;
pub mod compile_worker;
pub mod error;
pub mod guest_build;
pub mod home;
pub mod lookalike;
pub mod manifest;
pub mod orders;
pub mod permission;
pub mod runtime;
pub mod scaffold;
pub mod services;
pub mod skill_tests;
pub mod storage;
pub mod trivial;
pub mod types;

mod artifact_cache;
mod state;
mod wit;

pub use bundle::{Bundle, BundleError, Trust};
pub use compile_worker::CompileWorker;
pub use error::HostError;
pub use home::{InstalledSkill, SkillHome};
pub use manifest::{Budget, Budgeted, Limits, Manifest, ManifestError};
pub use orders::{Decision, OrderError, Proposal, ProposalState};
pub use permission::{Permission, PermissionSet};
pub use runtime::{CompiledSkill, RuntimeConfig, SkillInstance, SkillRuntime};
pub use services::{LocalServices, Services};
pub use storage::SkillDb;
pub use types::{DeviceEvent, Effect, GuestError, Outcome, RefusedAction, Reply, Request};
pub use wit::SUPPORTED as SUPPORTED_API_VERSIONS;
