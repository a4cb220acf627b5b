//! chromedriver driving headless Chromium, for the tests where an agent works in the desk's page
//! (the same setup as `core/desk/tests/support`: Debian's `chromium` and `chromium-driver`).

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// chromedriver on a free loopback port, with a fresh Chromium profile; killed when dropped.
pub struct ChromeDriver {
    child: Child,
    port: u16,
    profile: tempfile::TempDir,
}

fn find(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

impl ChromeDriver {
    /// Starts chromedriver and waits until it accepts connections.
    pub fn start() -> anyhow::Result<ChromeDriver> {
        let bin = find(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"])
            .context("chromedriver is not installed (Debian chromium-driver); run scripts/setup")?;
        let port = emma_tests::mosquitto::free_port();
        let mut child = Command::new(bin)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start chromedriver")?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
            if let Some(status) = child.try_wait()? {
                bail!("chromedriver exited at start: {status}");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("chromedriver did not accept connections within 20 s");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Ok(ChromeDriver {
            child,
            port,
            profile: tempfile::tempdir()?,
        })
    }

    /// A WebDriver session in a new headless Chromium.
    pub async fn browser(&self) -> anyhow::Result<fantoccini::Client> {
        let chromium = find(&["/usr/bin/chromium", "/usr/lib/chromium/chromium"])
            .context("chromium is not installed (Debian chromium); run scripts/setup")?;
        let args = [
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-first-run".into(),
            format!("--user-data-dir={}", self.profile.path().display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "binary": chromium, "args": args }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        fantoccini::ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .context("cannot open a WebDriver session")
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
