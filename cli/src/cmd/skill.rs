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
            let runtime = SkillRuntime::new(home.runtime_config())?;
            let grants = parse_grants(&grants)?;
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
            let runtime = SkillRuntime::new(home.runtime_config())?;
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
                let outcome = skill.handle_event(&ev)?;
                let outcome = Outcome {
                    result: outcome.result.map(|r| r.unwrap_or_else(silent_reply)),
                    effects: outcome.effects,
                    denials: outcome.denials,
                };
                print_outcome(&outcome, json)
            }
        }
        SkillCommand::Test { dir } => test(&home_dir, &dir),
        SkillCommand::Orders { json } => orders(&home_dir, json),
        SkillCommand::Confirm { id } => {
            let p = SkillHome::open(&home_dir)?.confirm(&id)?;
            println!(
                "confirmed order {} from {}: {}",
                p.id,
                p.skill,
                order_lines(&p)
            );
            Ok(())
        }
        SkillCommand::Decline { id } => {
            let p = SkillHome::open(&home_dir)?.decline(&id)?;
            println!("declined order {} from {}", p.id, p.skill);
            Ok(())
        }
    }
}

fn order_lines(p: &emma_skill_host::Proposal) -> String {
    p.lines
        .iter()
        .map(|l| format!("{} x {} ({})", l.quantity, l.description, l.sku))
        .collect::<Vec<_>>()
        .join(", ")
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
                format!("  \"{}\"", p.note)
            };
            println!(
                "{:>4}  {:<9}  {}  {}{note}",
                p.id,
                p.state,
                p.skill,
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

fn print_outcome(outcome: &Outcome<Reply>, json: bool) -> anyhow::Result<()> {
    if json {
        let mut v = match &outcome.result {
            Ok(reply) => serde_json::to_value(reply)?,
            Err(e) => serde_json::json!({"error": e}),
        };
        v["effects"] = serde_json::to_value(&outcome.effects)?;
        v["denials"] = serde_json::to_value(&outcome.denials)?;
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    for d in &outcome.denials {
        eprintln!("denied: {} ({})", d.permission, d.reason);
    }
    let reply = match &outcome.result {
        Ok(r) => r,
        Err(e) => bail!("the skill answered with an error: {e}"),
    };
    println!("{}", reply.speech);
    if let Some(card) = &reply.card {
        println!("[card] {}: {}", card.title, card.body);
    }
    for a in &reply.actions {
        println!(
            "[action] {} {}{}",
            a.device,
            a.command,
            a.value
                .as_deref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default()
        );
    }
    if let Some(f) = &reply.follow_up {
        println!("[expects answer] {f}");
    }
    if let Some(h) = &reply.handoff {
        println!("[handoff to a human] {}: {}", h.reason, h.summary);
    }
    for e in &outcome.effects {
        println!("[effect] {}", serde_json::to_string(e)?);
    }
    Ok(())
}

fn test(home_dir: &Path, dir: &Path) -> anyhow::Result<()> {
    let file = TestFile::read(&dir.join(skill_tests::FILE_NAME))?;
    let b = build(home_dir, dir)?;
    let runtime = SkillRuntime::new(SkillHome::open(home_dir)?.runtime_config())?;
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

fn new(name: &str) -> anyhow::Result<()> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        bail!("skill name `{name}` must be lowercase letters, digits and `-`");
    }
    let dir = PathBuf::from(name);
    if dir.exists() {
        bail!("{} already exists; pick another name", dir.display());
    }
    let sdk = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../skills/sdk");
    let sdk = std::fs::canonicalize(&sdk).unwrap_or(sdk);
    let crate_name = format!("skill-{name}");
    let files: Vec<(&str, String)> = vec![
        ("Cargo.toml", format!(
            "[package]\nname = \"{crate_name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\nemma-skill = {{ path = \"{}\" }}\n\n[profile.release]\nopt-level = \"s\"\nstrip = true\npanic = \"abort\"\n\n[workspace]\n",
            sdk.display()
        )),
        ("skill.toml", format!(
            "id = \"dev.local.{}\"\nversion = \"0.1.0\"\npublisher = \"Me\"\ndescription = \"Says hello\"\nlanguages = [\"en\"]\nintents = [\"Hello\"]\npermissions = []\n\n[limits]\nmemory_mib = 16\ntimeout_ms = 500\n",
            name.replace('-', ".")
        )),
        ("src/lib.rs", SCAFFOLD_LIB.to_string()),
        ("intents/en.yaml", "language: en\nintents:\n  Hello:\n    data:\n      - sentences:\n          - \"hello\"\n          - \"hi\"\n".to_string()),
        ("skill-tests.toml", "[[case]]\nname = \"says hello\"\nintent = \"Hello\"\nspeech_contains = [\"hello\"]\n".to_string()),
        (".gitignore", "/target\n*.emmaskill\n".to_string()),
    ];
    for (rel, text) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    println!(
        "created {}/ — try:\n  emma skill keygen key.secret\n  emma skill trust key.secret.pub\n  emma skill sign {name} --key key.secret\n  emma skill run {name}/dev.local.{}-0.1.0.emmaskill --intent Hello",
        name,
        name.replace('-', ".")
    );
    Ok(())
}

const SCAFFOLD_LIB: &str = r#"//! A skill that says hello.

use emma_skill::{Reply, Request, Skill, SkillError, export_skill};

struct Hello;

impl Skill for Hello {
    fn handle_intent(req: Request) -> Result<Reply, SkillError> {
        match req.intent.as_str() {
            "Hello" => {
                let name = req.slot("name").unwrap_or("there");
                Ok(Reply::say(format!("Hello, {name}!")))
            }
            other => Err(SkillError::UnsupportedIntent(other.into())),
        }
    }
}

export_skill!(Hello);
"#;

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
