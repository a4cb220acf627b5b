//! A Wyoming server: accepts connections on a [`ServerUri`] and gives each its
//! own [`Handler`] session.
//!
//! Every connection runs as its own task. A frame must arrive completely
//! within [`ServerOptions::idle_timeout`] (so idle or trickling clients are
//! closed and cost nothing afterwards), every reply must be written within
//! [`ServerOptions::write_timeout`], and at most
//! [`ServerOptions::max_connections`] sessions are open at once (others are
//! told the server is busy and closed). A framing error or an event type
//! outside the protocol closes that connection with a log line and, where the
//! transport still works, an `error` event; other connections never notice.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, BufReader};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::event::{Event, EventError};
use crate::frame::{FrameError, FrameReader, FrameWriter, Limits};
use crate::uri::ServerUri;

/// What a session wants after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep reading events.
    Continue,
    /// Close the connection.
    Close,
}

/// A request the session refused; sent to the client as an `error` event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({code})")]
pub struct HandlerError {
    /// Machine-readable code, e.g. `audio-before-start`.
    pub code: String,
    /// What was wrong and what to do instead.
    pub message: String,
    /// Close the connection after sending the error.
    pub close: bool,
}

impl HandlerError {
    /// Refuses one request; the connection stays open.
    pub fn refuse(code: impl Into<String>, message: impl Into<String>) -> Self {
        HandlerError {
            code: code.into(),
            message: message.into(),
            close: false,
        }
    }

    /// Refuses and closes the connection.
    pub fn fatal(code: impl Into<String>, message: impl Into<String>) -> Self {
        HandlerError {
            close: true,
            ..HandlerError::refuse(code, message)
        }
    }
}

/// Writes a session's events to its client (with the write timeout).
pub struct Responder {
    writer: FrameWriter<Box<dyn AsyncWrite + Send + Unpin>>,
    write_timeout: Duration,
    peer: String,
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responder")
            .field("peer", &self.peer)
            .finish()
    }
}

impl Responder {
    /// Sends one event; a client that does not read for the write timeout is an error.
    pub async fn send(&mut self, event: &Event) -> Result<(), FrameError> {
        let frame = event.to_frame();
        match tokio::time::timeout(self.write_timeout, self.writer.write_frame(&frame)).await {
            Ok(r) => r,
            Err(_) => Err(FrameError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("the client read nothing for {:?}", self.write_timeout),
            ))),
        }
    }

    /// Who is connected (`ADDR:PORT`, `unix` or `stdio`).
    pub fn peer(&self) -> &str {
        &self.peer
    }
}

/// One connection's session: receives that client's events in order.
pub trait Handler: Send + 'static {
    /// Handles one event, answering through `out`. An `Err` is sent as an
    /// `error` event (and closes the connection if [`HandlerError::close`]);
    /// an `Err` from `out.send` should be returned as [`HandlerError::fatal`].
    fn handle(
        &mut self,
        event: Event,
        out: &mut Responder,
    ) -> impl Future<Output = Result<Flow, HandlerError>> + Send;

    /// The connection ended (cleanly, by error, timeout or the client leaving
    /// mid-stream): release what the session holds.
    fn closed(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// Makes one [`Handler`] per connection.
pub trait HandlerFactory: Send + Sync + 'static {
    /// The session type.
    type Handler: Handler;
    /// A new session for the client `peer`.
    fn session(&self, peer: &str) -> Self::Handler;
}

/// Server settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerOptions {
    /// Frame size limits.
    pub limits: Limits,
    /// Longest wait for the next complete frame before closing the connection.
    pub idle_timeout: Duration,
    /// Longest wait for a client to take a reply.
    pub write_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
}

impl Default for ServerOptions {
    /// Default limits, 60 s idle and write timeouts, 256 connections.
    fn default() -> Self {
        ServerOptions {
            limits: Limits::default(),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(60),
            max_connections: 256,
        }
    }
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Cannot listen on the URI.
    #[error("cannot listen on {uri}: {reason}")]
    Bind {
        /// The URI.
        uri: String,
        /// Why.
        reason: String,
    },
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
    Stdio,
}

/// A bound Wyoming server.
pub struct Server {
    listener: Listener,
    uri: ServerUri,
    options: ServerOptions,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("uri", &self.uri).finish()
    }
}

impl Server {
    /// Listens on `uri`. A stale Unix socket file is replaced; any other file
    /// at that path is an error.
    pub async fn bind(uri: &ServerUri, options: ServerOptions) -> Result<Server, ServerError> {
        let bind_err = |reason: String| ServerError::Bind {
            uri: uri.to_string(),
            reason,
        };
        let (listener, uri) = match uri {
            ServerUri::Tcp { host, port } => {
                let l = TcpListener::bind((host.as_str(), *port))
                    .await
                    .map_err(|e| bind_err(e.to_string()))?;
                let port = l.local_addr().map_err(|e| bind_err(e.to_string()))?.port();
                let uri = ServerUri::Tcp {
                    host: host.clone(),
                    port,
                };
                (Listener::Tcp(l), uri)
            }
            ServerUri::Unix(path) => {
                use std::os::unix::fs::FileTypeExt;
                if let Ok(meta) = std::fs::symlink_metadata(path) {
                    if !meta.file_type().is_socket() {
                        return Err(bind_err(format!(
                            "{} exists and is not a socket",
                            path.display()
                        )));
                    }
                    if std::os::unix::net::UnixStream::connect(path).is_ok() {
                        return Err(bind_err(format!(
                            "another server is listening on {}",
                            path.display()
                        )));
                    }
                    std::fs::remove_file(path).map_err(|e| bind_err(e.to_string()))?;
                }
                let l = UnixListener::bind(path).map_err(|e| bind_err(e.to_string()))?;
                (Listener::Unix(l, path.clone()), uri.clone())
            }
            ServerUri::Stdio => (Listener::Stdio, ServerUri::Stdio),
        };
        Ok(Server {
            listener,
            uri,
            options,
        })
    }

    /// Where the server listens (a TCP port 0 replaced by the real port).
    pub fn uri(&self) -> &ServerUri {
        &self.uri
    }

    /// Serves until `shutdown` completes (or, for `stdio://`, until the one
    /// connection ends). Open sessions are dropped at shutdown.
    pub async fn run<F: HandlerFactory>(
        self,
        factory: Arc<F>,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServerError> {
        let options = self.options;
        let permits = Arc::new(Semaphore::new(options.max_connections.max(1)));
        let mut tasks = JoinSet::new();
        tokio::pin!(shutdown);
        match &self.listener {
            Listener::Stdio => {
                let session = factory.session("stdio");
                tokio::select! {
                    _ = serve_connection(session, tokio::io::stdin(), tokio::io::stdout(), options, "stdio".into()) => {}
                    _ = &mut shutdown => {}
                }
                return Ok(());
            }
            Listener::Tcp(_) | Listener::Unix(..) => {}
        }
        loop {
            let accepted = tokio::select! {
                _ = &mut shutdown => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
                a = accept(&self.listener) => a,
            };
            let (reader, writer, peer) = match accepted {
                Ok(c) => c,
                Err(e) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    tracing::warn!("wyoming: accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            match permits.clone().try_acquire_owned() {
                Ok(permit) => {
                    tracing::debug!("wyoming: {peer}: connected");
                    let session = factory.session(&peer);
                    tasks.spawn(async move {
                        serve_connection(session, reader, writer, options, peer).await;
                        drop(permit);
                    });
                }
                Err(_) => {
                    tracing::warn!(
                        "wyoming: {peer}: refused: {} connections are already open",
                        options.max_connections
                    );
                    tasks.spawn(async move {
                        let mut out = responder(Box::new(writer), options, peer);
                        let busy = Event::Error {
                            text: format!(
                                "the server is busy ({} connections open); try again later",
                                options.max_connections
                            ),
                            code: Some("busy".into()),
                        };
                        let _ = out.send(&busy).await;
                        drop(reader);
                    });
                }
            }
        }
        tasks.shutdown().await;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Listener::Unix(_, path) = &self.listener {
            let _ = std::fs::remove_file(path);
        }
    }
}

type BoxRead = Box<dyn AsyncRead + Send + Unpin>;
type BoxWrite = Box<dyn AsyncWrite + Send + Unpin>;

async fn accept(listener: &Listener) -> std::io::Result<(BoxRead, BoxWrite, String)> {
    match listener {
        Listener::Tcp(l) => {
            let (s, addr) = l.accept().await?;
            let _ = s.set_nodelay(true);
            let (r, w) = s.into_split();
            Ok((Box::new(r), Box::new(w), addr.to_string()))
        }
        Listener::Unix(l, _) => {
            let (s, _) = l.accept().await?;
            let (r, w) = s.into_split();
            Ok((Box::new(r), Box::new(w), "unix".into()))
        }
        Listener::Stdio => std::future::pending().await,
    }
}

fn responder(writer: BoxWrite, options: ServerOptions, peer: String) -> Responder {
    Responder {
        writer: FrameWriter::new(writer),
        write_timeout: options.write_timeout,
        peer,
    }
}

/// Runs one session over a reader and writer until the client leaves, an
/// error closes it, or it is idle for too long. Every way it ends is logged.
pub async fn serve_connection<H: Handler>(
    mut session: H,
    reader: impl AsyncRead + Send + Unpin + 'static,
    writer: impl AsyncWrite + Send + Unpin + 'static,
    options: ServerOptions,
    peer: String,
) {
    let mut frames = FrameReader::new(BufReader::new(reader), options.limits);
    let mut out = responder(Box::new(writer), options, peer.clone());
    loop {
        let frame = match tokio::time::timeout(options.idle_timeout, frames.read_frame()).await {
            Err(_) => {
                tracing::info!(
                    "wyoming: {peer}: closed: no complete event within {:?}",
                    options.idle_timeout
                );
                break;
            }
            Ok(Ok(None)) => {
                tracing::debug!("wyoming: {peer}: disconnected");
                break;
            }
            Ok(Ok(Some(f))) => f,
            Ok(Err(FrameError::Io(e))) => {
                tracing::warn!("wyoming: {peer}: closed: {e}");
                break;
            }
            Ok(Err(e)) => {
                tracing::warn!("wyoming: {peer}: closed: {e}");
                let _ = out.send(&error_event(&e.to_string(), "bad-frame")).await;
                linger(&mut frames, &mut out).await;
                break;
            }
        };
        let event = match Event::from_frame(frame) {
            Ok(Event::Other(f)) => {
                tracing::info!("wyoming: {peer}: ignored `{}` (not served by Emma)", f.kind);
                let text = format!("`{}` is not served here", f.kind);
                if out.send(&error_event(&text, "unsupported")).await.is_err() {
                    break;
                }
                continue;
            }
            Ok(e) => e,
            Err(e @ EventError::Unknown { .. }) => {
                tracing::warn!("wyoming: {peer}: closed: {e}");
                let _ = out
                    .send(&error_event(&e.to_string(), "unknown-event"))
                    .await;
                break;
            }
            Err(e @ EventError::Data { .. }) => {
                tracing::warn!("wyoming: {peer}: refused: {e}");
                if out
                    .send(&error_event(&e.to_string(), "bad-event"))
                    .await
                    .is_err()
                {
                    break;
                }
                continue;
            }
        };
        match session.handle(event, &mut out).await {
            Ok(Flow::Continue) => {}
            Ok(Flow::Close) => break,
            Err(e) => {
                if e.close {
                    tracing::warn!("wyoming: {peer}: closed: {}", e.message);
                } else {
                    tracing::info!("wyoming: {peer}: refused: {}", e.message);
                }
                let sent = out.send(&error_event(&e.message, &e.code)).await;
                if e.close {
                    linger(&mut frames, &mut out).await;
                }
                if e.close || sent.is_err() {
                    break;
                }
            }
        }
    }
    session.closed().await;
}

/// Closes our side after an error and discards what the client is still
/// sending (at most 1 MiB for half a second), so the kernel does not reset
/// the connection before the client has read the `error` event.
async fn linger<R: tokio::io::AsyncBufRead + Unpin>(
    frames: &mut FrameReader<R>,
    out: &mut Responder,
) {
    use tokio::io::AsyncWriteExt;
    let _ = tokio::time::timeout(Duration::from_millis(500), out.writer.get_mut().shutdown()).await;
    let mut rest = AsyncReadExt::take(frames.get_mut(), 1024 * 1024);
    let _ = tokio::time::timeout(
        Duration::from_millis(500),
        tokio::io::copy(&mut rest, &mut tokio::io::sink()),
    )
    .await;
}

fn error_event(text: &str, code: &str) -> Event {
    Event::Error {
        text: text.into(),
        code: Some(code.into()),
    }
}
