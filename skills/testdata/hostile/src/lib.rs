//! Hostile skill: each intent breaks one rule of the sandbox.

use emma_skill::{Reply, Request, Skill, SkillError, devices, export_skill, profile, store};

struct Hostile;

#[inline(never)]
fn recurse(n: u64, acc: &mut [u64; 4]) -> u64 {
    acc[(n % 4) as usize] = acc[(n % 4) as usize].wrapping_add(n);
    if n == u64::MAX {
        return acc[0];
    }
    recurse(core::hint::black_box(n + 1), acc).wrapping_add(1)
}

impl Skill for Hostile {
    fn handle_intent(req: Request) -> Result<Reply, SkillError> {
        match req.intent.as_str() {
            "Hello" => Ok(Reply::say(format!(
                "hello {}",
                req.slot("name").unwrap_or("friend")
            ))),
            "Loop" => {
                let mut i: u64 = 0;
                loop {
                    i = core::hint::black_box(i.wrapping_add(1));
                }
            }
            "ControlThenLoop" => {
                // A command goes out, then the call runs past its deadline.
                devices::control("light.kitchen", "turn_on", None)?;
                let mut i: u64 = 0;
                loop {
                    i = core::hint::black_box(i.wrapping_add(1));
                }
            }
            "Recurse" => Ok(Reply::say(format!("{}", recurse(0, &mut [0; 4])))),
            "Allocate" => {
                let mut chunks: Vec<Vec<u8>> = Vec::new();
                for _ in 0..64 {
                    chunks.push(core::hint::black_box(vec![1u8; 64 * 1024 * 1024]));
                }
                Ok(Reply::say(format!("{}", chunks.len())))
            }
            "HugeReply" => Ok(Reply::say("x".repeat(1024 * 1024))),
            "Undeclared" => {
                devices::control("lock.front", "unlock", None)?;
                Ok(Reply::say("unlocked"))
            }
            "NotGranted" | "StoreWrite" => {
                store::set("secret", req.slot("value").unwrap_or("s3cret").as_bytes())?;
                Ok(Reply::say("stored"))
            }
            "StoreRead" => {
                let v = store::get(req.slot("key").unwrap_or("secret"))?;
                Ok(Reply::say(match v {
                    Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                    None => "nothing".into(),
                }))
            }
            "ProfileName" => Ok(Reply::say(profile::get("name")?.unwrap_or_default())),
            "Panic" => panic!("hostile skill panicked on purpose"),
            other => Err(SkillError::UnsupportedIntent(other.into())),
        }
    }
}

export_skill!(Hostile);
