//! The Wyoming wire format: a JSON header line, optional JSON data, optional payload.
//!
//! ```text
//! {"type": "audio-chunk", "version": "1.5.0", "data_length": 42, "payload_length": 2048}\n
//! {"rate": 16000, "width": 2, "channels": 1}            ← data_length bytes of JSON
//! <2048 bytes of PCM>                                    ← payload_length bytes
//! ```
//!
//! [`FrameReader`] reads this from an untrusted peer within [`Limits`]: the
//! header line, the data and the payload each have a ceiling that is checked
//! *before* anything is allocated, and a segment is allocated as its bytes
//! arrive (a peer announcing 4 MB and sending 10 bytes costs 10 bytes, not 4 MB).

use serde_json::{Map, Value};
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt,
};

/// The protocol version written into every header (the reference package's
/// major/minor at the time of writing; peers do not check it).
pub const PROTOCOL_VERSION: &str = "1.10.2";

/// How much one frame may take, checked before allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest header line in bytes, newline excluded.
    pub max_header: usize,
    /// Largest `data_length`.
    pub max_data: usize,
    /// Largest `payload_length`.
    pub max_payload: usize,
}

impl Default for Limits {
    /// 64 KiB header, 1 MiB data, 4 MiB payload (two minutes of 16 kHz
    /// 16-bit mono audio in one chunk; real clients send 2 KiB).
    fn default() -> Self {
        Limits {
            max_header: 64 * 1024,
            max_data: 1024 * 1024,
            max_payload: 4 * 1024 * 1024,
        }
    }
}

/// One message as it travels: its type, its (merged) data and its payload.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Frame {
    /// The event type, e.g. `audio-chunk`.
    pub kind: String,
    /// The header's inline `data` merged with the data segment (the segment wins).
    pub data: Map<String, Value>,
    /// The binary payload, if any.
    pub payload: Option<Vec<u8>>,
}

impl Frame {
    /// A frame of `kind` with no data and no payload.
    pub fn new(kind: impl Into<String>) -> Self {
        Frame {
            kind: kind.into(),
            ..Frame::default()
        }
    }
}

/// Why a frame could not be read or written. After any of these the
/// connection is out of step (or gone) and must be closed.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The transport failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// No newline within [`Limits::max_header`] bytes.
    #[error("header line longer than the limit of {limit} bytes (no newline yet)")]
    HeaderTooLong {
        /// The limit.
        limit: usize,
    },
    /// The peer closed the connection in the middle of a header line.
    #[error("connection closed in the middle of a header line ({got} bytes, no newline)")]
    TruncatedHeader {
        /// Bytes of the partial line.
        got: usize,
    },
    /// The header line is not a JSON object.
    #[error("header line is not a JSON object: {reason}")]
    HeaderJson {
        /// What the JSON parser said, or what the value was instead.
        reason: String,
    },
    /// The header has no string `type`.
    #[error("header has no string `type`")]
    MissingType,
    /// `data_length` or `payload_length` is not a byte count.
    #[error("`{field}` is {value}: not a byte count (an integer from 0 to 2^64-1)")]
    BadLength {
        /// `data_length` or `payload_length`.
        field: &'static str,
        /// The value as sent (shortened).
        value: String,
    },
    /// A length above its limit.
    #[error("`{field}` of {length} bytes exceeds the limit of {limit} bytes")]
    TooLong {
        /// `data_length` or `payload_length`.
        field: &'static str,
        /// The announced length.
        length: u64,
        /// The limit.
        limit: usize,
    },
    /// The connection ended before an announced segment was complete.
    #[error("connection closed after {got} of the {expected} bytes announced by `{field}`")]
    Truncated {
        /// `data_length` or `payload_length`.
        field: &'static str,
        /// The announced length.
        expected: u64,
        /// Bytes received.
        got: u64,
    },
    /// The data segment or inline `data` is not a JSON object.
    #[error("the event data is not a JSON object: {reason}")]
    DataJson {
        /// What the JSON parser said, or what the value was instead.
        reason: String,
    },
}

/// Reads frames from an untrusted byte stream within [`Limits`].
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    limits: Limits,
    line: Vec<u8>,
}

impl<R: AsyncBufRead + Unpin> FrameReader<R> {
    /// Reads from `inner` (buffered: wrap sockets in a `tokio::io::BufReader`).
    pub fn new(inner: R, limits: Limits) -> Self {
        FrameReader {
            inner,
            limits,
            line: Vec::new(),
        }
    }

    /// The underlying reader (e.g. to drain it before closing).
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The next frame; `Ok(None)` when the peer closed the connection between frames.
    pub async fn read_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if !self.read_line().await? {
            return Ok(None);
        }
        let line = self.line.strip_suffix(b"\r").unwrap_or(&self.line);
        let header: Value = serde_json::from_slice(line).map_err(|e| FrameError::HeaderJson {
            reason: e.to_string(),
        })?;
        let Value::Object(mut header) = header else {
            return Err(FrameError::HeaderJson {
                reason: format!("found {}", kind_of(&header)),
            });
        };
        // The line buffer is reused; do not keep a huge one alive between frames.
        if self.line.capacity() > 4096 {
            self.line = Vec::new();
        }
        let kind = match header.remove("type") {
            Some(Value::String(s)) => s,
            _ => return Err(FrameError::MissingType),
        };
        let data_length = length(&header, "data_length")?;
        let payload_length = length(&header, "payload_length")?;
        check(data_length, "data_length", self.limits.max_data)?;
        check(payload_length, "payload_length", self.limits.max_payload)?;
        let mut data = match header.remove("data") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m,
            Some(other) => {
                return Err(FrameError::DataJson {
                    reason: format!("inline `data` is {}", kind_of(&other)),
                });
            }
        };
        if data_length > 0 {
            let bytes = read_segment(&mut self.inner, data_length, "data_length").await?;
            let segment: Value =
                serde_json::from_slice(&bytes).map_err(|e| FrameError::DataJson {
                    reason: e.to_string(),
                })?;
            let Value::Object(segment) = segment else {
                return Err(FrameError::DataJson {
                    reason: format!("the data segment is {}", kind_of(&segment)),
                });
            };
            data.extend(segment);
        }
        let payload = if payload_length > 0 {
            Some(read_segment(&mut self.inner, payload_length, "payload_length").await?)
        } else {
            None
        };
        Ok(Some(Frame {
            kind,
            data,
            payload,
        }))
    }

    /// Reads one line into `self.line` (without the newline); `false` at a clean end of stream.
    async fn read_line(&mut self) -> Result<bool, FrameError> {
        self.line.clear();
        loop {
            let buf = self.inner.fill_buf().await?;
            if buf.is_empty() {
                if self.line.is_empty() {
                    return Ok(false);
                }
                return Err(FrameError::TruncatedHeader {
                    got: self.line.len(),
                });
            }
            let (take, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (buf.len(), false),
            };
            if self.line.len() + take > self.limits.max_header {
                return Err(FrameError::HeaderTooLong {
                    limit: self.limits.max_header,
                });
            }
            self.line.extend_from_slice(&buf[..take]);
            self.inner.consume(take + usize::from(done));
            if done {
                return Ok(true);
            }
        }
    }
}

/// What a JSON value is, for error messages.
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A length field: absent or null is 0; anything but a u64 is an error.
fn length(header: &Map<String, Value>, field: &'static str) -> Result<u64, FrameError> {
    match header.get(field) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64().unwrap_or(0)),
        Some(other) => {
            // Shown in errors and logs: the first 40 characters (never a cut
            // inside a character: the client chose the bytes).
            let mut value = other.to_string();
            if let Some((cut, _)) = value.char_indices().nth(40) {
                value.truncate(cut);
                value.push('…');
            }
            Err(FrameError::BadLength { field, value })
        }
    }
}

fn check(length: u64, field: &'static str, limit: usize) -> Result<(), FrameError> {
    if length > limit as u64 {
        return Err(FrameError::TooLong {
            field,
            length,
            limit,
        });
    }
    Ok(())
}

/// Reads exactly `len` bytes (already checked against a limit), allocating
/// only as bytes arrive: capacity doubles from 64 KiB but never passes `len`.
async fn read_segment<R: AsyncRead + Unpin>(
    reader: &mut R,
    len: u64,
    field: &'static str,
) -> Result<Vec<u8>, FrameError> {
    const STEP: usize = 64 * 1024;
    let len_usize = usize::try_from(len).map_err(|_| FrameError::TooLong {
        field,
        length: len,
        limit: usize::MAX,
    })?;
    let mut buf: Vec<u8> = Vec::with_capacity(len_usize.min(STEP));
    while buf.len() < len_usize {
        if buf.len() == buf.capacity() {
            let target = (buf.capacity() * 2).clamp(STEP, len_usize);
            buf.reserve_exact(target - buf.len());
        }
        let start = buf.len();
        let end = buf.capacity().min(len_usize);
        buf.resize(end, 0);
        let n = reader.read(&mut buf[start..end]).await?;
        buf.truncate(start + n);
        if n == 0 {
            return Err(FrameError::Truncated {
                field,
                expected: len,
                got: buf.len() as u64,
            });
        }
    }
    Ok(buf)
}

/// Writes frames the way the reference implementation does: the header line
/// carries `type`, `version` and the lengths; the data follows as its own segment.
#[derive(Debug)]
pub struct FrameWriter<W> {
    inner: W,
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    /// Writes to `inner`.
    pub fn new(inner: W) -> Self {
        FrameWriter { inner }
    }

    /// Writes and flushes one frame.
    pub async fn write_frame(&mut self, frame: &Frame) -> Result<(), FrameError> {
        let bytes = encode(frame);
        self.inner.write_all(&bytes).await?;
        self.inner.flush().await?;
        Ok(())
    }

    /// The underlying writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }
}

/// One frame as bytes on the wire.
pub fn encode(frame: &Frame) -> Vec<u8> {
    let mut header = Map::new();
    header.insert("type".into(), Value::String(frame.kind.clone()));
    header.insert("version".into(), Value::String(PROTOCOL_VERSION.into()));
    let data = if frame.data.is_empty() {
        None
    } else {
        let bytes = serde_json::to_vec(&frame.data).unwrap_or_default();
        header.insert("data_length".into(), Value::from(bytes.len()));
        Some(bytes)
    };
    let payload = frame.payload.as_deref().filter(|p| !p.is_empty());
    if let Some(p) = payload {
        header.insert("payload_length".into(), Value::from(p.len()));
    }
    let mut out = serde_json::to_vec(&header).unwrap_or_default();
    out.push(b'\n');
    if let Some(d) = data {
        out.extend_from_slice(&d);
    }
    if let Some(p) = payload {
        out.extend_from_slice(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tokio::io::BufReader;

    async fn read_all(bytes: &[u8], limits: Limits) -> Result<Vec<Frame>, FrameError> {
        let mut r = FrameReader::new(BufReader::new(bytes), limits);
        let mut out = vec![];
        while let Some(f) = r.read_frame().await? {
            out.push(f);
        }
        Ok(out)
    }

    async fn err(bytes: &[u8]) -> String {
        read_all(bytes, Limits::default())
            .await
            .expect_err("the input is invalid")
            .to_string()
    }

    #[tokio::test]
    async fn round_trips_data_and_payload() {
        let mut f = Frame::new("audio-chunk");
        f.data.insert("rate".into(), json!(16000));
        f.data.insert("text".into(), json!("grüße\nzwei"));
        f.payload = Some((0..=255).collect());
        let mut wire = encode(&f);
        wire.extend(encode(&Frame::new("audio-stop")));
        let frames = read_all(&wire, Limits::default()).await.unwrap();
        assert_eq!(frames, vec![f, Frame::new("audio-stop")]);
    }

    /// Found by the `wyoming_frame` fuzz target: a bad length field whose text
    /// has a multi-byte character across the 40-byte mark panicked when the
    /// error message cut it (`String::truncate` inside a character).
    #[tokio::test]
    async fn a_bad_length_with_multibyte_text_is_an_error_not_a_panic() {
        let value = format!("{}é{}", "b".repeat(38), "é".repeat(30));
        let wire = format!("{{\"type\":\"x\",\"data_length\":\"{value}\"}}\n");
        let e = read_all(wire.as_bytes(), Limits::default())
            .await
            .unwrap_err();
        match e {
            FrameError::BadLength { field, value } => {
                assert_eq!(field, "data_length");
                assert_eq!(value.chars().count(), 41, "{value}");
                assert!(value.ends_with('…'), "{value}");
            }
            other => panic!("{other:?}"),
        }
    }

    /// Found by the `wyoming_frame` fuzz target, twice: serde_json's default
    /// float parsing is best-effort, not correctly rounded, so a float in a
    /// frame's data came back changed after encoding and reading again (one
    /// ULP for `1.11111111e58`, two for `1.2222222222222221e55`). The
    /// workspace turns on serde_json's `float_roundtrip`: every float, like
    /// integers, strings and payloads, round trips exactly.
    #[tokio::test]
    async fn floats_in_data_round_trip_exactly() {
        for channels in ["1.11111111e58", "1.2222222222222221e+55", "5e-324", "0.1"] {
            let wire = format!(
                "{{\"type\":\"audio-chunk\",\"data\":{{\"rate\":16000,\"width\":2,\"channels\":{channels}}}}}\n"
            );
            let first = read_all(wire.as_bytes(), Limits::default()).await.unwrap();
            let second = read_all(&encode(&first[0]), Limits::default())
                .await
                .unwrap();
            let parsed: f64 = channels.parse().unwrap();
            assert_eq!(
                first[0].data["channels"].as_f64(),
                Some(parsed),
                "{channels}"
            );
            assert_eq!(second, first, "{channels}");
            assert_eq!(second[0].data["rate"], json!(16000));
        }
    }

    #[tokio::test]
    async fn merges_inline_data_with_the_segment() {
        let seg = br#"{"b":2,"a":3}"#;
        let wire = format!(
            "{{\"type\":\"x\",\"data\":{{\"a\":1}},\"data_length\":{}}}\r\n{}",
            seg.len(),
            std::str::from_utf8(seg).unwrap()
        );
        let frames = read_all(wire.as_bytes(), Limits::default()).await.unwrap();
        assert_eq!(frames[0].data.get("a"), Some(&json!(3)));
        assert_eq!(frames[0].data.get("b"), Some(&json!(2)));
    }

    #[tokio::test]
    async fn refuses_bad_headers_and_lengths() {
        assert!(
            err(b"not json\n")
                .await
                .contains("header line is not a JSON object")
        );
        assert!(err(b"[1,2]\n").await.contains("found an array"));
        assert!(err(b"{\"data\":{}}\n").await.contains("no string `type`"));
        assert!(
            err(b"{\"type\":\"x\",\"payload_length\":-1}\n")
                .await
                .contains("`payload_length` is -1")
        );
        assert!(
            err(b"{\"type\":\"x\",\"data_length\":1.5}\n")
                .await
                .contains("`data_length` is 1.5")
        );
        assert!(
            err(b"{\"type\":\"x\",\"payload_length\":\"12\"}\n")
                .await
                .contains("not a byte count")
        );
        // 2^64 and beyond overflow u64.
        assert!(
            err(b"{\"type\":\"x\",\"payload_length\":18446744073709551616}\n")
                .await
                .contains("not a byte count")
        );
        assert!(
            err(b"{\"type\":\"x\",\"payload_length\":18446744073709551615}\n")
                .await
                .contains("exceeds the limit of 4194304 bytes")
        );
        assert!(
            err(b"{\"type\":\"x\",\"data_length\":5}\n[1,2]")
                .await
                .contains("data segment is an array")
        );
        assert!(
            err(b"{\"type\":\"x\",\"data_length\":5}\n{\"a\"")
                .await
                .contains("after 4 of the 5 bytes announced by `data_length`")
        );
        assert!(
            err(b"{\"type\":\"x\",\"payload_length\":1000}\nabc")
                .await
                .contains("after 3 of the 1000 bytes announced by `payload_length`")
        );
        assert!(
            err(b"{\"type\":\"x\"}\n{\"ty")
                .await
                .contains("middle of a header line (4 bytes")
        );
        assert!(
            err(b"{\"type\":\"x\",\"data\":[1]}\n")
                .await
                .contains("inline `data` is an array")
        );
    }

    #[tokio::test]
    async fn refuses_a_header_line_over_the_limit() {
        let limits = Limits {
            max_header: 100,
            ..Limits::default()
        };
        let long = format!("{{\"type\":\"{}\"}}\n", "a".repeat(200));
        let e = read_all(long.as_bytes(), limits).await.unwrap_err();
        assert!(matches!(e, FrameError::HeaderTooLong { limit: 100 }), "{e}");
        // Exactly at the limit is fine.
        let ok = format!("{{\"type\":\"{}\"}}\n", "a".repeat(100 - 11));
        assert_eq!(ok.len(), 101);
        assert_eq!(read_all(ok.as_bytes(), limits).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn an_empty_stream_is_a_clean_end() {
        assert!(read_all(b"", Limits::default()).await.unwrap().is_empty());
    }
}
