//! Run one intent against a skill bundle, the way a host embeds Emma skills.
//!
//! ```text
//! emma skill build skills/examples/lights        # prints the bundle path
//! cargo run -p emma-skill-host --example run_skill -- \
//!     skills/examples/lights/com.example.lights-0.1.0.emmaskill TurnOn area=kitchen
//! ```
//!
//! The bundle is accepted unsigned here (dev mode, as printed); every
//! permission the manifest declares is granted and a `light.kitchen` device
//! exists, so you can watch grants, effects and denials.

use emma_skill_host::{
    Bundle, LocalServices, PermissionSet, Request, RuntimeConfig, SkillDb, SkillRuntime,
};
use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(intent)) = (args.next(), args.next()) else {
        return Err("usage: run_skill BUNDLE INTENT [slot=value]...".into());
    };
    let bundle = Bundle::read(path.as_ref())?;
    let trust = bundle.check_trust(&[], true, &path)?;
    eprintln!(
        "{} {} ({trust:?})",
        bundle.manifest.id, bundle.manifest.version
    );

    let runtime = SkillRuntime::new(RuntimeConfig::default())?;
    let started = std::time::Instant::now();
    let compiled = runtime.compile(&bundle.component)?;
    eprintln!("compiled in {:?}", started.elapsed());

    let grants = PermissionSet::new(bundle.manifest.permissions.iter().cloned());
    let services = LocalServices::new()
        .with_device("light.kitchen", "off")
        .with_device("coffee.machine", "idle");
    let mut skill = runtime.load(
        &compiled,
        &bundle.manifest,
        grants,
        SkillDb::in_memory()?,
        Arc::new(services),
    )?;

    let mut request = Request::new(intent, "en");
    for arg in args {
        let (k, v) = arg.split_once('=').ok_or("slots are name=value")?;
        request = request.slot(k, v);
    }
    let outcome = skill.handle_intent(&request)?;
    println!("{}", serde_json::to_string_pretty(&outcome)?);
    Ok(())
}
