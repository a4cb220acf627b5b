#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = emma_devices::bench::BenchConfig {
        events: 20_000,
        commands: 300,
        devices: 1000,
        dir: dir.path().to_path_buf(),
    };
    let r = emma_devices::bench::run(&cfg, |p| eprintln!("phase: {p}"))
        .await
        .unwrap();
    println!("{}", serde_json::to_string_pretty(&r).unwrap());
}
