//! The wasm engine: compiling components under the host's caps, caching the
//! artifacts, and running calls under per-call deadlines and memory limits.

use crate::error::HostError;
use crate::manifest::{Limits, Manifest, ceilings};
use crate::permission::PermissionSet;
use crate::services::Services;
use crate::state::SkillState;
use crate::storage::SkillDb;
use crate::types::{DeviceEvent, Outcome, Reply, Request};
use crate::wit::{self, since_v0_1_0 as v0_1_0};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap};

/// One epoch tick; deadlines are rounded up to it.
const TICK: Duration = Duration::from_millis(2);
/// Guest stack cap (the host thread stack must be larger; 2 MiB test threads are).
const MAX_WASM_STACK: usize = 512 * 1024;

/// Host-wide settings.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Largest component accepted at install.
    pub max_component_bytes: usize,
    /// Longest compile accepted at install.
    pub compile_timeout: Duration,
    /// Where compiled artifacts are cached; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Most skill instances alive at once (pool size).
    pub max_instances: u32,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            max_component_bytes: 16 * 1024 * 1024,
            compile_timeout: Duration::from_secs(60),
            cache_dir: None,
            max_instances: 300,
        }
    }
}

/// The wasm engine and linker shared by every skill.
pub struct SkillRuntime {
    engine: Engine,
    linker: Linker<SkillState>,
    config: RuntimeConfig,
}

/// A compiled component, ready to load.
#[derive(Clone)]
pub struct CompiledSkill {
    component: Component,
    /// SHA-256 of the component bytes.
    pub digest: String,
    /// Whether it came from the artifact cache.
    pub from_cache: bool,
}

fn engine_config(cfg: &RuntimeConfig) -> Config {
    let mut pool = PoolingAllocationConfig::new();
    let n = cfg.max_instances.max(1);
    pool.total_component_instances(n)
        .total_core_instances(n * 8)
        .total_memories(n * 2)
        .total_tables(n * 8)
        .max_memory_size(ceilings::MEMORY_MIB as usize * 1024 * 1024)
        .max_core_instances_per_component(32)
        .max_memories_per_component(8)
        .max_tables_per_component(32)
        .table_elements(100_000)
        .max_unused_warm_slots(16);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .max_wasm_stack(MAX_WASM_STACK)
        .memory_reservation(ceilings::MEMORY_MIB as u64 * 1024 * 1024)
        .memory_guard_size(64 * 1024)
        .memory_reservation_for_growth(0)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}

impl SkillRuntime {
    /// Builds the engine (Cranelift only), the pooling allocator and the epoch ticker.
    pub fn new(config: RuntimeConfig) -> Result<SkillRuntime, HostError> {
        let engine = Engine::new(&engine_config(&config))
            .map_err(|e| HostError::Engine(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        v0_1_0::Skill::add_to_linker::<SkillState, HasSelf<SkillState>>(&mut linker, |s| s)
            .map_err(|e| HostError::Engine(format!("{e:#}")))?;
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("emma-skill-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(TICK);
                }
            })
            .map_err(|e| HostError::Engine(format!("cannot start the epoch thread: {e}")))?;
        Ok(SkillRuntime {
            engine,
            linker,
            config,
        })
    }

    /// The host-wide settings.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    fn cache_key(&self, digest: &str) -> String {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut h);
        format!("{digest}-{:016x}", h.finish())
    }

    /// Checks and compiles component bytes, using the artifact cache when set.
    ///
    /// Rejects (before compiling) anything over the size cap, a core module,
    /// invalid wasm, unknown imports and unsupported API versions; the compile
    /// itself runs under the time cap.
    pub fn compile(&self, bytes: &[u8]) -> Result<CompiledSkill, HostError> {
        let limit = self.config.max_component_bytes;
        if bytes.len() > limit {
            return Err(HostError::TooLarge {
                bytes: bytes.len(),
                limit,
            });
        }
        if wasmparser::Parser::is_core_wasm(bytes) {
            return Err(HostError::NotAComponent);
        }
        if !wasmparser::Parser::is_component(bytes) {
            return Err(HostError::Malformed {
                reason: "not a WebAssembly component (bad magic or version)".into(),
            });
        }
        let digest = crate::bundle::hex(&Sha256::digest(bytes));
        if let Some(dir) = &self.config.cache_dir
            && let Some(component) =
                crate::artifact_cache::load(&self.engine, dir, &self.cache_key(&digest))?
        {
            self.check_interface(&component)?;
            return Ok(CompiledSkill {
                component,
                digest,
                from_cache: true,
            });
        }
        let mut validator =
            wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::default());
        validator
            .validate_all(bytes)
            .map_err(|e| HostError::Malformed {
                reason: e.to_string(),
            })?;

        let (tx, rx) = std::sync::mpsc::channel();
        let engine = self.engine.clone();
        let owned = bytes.to_vec();
        std::thread::Builder::new()
            .name("emma-skill-compile".into())
            .spawn(move || {
                let _ = tx.send(Component::new(&engine, &owned).map_err(|e| format!("{e:#}")));
            })
            .map_err(|e| HostError::Engine(format!("cannot start a compile thread: {e}")))?;
        let timeout = self.config.compile_timeout;
        let component = match rx.recv_timeout(timeout) {
            Ok(Ok(c)) => c,
            Ok(Err(reason)) => return Err(HostError::Compile { reason }),
            Err(_) => {
                return Err(HostError::CompileTimeout {
                    secs: timeout.as_secs(),
                });
            }
        };
        self.check_interface(&component)?;
        if let Some(dir) = &self.config.cache_dir {
            crate::artifact_cache::store(dir, &self.cache_key(&digest), &component)?;
        }
        Ok(CompiledSkill {
            component,
            digest,
            from_cache: false,
        })
    }

    /// Rejects imports the host does not offer and unknown API versions.
    fn check_interface(&self, component: &Component) -> Result<(), HostError> {
        let ty = component.component_type();
        for (name, _) in ty.imports(&self.engine) {
            let offered = name
                .strip_prefix("emma:skill/")
                .and_then(|rest| rest.split_once('@'))
                .is_some_and(|(iface, version)| {
                    wit::OFFERED_IMPORTS.contains(&iface) && wit::SUPPORTED.contains(&version)
                });
            if !offered {
                return Err(HostError::UnsupportedImport {
                    import: name.to_string(),
                });
            }
        }
        let exports: Vec<String> = ty
            .exports(&self.engine)
            .map(|(n, _)| n.to_string())
            .collect();
        if exports.iter().any(|n| *n == wit::handler_export("0.1.0")) {
            return Ok(());
        }
        let found = exports
            .iter()
            .find(|n| n.starts_with("emma:skill/handler"))
            .cloned()
            .unwrap_or_else(|| {
                format!(
                    "no emma:skill/handler export (exports: {})",
                    exports.join(", ")
                )
            });
        Err(HostError::UnsupportedVersion { found })
    }

    /// Prepares a compiled skill for calls with the given grants and storage.
    pub fn load(
        &self,
        compiled: &CompiledSkill,
        manifest: &Manifest,
        granted: PermissionSet,
        db: SkillDb,
        services: Arc<dyn Services>,
    ) -> Result<SkillInstance, HostError> {
        let inst_err = |e: wasmtime::Error| HostError::Instantiate {
            skill: manifest.id.clone(),
            reason: format!("{e:#}"),
        };
        let pre = self
            .linker
            .instantiate_pre(&compiled.component)
            .map_err(inst_err)?;
        let pre = v0_1_0::SkillPre::new(pre).map_err(inst_err)?;
        Ok(SkillInstance {
            engine: self.engine.clone(),
            pre,
            live: None,
            manifest: manifest.clone(),
            granted,
            db,
            services,
        })
    }
}

impl std::fmt::Debug for CompiledSkill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledSkill")
            .field("digest", &self.digest)
            .field("from_cache", &self.from_cache)
            .finish()
    }
}

impl std::fmt::Debug for SkillInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SkillInstance")
            .field("skill", &self.manifest.id)
            .field("live", &self.live.is_some())
            .finish()
    }
}

/// A loaded skill: one live instance, recreated after any failure.
pub struct SkillInstance {
    engine: Engine,
    pre: v0_1_0::SkillPre<SkillState>,
    live: Option<(Store<SkillState>, v0_1_0::Skill)>,
    manifest: Manifest,
    granted: PermissionSet,
    db: SkillDb,
    services: Arc<dyn Services>,
}

impl SkillInstance {
    /// The skill's manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Replaces the customer's grants (e.g. after a revoke); takes effect on the next call.
    pub fn set_grants(&mut self, granted: PermissionSet) {
        if let Some((store, _)) = &mut self.live {
            store.data_mut().granted = granted.clone();
        }
        self.granted = granted;
    }

    /// The customer's current grants.
    pub fn grants(&self) -> &PermissionSet {
        &self.granted
    }

    /// Whether a live instance exists (false after a failure until the next call).
    pub fn is_live(&self) -> bool {
        self.live.is_some()
    }

    fn limits(&self) -> Limits {
        self.manifest.limits
    }

    fn instantiate(&mut self) -> Result<(), HostError> {
        let limits = self.limits();
        let state = SkillState {
            skill_id: self.manifest.id.clone(),
            declared: self.manifest.permissions.clone(),
            granted: self.granted.clone(),
            db: self.db.clone(),
            store_quota: u64::from(limits.store_kib) * 1024,
            services: self.services.clone(),
            effects: Vec::new(),
            denials: Vec::new(),
            memory_cap: limits.memory_mib as usize * 1024 * 1024,
            memory_refused: None,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| s);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(deadline_ticks(limits.timeout_ms));
        let skill = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| self.classify(&store, e))?;
        self.live = Some((store, skill));
        Ok(())
    }

    fn classify(&self, store: &Store<SkillState>, e: wasmtime::Error) -> HostError {
        let skill = self.manifest.id.clone();
        let limits = self.limits();
        if store.data().memory_refused.is_some() {
            return HostError::MemoryLimit {
                skill,
                mib: limits.memory_mib,
            };
        }
        match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => HostError::Timeout {
                skill,
                ms: limits.timeout_ms,
            },
            Some(Trap::StackOverflow) => HostError::StackOverflow { skill },
            _ => HostError::Trap {
                skill,
                message: format!("{e:#}"),
            },
        }
    }

    /// Runs `f` on the live instance with a fresh deadline; on any failure the
    /// instance is discarded so the next call starts clean.
    fn call<T>(
        &mut self,
        f: impl FnOnce(&mut Store<SkillState>, &v0_1_0::Skill) -> wasmtime::Result<T>,
    ) -> Result<(T, Vec<crate::types::Effect>, Vec<crate::types::Denial>), HostError> {
        if self.live.is_none() {
            self.instantiate()?;
        }
        let (mut store, skill) = self.live.take().expect("instantiated above");
        store.set_epoch_deadline(deadline_ticks(self.limits().timeout_ms));
        store.data_mut().effects.clear();
        store.data_mut().denials.clear();
        let result = f(&mut store, &skill);
        match result {
            Ok(v) => {
                let data = store.data_mut();
                let effects = std::mem::take(&mut data.effects);
                let denials = std::mem::take(&mut data.denials);
                self.live = Some((store, skill));
                Ok((v, effects, denials))
            }
            Err(e) => {
                let err = self.classify(&store, e);
                tracing::warn!(skill = %self.manifest.id, error = %err, "skill call failed; instance discarded");
                Err(err)
            }
        }
    }

    fn check_reply(&self, reply: &Reply) -> Result<(), HostError> {
        let limit = self.limits().reply_kib as usize * 1024;
        let bytes = reply.size();
        if bytes > limit {
            return Err(HostError::ReplyTooLarge {
                skill: self.manifest.id.clone(),
                bytes,
                limit,
            });
        }
        Ok(())
    }

    /// Asks the skill to answer `request`; the intent must be declared in the manifest.
    pub fn handle_intent(&mut self, request: &Request) -> Result<Outcome<Reply>, HostError> {
        if !self.manifest.intents.contains(&request.intent) {
            return Err(HostError::NotDeclared {
                skill: self.manifest.id.clone(),
                what: "intent",
                name: request.intent.clone(),
            });
        }
        let req = v0_1_0::request(request);
        let (result, effects, denials) =
            self.call(|store, skill| skill.emma_skill_handler().call_handle_intent(store, &req))?;
        let result = result.map(v0_1_0::reply).map_err(v0_1_0::guest_error);
        if let Ok(reply) = &result {
            self.check_reply(reply)?;
        }
        Ok(Outcome {
            result,
            effects,
            denials,
        })
    }

    /// Delivers a device event; the event kind must be subscribed in the manifest.
    pub fn handle_event(
        &mut self,
        event: &DeviceEvent,
    ) -> Result<Outcome<Option<Reply>>, HostError> {
        if !self.manifest.events.contains(&event.kind) {
            return Err(HostError::NotDeclared {
                skill: self.manifest.id.clone(),
                what: "event",
                name: event.kind.clone(),
            });
        }
        let ev = v0_1_0::event(event);
        let (result, effects, denials) =
            self.call(|store, skill| skill.emma_skill_handler().call_handle_event(store, &ev))?;
        let result = result
            .map(|r| r.map(v0_1_0::reply))
            .map_err(v0_1_0::guest_error);
        if let Ok(Some(reply)) = &result {
            self.check_reply(reply)?;
        }
        Ok(Outcome {
            result,
            effects,
            denials,
        })
    }

    /// Calls the skill's `install` hook.
    pub fn install(&mut self) -> Result<Outcome<()>, HostError> {
        let (result, effects, denials) =
            self.call(|store, skill| skill.emma_skill_handler().call_install(store))?;
        Ok(Outcome {
            result: result.map_err(v0_1_0::guest_error),
            effects,
            denials,
        })
    }

    /// Calls the skill's `configure` hook with the customer's settings.
    pub fn configure(&mut self, settings: &[(String, String)]) -> Result<Outcome<()>, HostError> {
        let s = v0_1_0::settings(settings);
        let (result, effects, denials) =
            self.call(|store, skill| skill.emma_skill_handler().call_configure(store, &s))?;
        Ok(Outcome {
            result: result.map_err(v0_1_0::guest_error),
            effects,
            denials,
        })
    }
}

fn deadline_ticks(timeout_ms: u32) -> u64 {
    (u64::from(timeout_ms)).div_ceil(TICK.as_millis() as u64) + 1
}
