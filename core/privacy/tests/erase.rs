//! Erase is proved by scanning raw bytes: canaries planted in every category
//! and store are found before erase and nowhere after it — not in any
//! database, `-wal`, `-journal` or `-shm` file, nor in the caches — including
//! after erase is killed (SIGKILL) at random points and run again.

mod common;

use common::{Canaries, integrity, plant, scaffold};
use emma_privacy::{Layout, Privacy, now_ms, scan_for};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "EMMA_PRIVACY_ERASE_CHILD";

/// Not a test on its own: the child process the kill -9 test starts and kills.
#[test]
fn erase_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let p = Privacy::open_dir(PathBuf::from(dir)).unwrap();
    p.erase(now_ms()).unwrap();
}

fn hits(dir: &Path, c: &Canaries) -> Vec<String> {
    scan_for(&[dir.to_path_buf()], &c.needles())
        .unwrap()
        .into_iter()
        .map(|h| {
            format!(
                "{} in {} at {}",
                c.items[h.needle].0,
                h.path.display(),
                h.offset
            )
        })
        .collect()
}

#[test]
fn erase_leaves_no_canary_byte_in_any_file() {
    let dir = tempfile::tempdir().unwrap();
    scaffold(dir.path());
    let c = Canaries::new(0);
    plant(dir.path(), &c, 50);

    // The scan can fail: every canary is on disk before erase.
    let before = hits(dir.path(), &c);
    for (what, _) in &c.items {
        assert!(
            before.iter().any(|h| h.starts_with(what)),
            "{what} not planted: {before:?}"
        );
    }
    // The ledger names categories, never values.
    let ledger = scan_for(&[Layout::in_dir(dir.path()).ledger], &c.needles()).unwrap();
    assert!(ledger.is_empty(), "ledger holds values: {ledger:?}");

    let p = Privacy::open_dir(dir.path()).unwrap();
    let report = p.erase(now_ms()).unwrap();
    assert!(report.rows() > 300, "{report:?}");
    drop(p);
    let after = hits(dir.path(), &c);
    assert!(after.is_empty(), "canaries left after erase: {after:#?}");
    integrity(dir.path());

    // Consents survive erase and the ledger records it, intact.
    let p = Privacy::open_dir(dir.path()).unwrap();
    assert_eq!(p.customer().consents(None).unwrap().len(), 1);
    let last = p
        .ledger()
        .entries(&Default::default())
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(
        (last.action.as_str(), last.party.as_str()),
        ("erase", "customer")
    );
    assert!(matches!(
        p.ledger().verify().unwrap(),
        emma_privacy::Verification::Intact { .. }
    ));
    // A second erase is harmless.
    p.erase(now_ms()).unwrap();
}

/// A small xorshift generator: the test prints its seed so a failure can be replayed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn kill_9_during_erase_then_erase_again_leaves_nothing_and_no_corruption() {
    let seed = std::env::var("EMMA_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| now_ms() | 1);
    eprintln!("seed {seed} (set EMMA_TEST_SEED to replay)");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    scaffold(dir.path());
    let exe = std::env::current_exe().unwrap();

    // How long one child erase takes, start to exit, on this machine: the
    // fastest of three, as the first run pays for a cold page cache (a 33 ms
    // first run followed by erases done in under 16 ms left no kill landing
    // in time on a loaded machine).
    let mut full = Duration::MAX;
    for i in 0..3 {
        plant(dir.path(), &Canaries::new(90 + i), 400);
        let t = Instant::now();
        let st = Command::new(&exe)
            .args(["--exact", "erase_child", "--test-threads=1", "--quiet"])
            .env(CHILD_ENV, dir.path())
            .status()
            .unwrap();
        assert!(st.success());
        full = full.min(t.elapsed());
    }
    eprintln!("one erase in a child process: {full:?} (fastest of 3)");

    let rounds = 8;
    let mut interrupted = 0;
    let mut left_by_kill = 0;
    for round in 0..rounds {
        let c = Canaries::new(round);
        plant(dir.path(), &c, 400);
        let delay = Duration::from_micros(rng.next() % (full.as_micros() as u64).max(1));
        let mut child = Command::new(&exe)
            .args(["--exact", "erase_child", "--test-threads=1", "--quiet"])
            .env(CHILD_ENV, dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        if !status.success() {
            interrupted += 1;
        }
        let survivors = hits(dir.path(), &c).len();
        if survivors > 0 {
            left_by_kill += 1;
        }
        eprintln!(
            "round {round}: killed after {delay:?}: {status}; {survivors} canary hits before the second erase"
        );
        // A crash never corrupts a database …
        integrity(dir.path());
        // … and a second erase removes everything.
        let p = Privacy::open_dir(dir.path()).unwrap();
        p.erase(now_ms()).unwrap();
        drop(p);
        let left = hits(dir.path(), &c);
        assert!(left.is_empty(), "round {round} (seed {seed}): {left:#?}");
        integrity(dir.path());
    }
    assert!(interrupted > 0, "no erase was interrupted (seed {seed})");
    eprintln!(
        "{interrupted} of {rounds} erases killed; {left_by_kill} left canaries the second erase removed"
    );
    let p = Privacy::open_dir(dir.path()).unwrap();
    assert!(matches!(
        p.ledger().verify().unwrap(),
        emma_privacy::Verification::Intact { .. }
    ));
}

#[test]
fn expired_transcripts_leave_no_byte_behind() {
    let dir = tempfile::tempdir().unwrap();
    let p = Privacy::open_dir(dir.path()).unwrap();
    let now = now_ms();
    let day = 86_400_000;
    p.customer()
        .add_transcript("CNRYexpiredZ old words", None, now - 31 * day)
        .unwrap();
    p.customer()
        .add_transcript("CNRYkeptZ recent words", None, now - day)
        .unwrap();
    let needles: &[&[u8]] = &[b"CNRYexpiredZ", b"CNRYkeptZ"];
    let root = [dir.path().to_path_buf()];
    assert!(scan_for(&root, needles).unwrap().len() >= 2);
    let expired = p.expire(now).unwrap();
    assert_eq!(expired.removed.get("transcripts"), Some(&1));
    let hits = scan_for(&root, needles).unwrap();
    assert!(
        hits.iter().all(|h| h.needle == 1),
        "expired bytes remain: {hits:?}"
    );
    assert!(!hits.is_empty(), "the kept transcript is still there");
    assert_eq!(p.customer().transcripts().unwrap().len(), 1);
}
