//! The desk's MQTT side: broker URLs, the shared subscriptions, and taking messages off the wire.
//!
//! Messages are acknowledged (QoS 1, manual acks) only after they are stored, so a worker killed between
//! receiving and storing leaves the message with the broker, which delivers it again; storing is idempotent
//! by id, so a message delivered twice is stored once.

use std::time::Duration;

use emma_handoff::{HandoffRequest, Limits, TouchpointReport, topic};
use rumqttc::{MqttOptions, QoS};

use crate::error::{DeskError, Result};

/// Largest packet the desk's client accepts. Larger than [`Limits::max_bytes`] on purpose: an oversized
/// message is then refused by [`emma_handoff::decode`] with a log line and acknowledged, instead of breaking
/// the connection (and being redelivered for ever). Limit the broker's `max_packet_size` too.
pub const MAX_PACKET: usize = 8 * 1024 * 1024;

/// A broker address: `mqtt://[user[:password]@]host[:port]` (port 1883 by default; `tcp://` too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// User name, if any.
    pub username: Option<String>,
    /// Password, if any.
    pub password: Option<String>,
}

impl Broker {
    /// Parses a broker URL.
    pub fn parse(url: &str) -> Result<Broker> {
        let bad = |message: &str| DeskError::Broker {
            url: crate::store::redact(url),
            message: message.into(),
        };
        let rest = if let Some(r) = url.strip_prefix("mqtt://") {
            r
        } else if let Some(r) = url.strip_prefix("tcp://") {
            r
        } else if url.starts_with("mqtts://") || url.starts_with("ssl://") {
            return Err(bad(
                "TLS is not supported by the desk yet; connect to a listener on loopback or a private network",
            ));
        } else {
            return Err(bad("expected mqtt://host[:port]"));
        };
        let rest = rest.trim_end_matches('/');
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (username, password) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((n, p)) => (Some(n.to_owned()), Some(p.to_owned())),
                None => (Some(u.to_owned()), None),
            },
            None => (None, None),
        };
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            let (h, after) = h
                .split_once(']')
                .ok_or_else(|| bad("unclosed `[` in host"))?;
            (h, after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() || host.contains('/') {
            return Err(bad("missing or invalid host"));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad("port must be 1 to 65535"))?,
            None => 1883,
        };
        Ok(Broker {
            host: host.to_owned(),
            port,
            username,
            password,
        })
    }

    /// Client options for a desk worker: a persistent session (`clean_session = false`) under `client_id`,
    /// so QoS 1 messages wait at the broker while the worker restarts, and manual acknowledgements.
    pub fn options(&self, client_id: &str) -> MqttOptions {
        let mut o = MqttOptions::new(client_id, self.host.clone(), self.port);
        o.set_keep_alive(Duration::from_secs(15));
        o.set_clean_session(false);
        o.set_manual_acks(true);
        o.set_max_packet_size(MAX_PACKET, MAX_PACKET);
        if let Some(u) = &self.username {
            o.set_credentials(u.clone(), self.password.clone().unwrap_or_default());
        }
        o
    }
}

/// The shared subscriptions of a desk worker.
pub fn subscriptions() -> [(&'static str, QoS); 2] {
    [
        (topic::DESK_SHARED_HANDOFFS, QoS::AtLeastOnce),
        (topic::DESK_SHARED_TOUCHPOINTS, QoS::AtLeastOnce),
    ]
}

/// A message from a home, decoded and checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A handoff request.
    Handoff(HandoffRequest),
    /// A touchpoint report.
    Touchpoints(TouchpointReport),
}

/// Decodes a message received on `topic`, refusing (with a message naming the topic and field) anything
/// malformed, oversized, on an unexpected topic, or whose brand differs from the topic's.
pub fn decode(topic_name: &str, payload: &[u8], limits: &Limits) -> Result<Incoming, String> {
    let brand = topic::brand_of(topic_name)
        .ok_or_else(|| format!("topic `{}` is not a desk topic", shown_topic(topic_name)))?;
    let incoming = if topic_name.ends_with("/handoff") {
        emma_handoff::decode::<HandoffRequest>(payload, limits).map(Incoming::Handoff)
    } else {
        emma_handoff::decode::<TouchpointReport>(payload, limits).map(Incoming::Touchpoints)
    }
    .map_err(|e| format!("on `{topic_name}`: {e}"))?;
    let inner = match &incoming {
        Incoming::Handoff(h) => &h.brand,
        Incoming::Touchpoints(t) => &t.brand,
    };
    if inner != brand {
        return Err(format!(
            "on `{topic_name}`: brand `{inner}` in the message differs from the topic's `{brand}`"
        ));
    }
    Ok(incoming)
}

fn shown_topic(t: &str) -> String {
    emma_untrusted::line(t, 200)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls() {
        let b = Broker::parse("mqtt://desk:pw@broker.local:1884").unwrap();
        assert_eq!(
            (
                b.host.as_str(),
                b.port,
                b.username.as_deref(),
                b.password.as_deref()
            ),
            ("broker.local", 1884, Some("desk"), Some("pw"))
        );
        assert_eq!(Broker::parse("mqtt://[::1]").unwrap().port, 1883);
        for bad in [
            "http://x",
            "mqtt://",
            "mqtt://h:0",
            "mqtt://h:99999",
            "mqtts://h",
        ] {
            assert!(Broker::parse(bad).is_err(), "{bad}");
        }
        let err = Broker::parse("mqtt://u:secret@h:x")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn refuses_wrong_topics_and_brands() {
        let limits = Limits::default();
        let err = decode("emma/desk/acme/other", b"{}", &limits).unwrap_err();
        assert!(err.contains("not a desk topic"), "{err}");
        let err = decode("emma/desk/acme/handoff", b"{", &limits).unwrap_err();
        assert!(
            err.contains("emma/desk/acme/handoff") && err.contains("handoff:"),
            "{err}"
        );
        let report = br#"{"v":1,"id":"r1","home":"h1","brand":"other","period_start_ms":0,"period_end_ms":1,"stats":[]}"#;
        let err = decode("emma/desk/acme/touchpoints", report, &limits).unwrap_err();
        assert!(err.contains("differs"), "{err}");
        assert!(matches!(
            decode("emma/desk/other/touchpoints", report, &limits),
            Ok(Incoming::Touchpoints(_))
        ));
    }
}
