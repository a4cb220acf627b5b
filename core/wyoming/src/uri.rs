//! Where a Wyoming server listens: `tcp://HOST:PORT`, `unix://PATH` or `stdio://`.

use std::path::PathBuf;
use std::str::FromStr;

/// A listening address as Wyoming servers take it (`--uri`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerUri {
    /// TCP on `host:port` (port 0: any free port).
    Tcp {
        /// Host name or address (`127.0.0.1` when the URI leaves it empty).
        host: String,
        /// Port.
        port: u16,
    },
    /// A Unix domain socket.
    Unix(PathBuf),
    /// One connection on standard input and output.
    Stdio,
}

/// Why a URI was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// Not one of the three schemes.
    #[error("unsupported URI {uri:?}: use tcp://HOST:PORT, unix://PATH or stdio://")]
    Scheme {
        /// The URI.
        uri: String,
    },
    /// A TCP URI without a valid port.
    #[error("{uri:?} needs a port from 0 to 65535, e.g. tcp://127.0.0.1:10300")]
    Port {
        /// The URI.
        uri: String,
    },
    /// A Unix URI without a path.
    #[error("{uri:?} needs a socket path, e.g. unix:///run/emma.sock")]
    Path {
        /// The URI.
        uri: String,
    },
}

impl FromStr for ServerUri {
    type Err = UriError;

    fn from_str(uri: &str) -> Result<Self, UriError> {
        if let Some(rest) = uri.strip_prefix("tcp://") {
            let rest = rest.trim_end_matches('/');
            let (host, port) = rest
                .rsplit_once(':')
                .ok_or_else(|| UriError::Port { uri: uri.into() })?;
            let port: u16 = port
                .parse()
                .map_err(|_| UriError::Port { uri: uri.into() })?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let host = if host.is_empty() { "127.0.0.1" } else { host };
            return Ok(ServerUri::Tcp {
                host: host.into(),
                port,
            });
        }
        if let Some(path) = uri.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(UriError::Path { uri: uri.into() });
            }
            return Ok(ServerUri::Unix(PathBuf::from(path)));
        }
        if uri == "stdio://" || uri == "stdio:" {
            return Ok(ServerUri::Stdio);
        }
        Err(UriError::Scheme { uri: uri.into() })
    }
}

impl std::fmt::Display for ServerUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerUri::Tcp { host, port } if host.contains(':') => {
                write!(f, "tcp://[{host}]:{port}")
            }
            ServerUri::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            ServerUri::Unix(p) => write!(f, "unix://{}", p.display()),
            ServerUri::Stdio => write!(f, "stdio://"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_schemes() {
        let tcp = |h: &str, p| ServerUri::Tcp {
            host: h.into(),
            port: p,
        };
        assert_eq!("tcp://127.0.0.1:10300".parse(), Ok(tcp("127.0.0.1", 10300)));
        assert_eq!("tcp://:10300".parse(), Ok(tcp("127.0.0.1", 10300)));
        assert_eq!("tcp://[::1]:0".parse(), Ok(tcp("::1", 0)));
        assert_eq!("tcp://0.0.0.0:10200/".parse(), Ok(tcp("0.0.0.0", 10200)));
        assert_eq!(
            "unix:///tmp/emma.sock".parse(),
            Ok(ServerUri::Unix("/tmp/emma.sock".into()))
        );
        assert_eq!("stdio://".parse(), Ok(ServerUri::Stdio));
        assert_eq!(tcp("::1", 7).to_string(), "tcp://[::1]:7");
    }

    #[test]
    fn refuses_what_it_cannot_serve() {
        let err = |s: &str| s.parse::<ServerUri>().unwrap_err().to_string();
        assert!(err("http://x:1").contains("use tcp://HOST:PORT"));
        assert!(err("tcp://localhost").contains("needs a port"));
        assert!(err("tcp://localhost:70000").contains("needs a port"));
        assert!(err("unix://").contains("needs a socket path"));
    }
}
