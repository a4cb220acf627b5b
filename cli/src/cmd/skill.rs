//! `emma skill …`: scaffold, build, sign, trust, inspect, install, run and test brand skills.
//!
//! Only argument parsing and printing live here; the work is in `emma-skill-host`.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use emma_skill_host::bundle::{self, Bundle, Trust};
use emma_skill_host::guest_build;
use emma_skill_host::skill_tests::{self, TestFile};
use emma_skill_host::{
    LocalServices, Outcome, Permission, Reply, Request, SkillHome, SkillRuntime,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Arguments of `emma skill`.
#[derive(Debug, Args)]
pub struct SkillArgs {
    #[command(subcommand)]
    what: SkillCommand,
}

#[derive(Debug, Subcommand)]
enum SkillCommand {
    /// Scaffold a new skill crate in ./NAME answering the intent `Hello`.
    New {
        /// Skill name (lowercase letters, digits, `-`).
        name: String,
    },
    /// Build the skill crate in DIR into an unsigned (dev) bundle; prints its path last.
    Build {
        /// Skill crate directory (with Cargo.toml and skill.toml).
        dir: PathBuf,
    },
    /// Make an ed25519 signing key: FILE (secret, mode 600) and FILE.pub.
    Keygen {
        /// Where to write the secret key.
        file: PathBuf,
    },
    /// Trust a publisher's public key (hex, or a .pub file).
    Trust {
        /// Public key hex or path.
        pubkey: String,
    },
    /// Build DIR (or take an existing bundle) and sign it; prints the bundle path last.
    Sign {
        /// Skill crate directory or bundle file.
        dir: PathBuf,
        /// Secret key file from `emma skill keygen`.
        #[arg(long)]
        key: PathBuf,
    },
    /// Show what a bundle contains and whether it is signed by a trusted key.
    Inspect {
        /// Bundle file.
        bundle: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Verify, compile and install a bundle, granting permissions.
    Install {
        /// Bundle file.
        bundle: PathBuf,
        /// Permission to grant (repeatable), e.g. `device:light.*:control`.
        #[arg(long = "grant")]
        grants: Vec<String>,
        /// Accept unsigned or untrusted bundles (development only).
        #[arg(long)]
        dev: bool,
        /// Customer the grants are for.
        #[arg(long, default_value = "default")]
        customer: String,
    },
    /// List installed skills.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a customer's grant (or all grants) from an installed skill.
    Revoke {
        /// Skill id.
        id: String,
        /// Permission to revoke; all if omitted.
        perm: Option<String>,
        /// Customer.
        #[arg(long, default_value = "default")]
        customer: String,
    },
    /// Uninstall a skill; `--erase` also deletes everything it stored.
    Remove {
        /// Skill id.
        id: String,
        /// Erase the skill's stored data too.
        #[arg(long)]
        erase: bool,
        /// Customer.
        #[arg(long, default_value = "default")]
        customer: String,
    },
    /// Run one intent (or event) against a bundle, verified like install.
    Run {
        /// Bundle file.
        bundle: PathBuf,
        /// Intent name.
        #[arg(long, required_unless_present = "event")]
        intent: Option<String>,
        /// Device event `DEVICE:KIND=VALUE` instead of an intent.
        #[arg(long, conflicts_with = "intent")]
        event: Option<String>,
        /// Slot value `name=value` (repeatable).
        #[arg(long = "slot")]
        slots: Vec<String>,
        /// Language code.
        #[arg(long, default_value = "en")]
        lang: String,
        /// Permission to grant for this run (repeatable).
        #[arg(long = "grant")]
        grants: Vec<String>,
        /// A device in the simulated home, `id=state` (repeatable).
        #[arg(long = "device")]
        devices: Vec<String>,
        /// Accept unsigned or untrusted bundles (development only).
        #[arg(long)]
        dev: bool,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Internal: compile a component read from stdin for the host (a child
    /// process, so an over-long compile can be killed and its memory capped).
    #[command(hide = true)]
    CompileWorker {
        /// Address-space cap in MiB.
        #[arg(long)]
        memory_mib: u64,
    },
    /// Build the skill in DIR and run the cases in DIR/skill-tests.toml.
    Test {
        /// Skill crate directory.
        dir: PathBuf,
    },
    /// List the order proposals skills made (pending, confirmed, declined, expired).
    Orders {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Confirm a pending order proposal (only the customer can).
    Confirm {
        /// Proposal id from `emma skill orders`.
        id: String,
    },
    /// Decline a pending order proposal.
    Decline {
        /// Proposal id from `emma skill orders`.
        id: String,
    },
}

/// Runs `emma skill`.
pub fn run(args: SkillArgs) -> anyhow::Result<()> {
    let home_dir = crate::home::emma_home().join("skills");
    match args.what {
        SkillCommand::New { name } => new(&name),
        SkillCommand::Build { dir } => {
            let b = build(&home_dir, &dir)?;
            let out = bundle_path(&dir, &b)?;
            std::fs::write(&out, b.to_bytes(None))
                .with_context(|| format!("writing {}", out.display()))?;
            eprintln!(
                "built unsigned dev bundle {} {} (sign it with `emma skill sign`)",
                b.manifest.id, b.manifest.version
            );
            println!("{}", out.display());
            Ok(())
        }
        SkillCommand::Keygen { file } => keygen(&file),
        SkillCommand::Trust { pubkey } => {
            let text = if Path::new(&pubkey).exists() {
                std::fs::read_to_string(&pubkey).with_context(|| format!("reading {pubkey}"))?
            } else {
                pubkey.clone()
            };
            let key = bundle::parse_public_key(&text, &pubkey)?;
            let path = SkillHome::open(&home_dir)?.trust(&key)?;
            println!("trusted {} ({})", bundle::key_hex(&key), path.display());
            Ok(())
        }
        SkillCommand::Sign { dir, key } => {
            let text = std::fs::read_to_string(&key)
                .with_context(|| format!("reading {}", key.display()))?;
            let sk = bundle::parse_secret_key(&text, &key.display().to_string())?;
            let (b, out) = if dir.is_file() {
                (Bundle::read(&dir)?, dir.clone())
            } else {
                let b = build(&home_dir, &dir)?;
                let out = bundle_path(&dir, &b)?;
                (b, out)
            };
            std::fs::write(&out, b.to_bytes(Some(&sk)))
                .with_context(|| format!("writing {}", out.display()))?;
            eprintln!(
                "signed {} {} with {}",
                b.manifest.id,
                b.manifest.version,
                bundle::key_hex(&sk.verifying_key())
            );
            println!("{}", out.display());
            Ok(())
        }
        SkillCommand::Inspect { bundle, json } => inspect(&home_dir, &bundle, json),
        SkillCommand::Install {
            bundle,
            grants,
            dev,
            customer,
        } => {
            let home = SkillHome::open(&home_dir)?;
            let runtime = SkillRuntime::new(runtime_config(&home))?;
            let grants = parse_grants(&grants)?;
            // A skill whose intents or sentences would shadow a built-in or another
            // skill's intent is refused, unless its manifest declares the overlap.
            let shadows = emma_core::assistant::check_install(&home, &Bundle::read(&bundle)?)?;
            let spinner = spinner("verifying and compiling");
            let installed = home.install(&runtime, &bundle, &customer, &grants, dev);
            spinner.finish_and_clear();
            let installed = installed?;
            let m = &installed.bundle.manifest;
            println!(
                "installed {} {} from {} ({})",
                m.id,
                m.version,
                m.publisher,
                trust_text(&installed.trust)
            );
            let granted: Vec<String> = grants.iter().map(ToString::to_string).collect();
            let missing: Vec<String> = m
                .permissions
                .iter()
                .filter(|p| !grants.iter().any(|g| p.covers(g)))
                .map(ToString::to_string)
                .collect();
            println!(
                "granted: {}",
                if granted.is_empty() {
                    "nothing".into()
                } else {
                    granted.join(", ")
                }
            );
            if !missing.is_empty() {
                println!(
                    "not granted (calls needing them will be denied): {}",
                    missing.join(", ")
                );
            }
            for s in &shadows {
                println!(
                    "takes sentences of {} {} (declared under `shadows`), e.g. \"{}\"",
                    shown(&s.owner),
                    shown(&s.shadowed),
                    shown(&s.sentence)
                );
            }
            Ok(())
        }
        SkillCommand::List { json } => {
            let home = SkillHome::open(&home_dir)?;
            let skills = home.list()?;
            if json {
                let v: Vec<_> = skills
                    .iter()
                    .map(|s| {
                        let m = &s.bundle.manifest;
                        serde_json::json!({"id": m.id, "version": m.version, "publisher": m.publisher, "trust": trust_text(&s.trust)})
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else if skills.is_empty() {
                println!("no skills installed");
            } else {
                for s in skills {
                    let m = &s.bundle.manifest;
                    println!(
                        "{} {}  {}  ({})",
                        m.id,
                        m.version,
                        m.publisher,
                        trust_text(&s.trust)
                    );
                }
            }
            Ok(())
        }
        SkillCommand::Revoke { id, perm, customer } => {
            let home = SkillHome::open(&home_dir)?;
            let perm = perm.map(|p| p.parse::<Permission>()).transpose()?;
            let n = home.revoke(&id, &customer, perm.as_ref())?;
            println!("revoked {n} grant(s) from {id}");
            Ok(())
        }
        SkillCommand::Remove {
            id,
            erase,
            customer,
        } => {
            let home = SkillHome::open(&home_dir)?;
            home.remove(&id, &customer, erase)?;
            println!(
                "removed {id}{}",
                if erase { " and erased its data" } else { "" }
            );
            Ok(())
        }
        SkillCommand::Run {
            bundle,
            intent,
            event,
            slots,
            lang,
            grants,
            devices,
            dev,
            json,
        } => {
            let home = SkillHome::open(&home_dir)?;
            let (b, trust) = home.verify(&bundle, dev)?;
            if trust == Trust::Dev {
                eprintln!(
                    "warning: running {} in dev mode (not signed by a trusted key)",
                    b.manifest.id
                );
            }
            let grants = parse_grants(&grants)?;
            emma_skill_host::home::check_grants(&b.manifest.id, &b.manifest.permissions, &grants)?;
            let mut services = LocalServices::new();
            for d in &devices {
                let (id, state) = d
                    .split_once('=')
                    .with_context(|| format!("--device `{d}`: expected id=state"))?;
                services = services.with_device(id, state);
            }
            let runtime = SkillRuntime::new(runtime_config(&home))?;
            let compiled = runtime.compile(&b.component)?;
            let mut skill = runtime.load(
                &compiled,
                &b.manifest,
                emma_skill_host::PermissionSet::new(grants),
                home.db().clone(),
                Arc::new(services),
            )?;
            if let Some(intent) = intent {
                let mut req = Request::new(intent, lang);
                for s in &slots {
                    let (k, v) = s
                        .split_once('=')
                        .with_context(|| format!("--slot `{s}`: expected name=value"))?;
                    req = req.slot(k, v);
                }
                print_outcome(&skill.handle_intent(&req)?, json)
            } else {
                let ev = event.expect("clap requires intent or event");
                let ev = skill_tests::parse_event(&ev).map_err(|e| anyhow::anyhow!("--{e}"))?;
                let outcome = skill
                    .handle_event(&ev)?
                    .map(|r| r.unwrap_or_else(silent_reply));
                print_outcome(&outcome, json)
            }
        }
        SkillCommand::Test { dir } => test(&home_dir, &dir),
        SkillCommand::CompileWorker { memory_mib } => emma_skill_host::compile_worker::serve(
            &emma_skill_host::RuntimeConfig::default(),
            memory_mib,
        ),
        SkillCommand::Orders { json } => orders(&home_dir, json),
        SkillCommand::Confirm { id } => {
            let p = SkillHome::open(&home_dir)?.confirm(&id)?;
            println!(
                "confirmed order {} from {}: {}",
                p.id,
                shown(&p.skill),
                order_lines(&p)
            );
            Ok(())
        }
        SkillCommand::Decline { id } => {
            let p = SkillHome::open(&home_dir)?.decline(&id)?;
            println!("declined order {} from {}", p.id, shown(&p.skill));
            Ok(())
        }
    }
}

/// Order lines for a person: quantities, descriptions and skus as text only
/// (the skill wrote them; see [`shown`]).
fn order_lines(p: &emma_skill_host::Proposal) -> String {
    p.lines
        .iter()
        .map(|l| {
            format!(
                "{} x {} ({})",
                l.quantity,
                shown(&l.description),
                shown(&l.sku)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Text a skill or remote party wrote, safe to print: escape sequences,
/// controls and bidi characters removed, one line, capped. The host already
/// sanitises what skills produce; this also covers older stored data.
fn shown(text: &str) -> String {
    emma_untrusted::line(text, emma_untrusted::LINE_CHARS)
}

/// Like [`shown`], for longer text that may keep its line breaks.
fn shown_text(text: &str) -> String {
    emma_untrusted::text(text, emma_untrusted::TEXT_CHARS)
}

fn orders(home_dir: &Path, json: bool) -> anyhow::Result<()> {
    let proposals = SkillHome::open(home_dir)?.orders()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&proposals)?);
    } else if proposals.is_empty() {
        println!("no order proposals");
    } else {
        for p in &proposals {
            let note = if p.note.is_empty() {
                String::new()
            } else {
                format!("  \"{}\"", shown(&p.note))
            };
            println!(
                "{:>4}  {:<9}  {}  {}{note}",
                p.id,
                p.state,
                shown(&p.skill),
                order_lines(p)
            );
        }
        let pending = proposals
            .iter()
            .filter(|p| p.state == emma_skill_host::ProposalState::Pending)
            .count();
        if pending > 0 {
            println!("{pending} pending: `emma skill confirm ID` or `emma skill decline ID`");
        }
    }
    Ok(())
}

fn silent_reply() -> Reply {
    Reply {
        speech: String::new(),
        card: None,
        data: None,
        follow_up: None,
        actions: vec![],
        handoff: None,
    }
}

/// The home's runtime settings, compiling in a child `emma skill compile-worker`
/// process (killed at the deadline, memory capped) when this binary can be found.
fn runtime_config(home: &SkillHome) -> emma_skill_host::RuntimeConfig {
    let mut cfg = home.runtime_config();
    if let Ok(exe) = std::env::current_exe() {
        cfg.compile_worker = Some(emma_skill_host::CompileWorker {
            program: exe,
            args: vec!["skill".into(), "compile-worker".into()],
        });
    }
    cfg
}

fn spinner(msg: &str) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}

fn trust_text(t: &Trust) -> String {
    match t {
        Trust::Trusted(k) => format!("signed by trusted key {}", &k[..16]),
        Trust::Dev => "DEV MODE: not signed by a trusted key".into(),
    }
}

fn parse_grants(grants: &[String]) -> anyhow::Result<Vec<Permission>> {
    grants
        .iter()
        .map(|g| {
            g.parse::<Permission>()
                .with_context(|| format!("--grant `{g}`"))
        })
        .collect()
}

fn build(home_dir: &Path, dir: &Path) -> anyhow::Result<Bundle> {
    let target = home_dir.join("build-target");
    let pb = spinner(&format!("building {} for wasm32", dir.display()));
    let b = guest_build::build_bundle(dir, &target);
    pb.finish_and_clear();
    Ok(b?)
}

fn bundle_path(dir: &Path, b: &Bundle) -> anyhow::Result<PathBuf> {
    let dir = std::fs::canonicalize(dir).with_context(|| format!("resolving {}", dir.display()))?;
    Ok(dir.join(format!(
        "{}-{}.emmaskill",
        b.manifest.id, b.manifest.version
    )))
}

fn keygen(file: &Path) -> anyhow::Result<()> {
    if file.exists() {
        bail!(
            "{} already exists; pick another path or delete it first",
            file.display()
        );
    }
    let key = bundle::generate_key()?;
    write_private(file, &bundle::secret_key_text(&key))?;
    let pub_path = PathBuf::from(format!("{}.pub", file.display()));
    std::fs::write(&pub_path, bundle::public_key_text(&key.verifying_key()))
        .with_context(|| format!("writing {}", pub_path.display()))?;
    eprintln!(
        "secret key: {} (keep it private)\npublic key: {}",
        file.display(),
        pub_path.display()
    );
    println!("{}", bundle::key_hex(&key.verifying_key()));
    Ok(())
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn inspect(home_dir: &Path, path: &Path, json: bool) -> anyhow::Result<()> {
    let b = Bundle::read(path)?;
    let home = SkillHome::open(home_dir)?;
    let trusted = b.signer.is_some_and(|k| {
        home.trusted_keys()
            .map(|ks| ks.contains(&k))
            .unwrap_or(false)
    });
    let m = &b.manifest;
    let signer = b.signer.map(|k| bundle::key_hex(&k));
    let perms: Vec<String> = m.permissions.iter().map(ToString::to_string).collect();
    let langs: Vec<&String> = b.intents.iter().map(|(l, _)| l).collect();
    if json {
        let v = serde_json::json!({
            "id": m.id, "version": m.version, "publisher": m.publisher, "description": m.description,
            "languages": m.languages, "intents": m.intents, "events": m.events, "permissions": perms,
            "limits": {"memory_mib": m.limits.memory_mib, "timeout_ms": m.limits.timeout_ms,
                       "store_kib": m.limits.store_kib, "reply_kib": m.limits.reply_kib},
            "component_bytes": b.component.len(), "component_sha256": b.component_digest(),
            "intent_templates": langs, "signer": signer, "trusted": trusted,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("{} {} by {}", m.id, m.version, m.publisher);
    if !m.description.is_empty() {
        println!("  {}", m.description);
    }
    println!("  languages:   {}", m.languages.join(", "));
    println!("  intents:     {}", m.intents.join(", "));
    println!(
        "  events:      {}",
        if m.events.is_empty() {
            "none".into()
        } else {
            m.events.join(", ")
        }
    );
    println!(
        "  permissions: {}",
        if perms.is_empty() {
            "none".into()
        } else {
            perms.join(", ")
        }
    );
    println!(
        "  limits:      {} MiB memory, {} ms per call, {} KiB store, {} KiB reply",
        m.limits.memory_mib, m.limits.timeout_ms, m.limits.store_kib, m.limits.reply_kib
    );
    println!(
        "  component:   {} bytes, sha256 {}",
        b.component.len(),
        b.component_digest()
    );
    println!(
        "  templates:   {}",
        langs
            .iter()
            .map(|l| l.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    match signer {
        Some(k) if trusted => println!("  signature:   valid, trusted key {k}"),
        Some(k) => {
            println!("  signature:   valid, but key {k} is NOT trusted (`emma skill trust` it)")
        }
        None => println!("  signature:   none (dev bundle; install needs --dev)"),
    }
    Ok(())
}

/// Prints what a call produced. Human output names the skill that speaks and
/// shows its text only through [`shown`]/[`shown_text`]; refused actions and
/// denials go to stderr so they cannot be mistaken for what happened.
fn print_outcome(outcome: &Outcome<Reply>, json: bool) -> anyhow::Result<()> {
    if json {
        let mut v = match &outcome.result {
            Ok(reply) => serde_json::to_value(reply)?,
            Err(e) => serde_json::json!({"error": e}),
        };
        v["skill"] = serde_json::to_value(&outcome.skill)?;
        v["effects"] = serde_json::to_value(&outcome.effects)?;
        v["denials"] = serde_json::to_value(&outcome.denials)?;
        v["refused_actions"] = serde_json::to_value(&outcome.refused_actions)?;
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let skill = shown(&outcome.skill);
    for d in &outcome.denials {
        eprintln!(
            "{skill}: denied {} ({})",
            shown(&d.permission),
            shown(&d.reason)
        );
    }
    for r in &outcome.refused_actions {
        eprintln!(
            "{skill}: refused action {} {} ({}); it was not carried out",
            shown(&r.action.device),
            shown(&r.action.command),
            shown(&r.reason)
        );
    }
    let reply = match &outcome.result {
        Ok(r) => r,
        Err(e) => bail!(
            "skill {skill} answered with an error: {}",
            shown(&e.to_string())
        ),
    };
    // One line: a line break in speech could pass off text as Emma's own output.
    println!(
        "{skill} says: {}",
        emma_untrusted::line(&reply.speech, emma_untrusted::TEXT_CHARS)
    );
    if let Some(card) = &reply.card {
        println!(
            "  [card] {}: {}",
            shown(&card.title),
            shown_text(&card.body)
        );
    }
    for a in &reply.actions {
        println!(
            "  [action] {} {}{}",
            shown(&a.device),
            shown(&a.command),
            a.value
                .as_deref()
                .map(|v| format!(" {}", shown(v)))
                .unwrap_or_default()
        );
    }
    if let Some(f) = &reply.follow_up {
        println!("  [expects answer] {}", shown(f));
    }
    if let Some(h) = &reply.handoff {
        println!(
            "  [handoff to a human] {}: {}",
            shown(&h.reason),
            shown_text(&h.summary)
        );
    }
    for e in &outcome.effects {
        // JSON escapes every control character, so the line stays plain text.
        println!("  [effect] {}", serde_json::to_string(e)?);
    }
    Ok(())
}

fn test(home_dir: &Path, dir: &Path) -> anyhow::Result<()> {
    let file = TestFile::read(&dir.join(skill_tests::FILE_NAME))?;
    let b = build(home_dir, dir)?;
    let runtime = SkillRuntime::new(runtime_config(&SkillHome::open(home_dir)?))?;
    let compiled = runtime.compile(&b.component)?;
    let report = skill_tests::run(
        &runtime,
        &compiled,
        &b,
        &file,
        &mut |case| match &case.failure {
            None => println!("ok   {}", case.name),
            Some(why) => println!("FAIL {}: {why}", case.name),
        },
    );
    println!("{} passed, {} failed", report.passed(), report.failed());
    if report.failed() > 0 {
        bail!("{} skill test case(s) failed", report.failed());
    }
    Ok(())
}

/// `emma skill new NAME`: the carried guest SDK is unpacked under the emma
/// home (once per API version), and the new crate depends on it there.
fn new(name: &str) -> anyhow::Result<()> {
    use emma_skill_host::scaffold;
    let sdk = scaffold::unpack_sdk(&crate::home::emma_home().join("sdk"))?;
    scaffold::new_skill(Path::new(name), name, &sdk)?;
    let id = scaffold::scaffold_id(name);
    println!(
        "created {name}/ (skill SDK {}: {}) — try:\n  emma skill keygen key.secret\n  emma skill trust key.secret.pub\n  emma skill sign {name} --key key.secret\n  emma skill run {name}/{id}-0.1.0.emmaskill --intent Hello",
        scaffold::SDK_API_VERSION,
        sdk.display()
    );
    Ok(())
}

/// Arguments of `emma bench skills`.
#[derive(Debug, Args)]
pub struct BenchSkillsArgs {
    /// Use this bundle's component for compile, cold-start and memory figures (default: built-in trivial skill).
    #[arg(long)]
    bundle: Option<PathBuf>,
    /// Skills to load for the memory figure.
    #[arg(long, default_value_t = 100)]
    skills: usize,
    /// Warm calls to time.
    #[arg(long, default_value_t = 20_000)]
    calls: usize,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

/// Runs `emma bench skills`.
pub fn bench(args: BenchSkillsArgs) -> anyhow::Result<()> {
    let scratch = tempfile_dir()?;
    let cfg = emma_skill_host::bench::BenchConfig {
        warm_calls: args.calls,
        skills: args.skills,
        scratch: scratch.clone(),
    };
    let pb = spinner("benchmarking skills");
    let result = emma_skill_host::bench::run(&cfg, args.bundle.as_deref(), |stage| {
        pb.set_message(stage.to_string())
    });
    pb.finish_and_clear();
    let _ = std::fs::remove_dir_all(&scratch);
    let metrics = result?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&metrics)?);
        return Ok(());
    }
    for m in &metrics {
        let verdict = if m.meets_target { "ok" } else { "MISSED" };
        let baseline = match (&m.baseline_name, m.baseline) {
            (Some(name), Some(b)) if b > 0.0 => {
                format!("; {:.1}× {name} ({b:.3} {})", m.value / b, m.unit)
            }
            _ => String::new(),
        };
        println!(
            "{:<48} {:>10.3} {:<3} target ≤ {} {} [{verdict}, {:.2}× target{baseline}]",
            m.name,
            m.value,
            m.unit,
            m.target,
            m.unit,
            m.value / m.target
        );
    }
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("emma-bench-skills-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
