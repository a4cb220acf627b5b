//! A home with a canary value planted in every category and every store.

#![allow(dead_code)]

use emma_privacy::{Category, Layout, Privacy, Reason, Usage, seed};
use std::path::Path;

/// One canary per category/store: (what, bytes to look for).
pub struct Canaries {
    pub items: Vec<(&'static str, String)>,
}

impl Canaries {
    pub fn new(round: u32) -> Canaries {
        let c = |what: &str| format!("CNRY{what}R{round}Z");
        Canaries {
            items: vec![
                ("profile", c("profile")),
                ("transcripts", c("transcript")),
                ("audio", c("audioxx")),
                ("device-usage", c("usage")),
                ("touchpoints", c("touch")),
                ("orders", c("orders")),
                ("skill-stores", c("orders")), // kv values carry the skills tag too
                ("device-names", c("devnames")),
                ("outbox", c("devnames")),
            ],
        }
    }

    pub fn get(&self, what: &str) -> &str {
        &self.items.iter().find(|(w, _)| *w == what).unwrap().1
    }

    pub fn needles(&self) -> Vec<&[u8]> {
        self.items.iter().map(|(_, v)| v.as_bytes()).collect()
    }
}

/// Audio samples whose little-endian bytes spell `text` (even length).
pub fn samples_spelling(text: &str) -> Vec<i16> {
    let mut b = text.as_bytes().to_vec();
    if b.len() % 2 == 1 {
        b.push(b'_');
    }
    b.chunks(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
}

/// Installs fake skill bundles (consent only needs the file names) and cache files.
pub fn scaffold(dir: &Path) {
    let installed = dir.join("skills/installed");
    std::fs::create_dir_all(&installed).unwrap();
    for s in ["coffee", "parcel"] {
        std::fs::write(installed.join(format!("{s}.emmaskill")), b"bundle").unwrap();
    }
    std::fs::create_dir_all(dir.join("skills/cache")).unwrap();
    std::fs::write(dir.join("skills/cache/abc.cwasm"), vec![7u8; 4096]).unwrap();
    std::fs::create_dir_all(dir.join("models/vosk-model")).unwrap();
    std::fs::write(dir.join("models/vosk-model/final.mdl"), vec![9u8; 4096]).unwrap();
}

/// Plants every canary, with `filler` extra rows per store so erase takes a while.
pub fn plant(dir: &Path, c: &Canaries, filler: usize) {
    let layout = Layout::in_dir(dir);
    seed::skills(
        &layout,
        &["coffee", "parcel"],
        filler.max(1),
        c.get("orders"),
    )
    .unwrap();
    seed::devices(&layout, filler.max(1), c.get("device-names")).unwrap();
    let p = Privacy::open(layout).unwrap();
    let now = emma_privacy::now_ms();
    p.set_profile("name", c.get("profile"), Reason::customer(), now)
        .unwrap();
    {
        // Filler in one transaction (one fsync), so planting stays quick.
        let mut conn = rusqlite::Connection::open(&p.layout().customer).unwrap();
        let tx = conn.transaction().unwrap();
        for i in 0..filler.max(1) {
            tx.execute(
                "INSERT INTO transcripts (at_ms, text) VALUES (?1, ?2)",
                rusqlite::params![now as i64, format!("{} {i}", c.get("transcripts"))],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    p.record_transcript(c.get("transcripts"), Some("HassTurnOn"), now)
        .unwrap();
    p.grant("emma", &Category::Audio, "improve recognition", None, now)
        .unwrap();
    assert!(
        p.record_audio(&samples_spelling(c.get("audio")), 16_000, now)
            .unwrap()
    );
    p.record_usage(
        &Usage {
            at_ms: now,
            device: "light.l0".into(),
            action: "turn_on".into(),
            value: Some(c.get("device-usage").into()),
            by: "customer".into(),
        },
        Reason::intent("HassTurnOn"),
    )
    .unwrap();
    p.record_touchpoint("coffee", c.get("touchpoints"), now)
        .unwrap();
}

/// `PRAGMA integrity_check` of every database that exists.
pub fn integrity(dir: &Path) {
    for db in Layout::in_dir(dir).databases() {
        if db.is_file() {
            let conn = rusqlite::Connection::open(&db).unwrap();
            let r: String = conn
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .unwrap();
            assert_eq!(r, "ok", "{}", db.display());
        }
    }
}
