//! Which broker to talk to: the embedded one, or an external one by URL.

use std::path::PathBuf;

use crate::error::{DevicesError, Result};

/// How to reach an MQTT broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerConfig {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Use TLS (`mqtts://`).
    pub tls: bool,
    /// Extra CA certificate (PEM) to trust for TLS, besides none; required with `tls`.
    pub ca_file: Option<PathBuf>,
    /// User name, if the broker wants one.
    pub username: Option<String>,
    /// Password, if the broker wants one.
    pub password: Option<String>,
    /// MQTT client id; a fixed one keeps the broker-side session across reconnects.
    pub client_id: String,
    /// MQTT 5 shared-subscription group: when set, Emma subscribes to command and
    /// Hermes topics as `$share/<group>/<filter>` so several workers split the load.
    pub share_group: Option<String>,
}

impl BrokerConfig {
    /// A plain TCP broker at `host:port` with client id `emma`.
    pub fn new(host: impl Into<String>, port: u16) -> BrokerConfig {
        BrokerConfig {
            host: host.into(),
            port,
            tls: false,
            ca_file: None,
            username: None,
            password: None,
            client_id: "emma".into(),
            share_group: None,
        }
    }

    /// Parses `mqtt://[user[:pass]@]host[:port][?client_id=ID&share=GROUP]` or `mqtts://…`.
    /// Default ports: 1883 (mqtt), 8883 (mqtts). User and password may be percent-encoded.
    pub fn from_url(url: &str) -> Result<BrokerConfig> {
        let bad = |reason: &str| DevicesError::BrokerUrl {
            url: redact(url),
            reason: reason.into(),
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("missing scheme"))?;
        let tls = match scheme {
            "mqtt" | "tcp" => false,
            "mqtts" | "ssl" => true,
            _ => return Err(bad(&format!("unknown scheme {scheme:?}"))),
        };
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') {
            return Err(bad("a broker url has no path"));
        }
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("unclosed '[' in host"))?;
            (h.to_string(), after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(bad("missing host"));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad(&format!("port {p:?} is not 1-65535")))?,
            None if tls => 8883,
            None => 1883,
        };
        let mut cfg = BrokerConfig::new(host, port);
        cfg.tls = tls;
        if let Some(info) = userinfo {
            let (u, p) = match info.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (info, None),
            };
            cfg.username =
                Some(percent_decode(u).ok_or_else(|| bad("bad percent-encoding in user"))?);
            cfg.password = p
                .map(|p| percent_decode(p).ok_or_else(|| bad("bad percent-encoding in password")))
                .transpose()?;
        }
        for pair in query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .filter(|p| !p.is_empty())
        {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "client_id" if !v.is_empty() => cfg.client_id = v.to_string(),
                "share" if !v.is_empty() => cfg.share_group = Some(v.to_string()),
                "ca" if !v.is_empty() => cfg.ca_file = Some(PathBuf::from(v)),
                _ => {
                    return Err(bad(&format!(
                        "unknown or empty query parameter {k:?} (known: client_id, share, ca)"
                    )));
                }
            }
        }
        Ok(cfg)
    }

    /// `host:port`, for messages.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The URL form, without the password.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        match &self.username {
            Some(u) => format!("{scheme}://{u}@{}:{}", self.host, self.port),
            None => format!("{scheme}://{}:{}", self.host, self.port),
        }
    }

    /// `filter` as a shared subscription when a share group is configured.
    pub fn shared(&self, filter: &str) -> String {
        match &self.share_group {
            Some(g) => format!("$share/{g}/{filter}"),
            None => filter.to_string(),
        }
    }
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
            None => url.to_string(),
        },
        _ => url.to_string(),
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let c = BrokerConfig::from_url("mqtt://localhost").unwrap();
        assert_eq!((c.host.as_str(), c.port, c.tls), ("localhost", 1883, false));
        let c = BrokerConfig::from_url(
            "mqtts://al%40x:p%3Ass@broker.example:8884?client_id=kitchen&share=emma",
        )
        .unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.tls),
            ("broker.example", 8884, true)
        );
        assert_eq!(c.username.as_deref(), Some("al@x"));
        assert_eq!(c.password.as_deref(), Some("p:ss"));
        assert_eq!(c.client_id, "kitchen");
        assert_eq!(c.shared("hermes/#"), "$share/emma/hermes/#");
        assert_eq!(BrokerConfig::from_url("mqtts://h").unwrap().port, 8883);
        let c = BrokerConfig::from_url("mqtt://[::1]:1999").unwrap();
        assert_eq!((c.host.as_str(), c.port), ("::1", 1999));
        assert_eq!(c.url(), "mqtt://::1:1999");
    }

    #[test]
    fn rejects_bad_urls_with_reason_and_hides_passwords() {
        for (url, reason) in [
            ("localhost:1883", "missing scheme"),
            ("http://x", "unknown scheme"),
            ("mqtt://", "missing host"),
            ("mqtt://h:0", "port \"0\""),
            ("mqtt://h:99999", "port"),
            ("mqtt://h/path", "no path"),
            ("mqtt://h?foo=1", "unknown or empty query parameter \"foo\""),
            ("mqtt://u:secret@h:x", "port"),
        ] {
            let err = BrokerConfig::from_url(url).unwrap_err().to_string();
            assert!(err.contains(reason), "{url}: {err}");
            assert!(!err.contains("secret"), "{err}");
        }
    }
}
