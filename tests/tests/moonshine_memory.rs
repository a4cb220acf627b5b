//! Moonshine's memory stays flat over many transcriptions.
//!
//! moonshine-cpp's libmoonshine 0.1.4, which Emma used to transcribe with,
//! leaked every decoder step's tensors (tens of MB a call), so an assistant
//! with agreement or open vocabulary on grew until the kernel killed it.
//! Emma now runs the model itself (`emma_speech::moonshine`), releasing
//! every tensor it or ONNX Runtime makes.
//! This is the only test in its binary: no other test's allocations move the
//! process's resident memory while it measures.
//!
//! Needs `scripts/setup` (the Moonshine model in `$EMMA_HOME`).

use emma_speech::moonshine::MoonshineModel;
use emma_speech::{ModelRegistry, synth};
use emma_tests::speech::emma_home;

/// This process's resident memory in MiB (`VmRSS`).
fn resident_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kib / 1024
}

/// Through libmoonshine the twelve calls below grew resident memory by
/// 1,355 MiB here (about 110 MiB a call for this 4 s sentence); now by a
/// few MiB. The bound, 100 MiB, leaves room for the allocator's own slack.
/// Every second call checks a draft, whose rejected caches are cut and
/// released too.
#[test]
fn repeated_transcriptions_keep_memory_flat() {
    let dir = ModelRegistry::new(emma_home().join("models"))
        .moonshine_english()
        .expect("the Moonshine model is installed (run scripts/setup)");
    let model = MoonshineModel::load(&dir).expect("the Moonshine model loads");
    let speech = synth::espeak(
        "please add oat milk and two bags of coffee beans to my shopping list",
        "en-us",
        150,
    )
    .unwrap()
    .samples;

    let first = model.transcribe(&speech).unwrap();
    assert!(
        first.to_lowercase().contains("shopping list"),
        "Moonshine heard the sentence: {first:?}"
    );
    for _ in 0..2 {
        model.transcribe(&speech).unwrap();
    }
    let settled = resident_mib();
    for call in 0..12 {
        let draft = if call % 2 == 0 {
            ""
        } else {
            "please add oat milk and two bags of tea"
        };
        let text = model.transcribe_with_draft(&speech, draft).unwrap();
        assert_eq!(text, first, "call {call}: the same audio, the same words");
    }
    let grown = resident_mib().saturating_sub(settled);
    eprintln!("grew {grown} MiB from {settled} MiB");
    assert!(
        grown < 100,
        "12 transcriptions grew resident memory by {grown} MiB (from {settled} MiB)"
    );
}
