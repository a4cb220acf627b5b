//! The wasm engine: compiling components under the host's caps, caching the
//! artifacts, and running calls under per-call deadlines and memory limits.

use crate::budget::{CallBudget, PeriodLedger};
use crate::compile_worker::CompileWorker;
use crate::error::HostError;
use crate::manifest::{Limits, Manifest, ceilings};
use crate::permission::{DeviceAccess, Permission, PermissionSet};
use crate::services::Services;
use crate::state::SkillState;
use crate::storage::SkillDb;
use crate::types::{Denial, DeviceEvent, Effect, Outcome, RefusedAction, Reply, Request};
use crate::wit::{self, since_v0_1_0 as v0_1_0};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
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
    /// Compile in a child process (killed at `compile_timeout`, address space
    /// capped at `compile_memory_mib`); `None` compiles on a thread, which the
    /// host stops waiting for at the deadline but cannot stop.
    pub compile_worker: Option<CompileWorker>,
    /// Most memory (address space) a compile worker may use.
    pub compile_memory_mib: u64,
    /// The period the manifest's `*_per_hour` budgets count over: an hour
    /// (shorter only to test that a new period starts afresh).
    pub budget_period: Duration,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            max_component_bytes: 16 * 1024 * 1024,
            compile_timeout: Duration::from_secs(60),
            cache_dir: None,
            max_instances: 300,
            budget_period: Duration::from_secs(3600),
            compile_worker: None,
            compile_memory_mib: 2048,
        }
    }
}

/// The wasm engine and linker shared by every skill.
pub struct SkillRuntime {
    engine: Engine,
    linker: Linker<SkillState>,
    config: RuntimeConfig,
    /// Per skill id: capability uses in the current budget period, shared by
    /// every instance of that skill so reloading it does not reset them.
    ledgers: Mutex<HashMap<String, Arc<Mutex<PeriodLedger>>>>,
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

/// The engine settings without the pooling allocator (which reserves the
/// whole pool's address space up front): what a compile worker uses. Code
/// generation settings are the same, so its artifacts load in the runtime's engine.
pub(crate) fn compile_only_config(cfg: &RuntimeConfig) -> Config {
    let mut config = engine_config(cfg);
    config.allocation_strategy(InstanceAllocationStrategy::OnDemand);
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
            ledgers: Mutex::default(),
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

        let component = match &self.config.compile_worker {
            Some(worker) => self.compile_in_worker(worker, bytes)?,
            None => self.compile_on_thread(bytes)?,
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

    #[allow(unsafe_code)]
    fn compile_in_worker(
        &self,
        worker: &CompileWorker,
        bytes: &[u8],
    ) -> Result<Component, HostError> {
        let artifact = crate::compile_worker::compile(
            worker,
            bytes,
            self.config.compile_timeout,
            self.config.compile_memory_mib,
        )?;
        // SAFETY: `Component::deserialize` trusts its input to be an artifact
        // of this engine's configuration. It comes straight from the worker
        // process this host just started (the embedder's own program, named
        // in `RuntimeConfig::compile_worker`) over a private pipe, produced
        // by `Engine::precompile_component` with the same code-generation
        // settings; wasmtime rejects artifacts of another configuration or version.
        unsafe { Component::deserialize(&self.engine, &artifact) }.map_err(|e| HostError::Compile {
            reason: format!("the compile worker's artifact does not load: {e:#}"),
        })
    }

    fn compile_on_thread(&self, bytes: &[u8]) -> Result<Component, HostError> {
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
        match rx.recv_timeout(timeout) {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(reason)) => Err(HostError::Compile { reason }),
            Err(_) => Err(HostError::CompileTimeout {
                secs: timeout.as_secs(),
            }),
        }
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
        let ledger = self
            .ledgers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(manifest.id.clone())
            .or_insert_with(PeriodLedger::shared)
            .clone();
        Ok(SkillInstance {
            engine: self.engine.clone(),
            pre,
            live: None,
            manifest: manifest.clone(),
            granted,
            db,
            services,
            ledger,
            budget_period: self.config.budget_period,
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
    ledger: Arc<Mutex<PeriodLedger>>,
    budget_period: Duration,
}

/// What one call returned, before it becomes an [`Outcome`].
struct Called<T> {
    value: T,
    effects: Vec<Effect>,
    denials: Vec<Denial>,
    /// Bytes of text produced through capabilities.
    effect_bytes: usize,
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
            order_max_quantity: limits.order_max_quantity,
            budget: CallBudget::new(limits, self.budget_period, self.ledger.clone()),
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
    ) -> Result<Called<T>, HostError> {
        if self.live.is_none() {
            self.instantiate()?;
        }
        let (mut store, skill) = self.live.take().expect("instantiated above");
        store.set_epoch_deadline(deadline_ticks(self.limits().timeout_ms));
        store.data_mut().effects.clear();
        store.data_mut().denials.clear();
        store.data_mut().budget.reset();
        let result = f(&mut store, &skill);
        store.data_mut().close_budget();
        match result {
            Ok(value) => {
                let data = store.data_mut();
                let called = Called {
                    value,
                    effects: std::mem::take(&mut data.effects),
                    denials: std::mem::take(&mut data.denials),
                    effect_bytes: data.budget.bytes(),
                };
                self.live = Some((store, skill));
                Ok(called)
            }
            Err(e) => {
                let err = self.classify(&store, e);
                tracing::warn!(skill = %self.manifest.id, error = %err, "skill call failed; instance discarded");
                Err(err)
            }
        }
    }

    /// The reply and everything the call produced through capabilities
    /// together stay within `limits.reply_kib`.
    fn check_reply(&self, reply: &Reply, effect_bytes: usize) -> Result<(), HostError> {
        let limit = self.limits().reply_kib as usize * 1024;
        let bytes = reply.size() + effect_bytes;
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
        let called =
            self.call(|store, skill| skill.emma_skill_handler().call_handle_intent(store, &req))?;
        let result = called.value.map(v0_1_0::reply).map_err(v0_1_0::guest_error);
        self.finish(
            result.map(Some),
            called.effects,
            called.denials,
            called.effect_bytes,
        )
        .map(|o| o.map(|r| r.expect("an intent reply stays a reply")))
    }

    /// Checks a reply's size, sanitises its text and takes out the actions
    /// the skill may not carry out.
    fn finish(
        &self,
        result: Result<Option<Reply>, crate::types::GuestError>,
        effects: Vec<Effect>,
        denials: Vec<Denial>,
        effect_bytes: usize,
    ) -> Result<Outcome<Option<Reply>>, HostError> {
        let mut refused_actions = Vec::new();
        let result = match result {
            Ok(Some(reply)) => {
                self.check_reply(&reply, effect_bytes)?;
                let mut reply = reply.sanitised();
                refused_actions = self.refuse_unpermitted_actions(&mut reply);
                Ok(Some(reply))
            }
            other => other,
        };
        Ok(Outcome {
            skill: self.manifest.id.clone(),
            result,
            effects,
            denials,
            refused_actions,
        })
    }

    /// Moves reply actions for devices the skill may not control (not
    /// declared in skill.toml, or not granted by the customer) out of the reply.
    fn refuse_unpermitted_actions(&self, reply: &mut Reply) -> Vec<RefusedAction> {
        let mut refused = Vec::new();
        reply.actions.retain(|action| {
            let reason = if !crate::permission::is_device_id(&action.device) {
                format!(
                    "`{}` is not a device id like `light.kitchen`",
                    emma_untrusted::line(&action.device, 64)
                )
            } else {
                let wanted = Permission::Device {
                    pattern: action.device.clone(),
                    access: DeviceAccess::Control,
                };
                if !self.manifest.permissions.allows(&wanted) {
                    format!("{wanted}: not declared in skill.toml")
                } else if !self.granted.allows(&wanted) {
                    format!("{wanted}: not granted by the customer")
                } else {
                    return true;
                }
            };
            tracing::warn!(skill = %self.manifest.id, device = %emma_untrusted::line(&action.device, 64), command = %emma_untrusted::line(&action.command, 64), %reason, "reply action refused; it will not be carried out");
            refused.push(RefusedAction {
                action: action.clone(),
                reason,
            });
            false
        });
        refused
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
        let called =
            self.call(|store, skill| skill.emma_skill_handler().call_handle_event(store, &ev))?;
        let result = called
            .value
            .map(|r| r.map(v0_1_0::reply))
            .map_err(v0_1_0::guest_error);
        self.finish(result, called.effects, called.denials, called.effect_bytes)
    }

    /// Calls the skill's `install` hook.
    pub fn install(&mut self) -> Result<Outcome<()>, HostError> {
        let called = self.call(|store, skill| skill.emma_skill_handler().call_install(store))?;
        Ok(self.outcome(called))
    }

    /// Calls the skill's `configure` hook with the customer's settings.
    pub fn configure(&mut self, settings: &[(String, String)]) -> Result<Outcome<()>, HostError> {
        let s = v0_1_0::settings(settings);
        let called =
            self.call(|store, skill| skill.emma_skill_handler().call_configure(store, &s))?;
        Ok(self.outcome(called))
    }

    fn outcome(
        &self,
        called: Called<Result<(), v0_1_0::emma::skill::types::SkillError>>,
    ) -> Outcome<()> {
        Outcome {
            skill: self.manifest.id.clone(),
            result: called.value.map_err(v0_1_0::guest_error),
            effects: called.effects,
            denials: called.denials,
            refused_actions: Vec::new(),
        }
    }
}

fn deadline_ticks(timeout_ms: u32) -> u64 {
    (u64::from(timeout_ms)).div_ceil(TICK.as_millis() as u64) + 1
}
