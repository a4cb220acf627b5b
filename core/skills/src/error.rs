//! The crate's error type: install-time rejections and per-call failures.

use crate::bundle::BundleError;
use crate::manifest::ManifestError;
use crate::orders::OrderError;
use crate::storage::StorageError;

/// Everything that can go wrong installing, loading or calling a skill.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The component is bigger than the host accepts.
    #[error(
        "component is {bytes} bytes, over the host limit of {limit}; shrink it (release build, strip debug info)"
    )]
    TooLarge {
        /// Size.
        bytes: usize,
        /// Limit.
        limit: usize,
    },
    /// A core wasm module where a component was expected.
    #[error(
        "this is a core wasm module, not a component; build skills with `emma skill build` (it componentizes)"
    )]
    NotAComponent,
    /// Not wasm at all, or invalid wasm.
    #[error("malformed component: {reason}")]
    Malformed {
        /// The validator's message.
        reason: String,
    },
    /// Compilation went over the host's time cap.
    #[error("compiling the component took longer than {secs} s; it was rejected as a compile bomb")]
    CompileTimeout {
        /// Cap in seconds.
        secs: u64,
    },
    /// Compilation needed more memory than the host allows.
    #[error(
        "compiling the component needed more than {mib} MiB of memory; it was rejected as a compile bomb"
    )]
    CompileMemory {
        /// Cap in MiB.
        mib: u64,
    },
    /// Cranelift refused the component.
    #[error("could not compile the component: {reason}")]
    Compile {
        /// Why.
        reason: String,
    },
    /// The component imports something this host does not offer.
    #[error(
        "component imports `{import}`, which this host does not offer; skills may import only emma:skill@0.1.0 interfaces"
    )]
    UnsupportedImport {
        /// The import name.
        import: String,
    },
    /// The component was built against an API version the host does not know.
    #[error(
        "component targets skill API `{found}`; this host supports emma:skill/handler@0.1.0, rebuild with a matching emma-skill SDK"
    )]
    UnsupportedVersion {
        /// What it exports.
        found: String,
    },
    /// Instantiation failed.
    #[error("skill `{skill}` could not be instantiated: {reason}")]
    Instantiate {
        /// Skill id.
        skill: String,
        /// Why.
        reason: String,
    },
    /// A call ran past its deadline.
    #[error("skill `{skill}` ran past its {ms} ms deadline and was stopped")]
    Timeout {
        /// Skill id.
        skill: String,
        /// Deadline.
        ms: u32,
    },
    /// A call tried to grow memory past the cap.
    #[error("skill `{skill}` tried to use more than its {mib} MiB memory limit and was stopped")]
    MemoryLimit {
        /// Skill id.
        skill: String,
        /// Cap in MiB.
        mib: u32,
    },
    /// The wasm stack overflowed.
    #[error("skill `{skill}` overflowed its stack (too deep recursion) and was stopped")]
    StackOverflow {
        /// Skill id.
        skill: String,
    },
    /// The guest trapped (panic, unreachable, out-of-bounds access...).
    #[error("skill `{skill}` crashed: {message}")]
    Trap {
        /// Skill id.
        skill: String,
        /// Trap description.
        message: String,
    },
    /// The reply was bigger than allowed.
    #[error("skill `{skill}` replied with {bytes} bytes, over its {limit}-byte reply limit")]
    ReplyTooLarge {
        /// Skill id.
        skill: String,
        /// Size.
        bytes: usize,
        /// Limit.
        limit: usize,
    },
    /// The intent or event is not one the manifest lists.
    #[error("skill `{skill}` does not declare {what} `{name}` in skill.toml")]
    NotDeclared {
        /// Skill id.
        skill: String,
        /// `intent` or `event`.
        what: &'static str,
        /// Its name.
        name: String,
    },
    /// A grant for a permission the manifest does not declare.
    #[error(
        "cannot grant `{permission}` to skill `{skill}`: its skill.toml does not declare it; grant only declared permissions"
    )]
    GrantNotDeclared {
        /// Skill id.
        skill: String,
        /// The permission.
        permission: String,
    },
    /// The skill's sentences sound like an installed skill's.
    #[error(
        "skill `{skill}` was not installed: its sentence \"{sentence}\" sounds like \"{other_sentence}\" of installed skill `{other}`; customers could not tell them apart"
    )]
    SoundsLike {
        /// The skill being installed.
        skill: String,
        /// Its sentence.
        sentence: String,
        /// The installed skill it sounds like.
        other: String,
        /// The installed skill's sentence.
        other_sentence: String,
    },
    /// Engine setup failed.
    #[error("could not set up the wasm engine: {0}")]
    Engine(String),
    /// Compiled-artifact cache I/O failed.
    #[error("artifact cache {path}: {reason}")]
    Cache {
        /// Path.
        path: String,
        /// Why.
        reason: String,
    },
    /// Bundle problem.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// Manifest problem.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// Storage problem.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Order proposal problem (unknown id, already decided...).
    #[error(transparent)]
    Order(#[from] OrderError),
}
