//! The server against misbehaving clients, over real loopback sockets: each
//! bad client is refused or closed and the others keep being served.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use emma_wyoming::event::AudioStart;
use emma_wyoming::frame::encode;
use emma_wyoming::{
    AudioFormat, Event, Flow, Frame, FrameReader, Handler, HandlerError, HandlerFactory, Limits,
    Responder, Server, ServerOptions, ServerUri,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Answers `describe` with an empty info, echoes `recognize` text as an
/// intent name, counts audio per stream and sessions that ended mid-stream.
#[derive(Default)]
struct Echo {
    closed_mid_stream: Arc<AtomicUsize>,
}

struct EchoSession {
    streaming: Option<usize>,
    closed_mid_stream: Arc<AtomicUsize>,
}

impl HandlerFactory for Echo {
    type Handler = EchoSession;
    fn session(&self, _peer: &str) -> EchoSession {
        EchoSession {
            streaming: None,
            closed_mid_stream: self.closed_mid_stream.clone(),
        }
    }
}

impl Handler for EchoSession {
    async fn handle(&mut self, event: Event, out: &mut Responder) -> Result<Flow, HandlerError> {
        let reply = match event {
            Event::Describe => Event::Info(Box::default()),
            Event::Recognize { text } => Event::NotRecognized { text: Some(text) },
            Event::AudioStart(_) => {
                self.streaming = Some(0);
                return Ok(Flow::Continue);
            }
            Event::AudioChunk(c) => match &mut self.streaming {
                Some(n) => {
                    *n += c.audio.len();
                    return Ok(Flow::Continue);
                }
                None => {
                    return Err(HandlerError::refuse(
                        "audio-before-start",
                        "audio-chunk before audio-start",
                    ));
                }
            },
            Event::AudioStop { .. } => {
                let n = self.streaming.take().unwrap_or(0);
                Event::Transcript {
                    text: format!("{n} bytes"),
                    language: None,
                }
            }
            other => {
                return Err(HandlerError::refuse(
                    "unsupported",
                    format!("no {}", other.kind()),
                ));
            }
        };
        out.send(&reply)
            .await
            .map_err(|e| HandlerError::fatal("write", e.to_string()))?;
        Ok(Flow::Continue)
    }

    async fn closed(&mut self) {
        if self.streaming.is_some() {
            self.closed_mid_stream.fetch_add(1, Ordering::SeqCst);
        }
    }
}

async fn start(options: ServerOptions) -> (u16, Arc<Echo>) {
    let uri = ServerUri::Tcp {
        host: "127.0.0.1".into(),
        port: 0,
    };
    let server = Server::bind(&uri, options).await.expect("bind");
    let ServerUri::Tcp { port, .. } = server.uri().clone() else {
        unreachable!()
    };
    let factory = Arc::new(Echo::default());
    let f = factory.clone();
    tokio::spawn(async move { server.run(f, std::future::pending()).await });
    (port, factory)
}

struct Client {
    frames: FrameReader<BufReader<tokio::net::tcp::OwnedReadHalf>>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl Client {
    async fn connect(port: u16) -> Client {
        let (r, w) = TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap()
            .into_split();
        Client {
            frames: FrameReader::new(BufReader::new(r), Limits::default()),
            writer: w,
        }
    }
    async fn send(&mut self, e: &Event) {
        self.writer.write_all(&encode(&e.to_frame())).await.unwrap();
    }
    async fn raw(&mut self, bytes: &[u8]) {
        // The server may close while we write (that is the point of some tests).
        let _ = self.writer.write_all(bytes).await;
    }
    async fn recv(&mut self) -> Option<Event> {
        let f = tokio::time::timeout(Duration::from_secs(10), self.frames.read_frame())
            .await
            .expect("an answer within 10 s")
            .ok()??;
        Some(Event::from_frame(f).unwrap())
    }
    /// The next event must be an `error` with `code`; returns its text.
    async fn expect_error(&mut self, code: &str) -> String {
        match self.recv().await {
            Some(Event::Error {
                text,
                code: Some(c),
            }) if c == code => text,
            other => panic!("expected an error {code}, got {other:?}"),
        }
    }
    async fn expect_closed(&mut self) {
        assert_eq!(
            self.recv().await,
            None,
            "the server should have closed the connection"
        );
    }
    async fn describe_works(&mut self) {
        self.send(&Event::Describe).await;
        assert!(matches!(self.recv().await, Some(Event::Info(_))));
    }
}

#[tokio::test]
async fn bad_frames_close_only_their_connection() {
    let (port, _) = start(ServerOptions::default()).await;
    let mut good = Client::connect(port).await;
    good.describe_works().await;

    // A 10 MB header line (no newline within the 64 KiB limit).
    let mut c = Client::connect(port).await;
    let huge = vec![b'a'; 10 * 1024 * 1024];
    let writer = tokio::spawn(async move {
        let _ = c.writer.write_all(&huge).await;
        c
    });
    // The server answers and closes as soon as the limit is passed.
    let mut c = writer.await.unwrap();
    assert!(
        c.expect_error("bad-frame")
            .await
            .contains("header line longer than the limit of 65536 bytes")
    );
    c.expect_closed().await;

    let cases: [(&[u8], &str, &str); 6] = [
        (b"{oops}\n", "bad-frame", "header line is not a JSON object"),
        (
            b"{\"type\":\"audio-chunk\",\"payload_length\":99999999999999999999999}\n",
            "bad-frame",
            "not a byte count",
        ),
        (
            b"{\"type\":\"audio-chunk\",\"payload_length\":4194305}\n",
            "bad-frame",
            "exceeds the limit",
        ),
        (
            b"{\"type\":\"launch-missiles\"}\n",
            "unknown-event",
            "unknown event type \"launch-missiles\"",
        ),
        (
            b"{\"type\":\"describe\",\"data_length\":-3}\n",
            "bad-frame",
            "`data_length` is -3",
        ),
        (
            b"{\"type\":\"describe\",\"data_length\":4}\n[1]\n",
            "bad-frame",
            "data segment is an array",
        ),
    ];
    for (bytes, code, text) in cases {
        let mut c = Client::connect(port).await;
        c.raw(bytes).await;
        let got = c.expect_error(code).await;
        assert!(got.contains(text), "{got:?} should contain {text:?}");
        c.expect_closed().await;
    }

    // A payload announced but never completed: the server waits for it (it
    // cannot know the client stopped) until the client hangs up.
    let mut c = Client::connect(port).await;
    c.raw(b"{\"type\":\"audio-chunk\",\"data\":{\"rate\":16000,\"width\":2,\"channels\":1},\"payload_length\":1000}\nabc").await;
    drop(c);

    // Refused events keep the connection.
    let mut c = Client::connect(port).await;
    c.raw(b"{\"type\":\"recognize\",\"data\":{}}\n").await;
    assert!(
        c.expect_error("bad-event")
            .await
            .contains("missing field `text`")
    );
    c.raw(b"{\"type\":\"run-pipeline\",\"data\":{\"start_stage\":\"asr\"}}\n")
        .await;
    assert!(
        c.expect_error("unsupported")
            .await
            .contains("`run-pipeline` is not served")
    );
    c.send(&Event::AudioChunk(emma_wyoming::event::AudioChunk {
        format: AudioFormat::EMMA,
        timestamp: None,
        audio: vec![0; 4],
    }))
    .await;
    assert!(
        c.expect_error("audio-before-start")
            .await
            .contains("before audio-start")
    );
    c.describe_works().await;

    good.describe_works().await;
}

#[tokio::test]
async fn idle_connections_do_not_stop_others_and_are_closed() {
    let options = ServerOptions {
        idle_timeout: Duration::from_millis(1500),
        ..ServerOptions::default()
    };
    let (port, _) = start(options).await;
    let mut idle = vec![];
    for _ in 0..100 {
        idle.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    // One trickles a header byte by byte: it is closed by the same timeout.
    let mut trickler = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let trickle = tokio::spawn(async move {
        for b in b"{\"type\":\"describe\"" {
            if trickler.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mut buf = [0u8; 64];
        tokio::time::timeout(Duration::from_secs(5), trickler.read(&mut buf)).await
    });
    let started = Instant::now();
    let mut active = Client::connect(port).await;
    for i in 0..20 {
        active
            .send(&Event::Recognize {
                text: format!("sentence {i}"),
            })
            .await;
        assert_eq!(
            active.recv().await,
            Some(Event::NotRecognized {
                text: Some(format!("sentence {i}"))
            })
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "served while 100 clients idled"
    );
    for mut s in idle {
        let mut buf = [0u8; 16];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("closed by the idle timeout")
            .unwrap_or(0);
        assert_eq!(n, 0, "an idle connection gets no data, only the close");
    }
    let r = trickle
        .await
        .unwrap()
        .expect("the trickler is closed within 5 s");
    assert_eq!(r.unwrap_or(0), 0);
}

#[tokio::test]
async fn too_many_connections_are_told_the_server_is_busy() {
    let options = ServerOptions {
        max_connections: 2,
        ..ServerOptions::default()
    };
    let (port, _) = start(options).await;
    let mut a = Client::connect(port).await;
    let mut b = Client::connect(port).await;
    a.describe_works().await;
    b.describe_works().await;
    let mut c = Client::connect(port).await;
    assert!(c.expect_error("busy").await.contains("2 connections open"));
    c.expect_closed().await;
    drop(a);
    // The slot frees once the server sees the close.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut d = Client::connect(port).await;
        d.send(&Event::Describe).await;
        match d.recv().await {
            Some(Event::Info(_)) => break,
            Some(Event::Error { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn a_client_leaving_mid_stream_ends_its_session() {
    let (port, factory) = start(ServerOptions::default()).await;
    let mut c = Client::connect(port).await;
    c.send(&Event::AudioStart(AudioStart {
        format: AudioFormat::EMMA,
        timestamp: None,
    }))
    .await;
    let chunk = Frame {
        kind: "audio-chunk".into(),
        data: serde_json::from_str(r#"{"rate":16000,"width":2,"channels":1}"#).unwrap(),
        payload: Some(vec![0; 2048]),
    };
    c.raw(&encode(&chunk)).await;
    // Half a frame, then gone.
    c.raw(&encode(&chunk)[..30]).await;
    drop(c);
    let deadline = Instant::now() + Duration::from_secs(5);
    while factory.closed_mid_stream.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the session was not closed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut d = Client::connect(port).await;
    d.send(&Event::AudioStart(AudioStart {
        format: AudioFormat::EMMA,
        timestamp: None,
    }))
    .await;
    d.raw(&encode(&chunk)).await;
    d.send(&Event::AudioStop { timestamp: None }).await;
    assert_eq!(
        d.recv().await,
        Some(Event::Transcript {
            text: "2048 bytes".into(),
            language: None
        })
    );
}

#[tokio::test]
async fn serves_a_unix_socket_and_replaces_a_stale_one() {
    let dir = std::env::temp_dir().join(format!("emma-wyoming-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("emma.sock");
    // A stale socket file from a crashed server.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let uri = ServerUri::Unix(path.clone());
    let server = Server::bind(&uri, ServerOptions::default())
        .await
        .expect("replaces the stale socket");
    // A second server on the same live socket is refused.
    let second = Server::bind(&uri, ServerOptions::default())
        .await
        .unwrap_err();
    assert!(
        second.to_string().contains("another server is listening"),
        "{second}"
    );
    tokio::spawn(async move {
        server
            .run(Arc::new(Echo::default()), std::future::pending())
            .await
    });
    let s = tokio::net::UnixStream::connect(&path).await.unwrap();
    let (r, mut w) = s.into_split();
    w.write_all(&encode(&Event::Describe.to_frame()))
        .await
        .unwrap();
    let mut frames = FrameReader::new(BufReader::new(r), Limits::default());
    let f = frames.read_frame().await.unwrap().unwrap();
    assert_eq!(f.kind, "info");
    // A regular file is never deleted.
    let file = dir.join("not-a-socket");
    std::fs::write(&file, "keep me").unwrap();
    let e = Server::bind(&ServerUri::Unix(file.clone()), ServerOptions::default())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("exists and is not a socket"), "{e}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    let _ = std::fs::remove_dir_all(&dir);
}
