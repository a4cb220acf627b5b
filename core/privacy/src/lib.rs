//! Customer control for Emma: consent, a ledger of every stored or shared
//! item, retention, export and provable erase.
//!
//! A brand can be close to its customers without taking their data away from
//! them: the customer says yes or no per skill and per kind of data, sees what
//! is kept and who got it, takes it with them and erases it. This crate reads
//! and writes the other crates' SQLite files directly (the skills' database,
//! the device registry and outbox) so it builds without the wasm engine.
//!
//! # Layout
//! - [`category`]: the data categories (`profile:<field>`, `orders`, `device-usage`…).
//! - [`layout`]: where every store of customer data lives.
//! - [`customer`]: `customer.sqlite`, holding consents and Emma's own customer data.
//! - [`consent`]: consent per skill and category, with purpose and expiry.
//! - [`data`]: profile, transcripts, opted-in audio, device usage, touchpoints, retention.
//! - [`ledger`]: the append-only, hash-chained ledger in `ledger.sqlite`.
//! - [`privacy`]: [`Privacy`], the handle the `Assistant` and the CLI use.
//! - [`export`]: one JSON document with everything (schema in `docs/privacy.md`).
//! - [`erase`]: erase from every store, proved by scanning the raw files.
//! - [`seed`]: a synthetic home with the other crates' schemas, for benchmarks and tests.
//! - [`bench`]: the `emma bench privacy` measurements.
#![forbid(unsafe_code)]

pub mod bench;
pub mod category;
pub mod consent;
pub mod customer;
pub mod data;
pub mod erase;
pub mod error;
pub mod export;
pub mod layout;
pub mod ledger;
pub mod privacy;
pub mod seed;

pub use category::{CATEGORY_NAMES, Category, CategoryParseError};
pub use consent::Consent;
pub use data::{Expired, Touchpoint, Transcript, Usage};
pub use erase::{EraseReport, scan_for};
pub use error::{PrivacyError, Result};
pub use export::ExportSummary;
pub use layout::{Layout, now_ms};
pub use ledger::{Action, Entry, Filter, Ledger, NewEntry, Reason, Verification};
pub use privacy::{CUSTOMER, EMMA, Privacy};
