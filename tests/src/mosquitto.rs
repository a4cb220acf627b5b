//! A real `mosquitto` broker for tests: started on a free loopback port,
//! killed with SIGKILL (`kill -9`) and restarted on the same port on demand.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A mosquitto process owned by a test; killed when dropped.
pub struct Mosquitto {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

/// Where Debian installs the broker.
pub fn mosquitto_binary() -> Option<PathBuf> {
    [
        "/usr/sbin/mosquitto",
        "/usr/bin/mosquitto",
        "/usr/local/sbin/mosquitto",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Mosquitto {
    /// Starts mosquitto on a free loopback port (no persistence, anonymous, unlimited queues).
    pub fn start() -> anyhow::Result<Mosquitto> {
        let dir = tempfile::tempdir()?;
        let mut m = Mosquitto {
            child: None,
            port: free_port(),
            dir,
        };
        m.spawn()?;
        Ok(m)
    }

    /// Starts mosquitto on the given loopback port.
    pub fn start_on(port: u16) -> anyhow::Result<Mosquitto> {
        let dir = tempfile::tempdir()?;
        let mut m = Mosquitto {
            child: None,
            port,
            dir,
        };
        m.spawn()?;
        Ok(m)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let bin = mosquitto_binary().context("mosquitto is not installed; run scripts/setup")?;
        let conf = self.dir.path().join("mosquitto.conf");
        let mut f = std::fs::File::create(&conf)?;
        writeln!(f, "listener {} 127.0.0.1", self.port)?;
        writeln!(f, "allow_anonymous true")?;
        writeln!(f, "persistence false")?;
        writeln!(f, "max_queued_messages 0")?;
        writeln!(f, "max_inflight_messages 0")?;
        writeln!(f, "log_dest stderr")?;
        writeln!(f, "log_type error")?;
        drop(f);
        let child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start mosquitto")?;
        self.child = Some(child);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                bail!("mosquitto on port {} exited at start: {status}", self.port);
            }
            if Instant::now() > deadline {
                bail!(
                    "mosquitto on port {} did not accept connections within 10 s",
                    self.port
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// The port it listens on (kept across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `mqtt://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// `kill -9`: the broker dies at once, losing every session and queued message.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill(); // SIGKILL on Unix
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (after [`Mosquitto::kill9`]).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill9();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.spawn() {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() < deadline => {
                    tracing_free_log(&e);
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

fn tracing_free_log(e: &anyhow::Error) {
    eprintln!("mosquitto restart: {e:#}; retrying");
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.kill9();
    }
}
