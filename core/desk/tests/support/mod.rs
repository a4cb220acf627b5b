//! Real parts for the desk's tests: mosquitto, PostgreSQL (initdb + postgres on a free loopback port in a
//! temporary directory) and chromedriver with headless Chromium. Each is killed when dropped.
#![allow(dead_code)]

pub mod fixtures;

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn wait_for_port(port: u16, child: &mut Child, what: &str, within: Duration) -> anyhow::Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + within;
    while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
        if let Some(status) = child.try_wait()? {
            bail!("{what} on port {port} exited at start: {status}");
        }
        if Instant::now() > deadline {
            bail!("{what} on port {port} did not accept connections within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Ok(())
}

fn find(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

/// A mosquitto broker on a free loopback port.
pub struct Mosquitto {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    /// Starts it (anonymous, no persistence, unlimited queues).
    pub fn start() -> anyhow::Result<Mosquitto> {
        let bin = find(&[
            "/usr/sbin/mosquitto",
            "/usr/bin/mosquitto",
            "/usr/local/sbin/mosquitto",
        ])
        .context("mosquitto is not installed; run scripts/setup")?;
        let dir = tempfile::tempdir()?;
        let port = free_port();
        let conf = dir.path().join("mosquitto.conf");
        let mut f = std::fs::File::create(&conf)?;
        writeln!(f, "listener {port} 127.0.0.1")?;
        writeln!(f, "allow_anonymous true")?;
        writeln!(f, "persistence false")?;
        writeln!(f, "max_queued_messages 0")?;
        writeln!(f, "max_inflight_messages 0")?;
        writeln!(f, "log_dest stderr")?;
        writeln!(f, "log_type error")?;
        drop(f);
        let mut child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start mosquitto")?;
        wait_for_port(port, &mut child, "mosquitto", Duration::from_secs(10))?;
        Ok(Mosquitto {
            child,
            port,
            _dir: dir,
        })
    }

    /// `mqtt://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Debian's PostgreSQL binaries (`/usr/lib/postgresql/VERSION/bin`), newest version first.
fn postgres_bin() -> anyhow::Result<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL is not installed (/usr/lib/postgresql); run scripts/setup")?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop()
        .map(|(_, p)| p)
        .context("no /usr/lib/postgresql/*/bin/initdb; run scripts/setup")
}

/// A PostgreSQL server in a temporary directory on a free loopback port, trusting local connections.
/// PostgreSQL refuses to run as root: then it runs as the `postgres` user (created by Debian's package).
pub struct Postgres {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

fn as_db_user(bin: &Path, root: bool) -> Command {
    if root {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--clear-groups",
            "--",
        ])
        .arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

impl Postgres {
    /// initdb + postgres; waits until it accepts connections.
    pub fn start() -> anyhow::Result<Postgres> {
        let bin = postgres_bin()?;
        let dir = tempfile::Builder::new().prefix("emma-desk-pg").tempdir()?;
        let root = rustix_is_root();
        if root {
            let status = Command::new("chown")
                .arg("-R")
                .arg("postgres:postgres")
                .arg(dir.path())
                .status()?;
            if !status.success() {
                bail!("cannot chown {} to postgres", dir.path().display());
            }
        }
        let data = dir.path().join("data");
        let out = as_db_user(&bin.join("initdb"), root)
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "desk",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ])
            .stdin(Stdio::null())
            .output()
            .context("cannot run initdb")?;
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let port = free_port();
        let child = spawn_postgres(&bin, &data, dir.path(), port, root)?;
        Ok(Postgres { child, port, dir })
    }

    /// Stops the server at once (SIGQUIT: no clean shutdown, crash recovery at the next start) and starts it
    /// again on the same port and data.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        let bin = postgres_bin()?;
        let data = self.dir.path().join("data");
        self.child = spawn_postgres(&bin, &data, self.dir.path(), self.port, rustix_is_root())?;
        Ok(())
    }

    fn stop(&mut self) {
        // SIGQUIT: immediate shutdown of the postmaster and its children.
        let _ = Command::new("kill")
            .arg("-QUIT")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_postgres(
    bin: &Path,
    data: &Path,
    sockets: &Path,
    port: u16,
    root: bool,
) -> anyhow::Result<Child> {
    {
        let mut child = as_db_user(&bin.join("postgres"), root)
            .arg("-D")
            .arg(data)
            .arg("-p")
            .arg(port.to_string())
            .arg("-k")
            .arg(sockets)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=50",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start postgres")?;
        wait_for_port(port, &mut child, "postgres", Duration::from_secs(30))?;
        // Accepting TCP is not accepting queries: wait until recovery/startup is over.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = Command::new(bin.join("pg_isready"))
                .args([
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                    "-U",
                    "desk",
                ])
                .status()?;
            if ready.success() {
                break;
            }
            if Instant::now() > deadline {
                bail!("postgres on port {port} did not become ready within 30 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(child)
    }
}

impl Postgres {
    /// `postgres://desk@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://desk@127.0.0.1:{}/postgres", self.port)
    }

    /// Creates another database on this server and returns its URL.
    pub fn database(&self, name: &str) -> anyhow::Result<String> {
        let bin = postgres_bin()?;
        let out = Command::new(bin.join("createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "desk",
                name,
            ])
            .output()?;
        if !out.status.success() {
            bail!("createdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(format!("postgres://desk@127.0.0.1:{}/{name}", self.port))
    }
}

fn rustix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// chromedriver on a free loopback port, driving headless Chromium with a fresh profile.
pub struct ChromeDriver {
    child: Child,
    port: u16,
    profile: tempfile::TempDir,
}

impl ChromeDriver {
    /// Starts chromedriver.
    pub fn start() -> anyhow::Result<ChromeDriver> {
        let bin = find(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"])
            .context("chromedriver is not installed (Debian chromium-driver); run scripts/setup")?;
        let port = free_port();
        let mut child = Command::new(bin)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start chromedriver")?;
        wait_for_port(port, &mut child, "chromedriver", Duration::from_secs(20))?;
        Ok(ChromeDriver {
            child,
            port,
            profile: tempfile::tempdir()?,
        })
    }

    /// A WebDriver session in a new headless Chromium.
    pub async fn browser(&self) -> anyhow::Result<fantoccini::Client> {
        let mut caps = serde_json::Map::new();
        let mut args = vec![
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
        if let Some(chromium) = find(&["/usr/bin/chromium", "/usr/lib/chromium/chromium"]) {
            caps.insert(
                "goog:chromeOptions".into(),
                serde_json::json!({ "binary": chromium, "args": args }),
            );
        } else {
            args.clear();
            bail!("chromium is not installed (Debian chromium); run scripts/setup");
        }
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = fantoccini::ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .context("cannot open a WebDriver session")?;
        Ok(client)
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A home's MQTT client for tests: publishes like a home, collects what arrives on its subscriptions.
pub struct Home {
    /// The client.
    pub client: rumqttc::AsyncClient,
    /// Publishes received (topic, payload).
    pub received: tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>,
    task: tokio::task::JoinHandle<()>,
}

impl Home {
    /// Connects as `id` and subscribes (QoS 1) to `topics`; returns once subscribed.
    pub async fn connect(port: u16, id: &str, topics: &[String]) -> anyhow::Result<Home> {
        use rumqttc::{Event, Packet, QoS};
        let mut o = rumqttc::MqttOptions::new(id, "127.0.0.1", port);
        o.set_max_packet_size(16 << 20, 16 << 20);
        o.set_keep_alive(Duration::from_secs(30));
        let (client, mut eventloop) = rumqttc::AsyncClient::new(o, 100_000);
        let (tx, received) = tokio::sync::mpsc::unbounded_channel();
        let (ready_tx, ready) = tokio::sync::oneshot::channel();
        let mut ready_tx = Some(ready_tx);
        let want = topics.len();
        let mut acked = 0;
        for t in topics {
            client.subscribe(t.clone(), QoS::AtLeastOnce).await?;
        }
        if want == 0 {
            let _ = ready_tx.take().map(|t| t.send(()));
        }
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = tx.send((p.topic.clone(), p.payload.to_vec()));
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        acked += 1;
                        if acked >= want {
                            let _ = ready_tx.take().map(|t| t.send(()));
                        }
                    }
                    Ok(Event::Incoming(Packet::ConnAck(_))) if want == 0 => {
                        let _ = ready_tx.take().map(|t| t.send(()));
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), ready)
            .await
            .context("home did not connect within 10 s")??;
        Ok(Home {
            client,
            received,
            task,
        })
    }

    /// Publishes QoS 1.
    pub async fn publish(&self, topic: &str, payload: Vec<u8>) -> anyhow::Result<()> {
        self.client
            .publish(topic, rumqttc::QoS::AtLeastOnce, false, payload)
            .await?;
        Ok(())
    }

    /// The next message received, within `within`.
    pub async fn next(&mut self, within: Duration) -> anyhow::Result<(String, Vec<u8>)> {
        tokio::time::timeout(within, self.received.recv())
            .await
            .context("nothing received in time")?
            .context("home client stopped")
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Polls `check` every 20 ms until it returns `Some`, for at most `within`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("{what}: not within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Logs of the code under test to the test's output (`RUST_LOG` filters).
pub fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "emma_desk=info".into()),
        )
        .with_test_writer()
        .try_init();
}
