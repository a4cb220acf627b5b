//! The broker a host talks to: Emma's embedded broker on 127.0.0.1, or an
//! external one by URL, with credentials; and the connected [`Bus`].
//!
//! Every host (the `emma` command, the assistant, the bindings) makes the
//! same choice from the same few settings, so it lives here rather than in
//! each front end:
//!
//! ```no_run
//! # async fn f() -> emma_devices::Result<()> {
//! use emma_devices::connect::{BrokerSettings, connect};
//! use emma_devices::BusOptions;
//! let settings = BrokerSettings::from_url("mqtt://emma@broker.lan");
//! let conn = connect(&settings, BusOptions::default(), std::time::Duration::from_secs(5)).await?;
//! # Ok(()) }
//! ```

use std::time::Duration;

use crate::bus::{Bus, BusOptions};
use crate::config::BrokerConfig;
use crate::embedded::EmbeddedBroker;
use crate::error::{DevicesError, Result};
use crate::outbox::OutboxCommand;

/// The client id used when none is given.
pub const DEFAULT_CLIENT_ID: &str = "emma";

/// Which broker to use and as whom.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct BrokerSettings {
    /// `mqtt://[user[:pass]@]host[:port]` or `mqtts://…`; `None`: the embedded broker.
    pub url: Option<String>,
    /// User name; overrides the URL's.
    pub username: Option<String>,
    /// Password; overrides the URL's.
    pub password: Option<String>,
    /// MQTT client id; overrides the URL's `?client_id=`; default [`DEFAULT_CLIENT_ID`].
    pub client_id: Option<String>,
}

impl std::fmt::Debug for BrokerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerSettings")
            .field("url", &self.url.as_ref().map(|_| "<set>"))
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("client_id", &self.client_id)
            .finish()
    }
}

/// Where [`BrokerSettings`] point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerTarget {
    /// Start the embedded broker; the client id to use with it.
    Embedded {
        /// MQTT client id.
        client_id: String,
    },
    /// Connect to this external broker.
    External(BrokerConfig),
}

impl BrokerSettings {
    /// Settings for the embedded broker.
    pub fn embedded() -> BrokerSettings {
        BrokerSettings::default()
    }

    /// Settings for an external broker at `url`.
    pub fn from_url(url: impl Into<String>) -> BrokerSettings {
        BrokerSettings {
            url: Some(url.into()),
            ..BrokerSettings::default()
        }
    }

    /// Checks the settings and says where they point, without touching the
    /// network. Credentials without a URL are an error: the embedded broker
    /// only listens on loopback and takes no logins, so they would be ignored.
    pub fn target(&self) -> Result<BrokerTarget> {
        let Some(url) = &self.url else {
            if self.username.is_some() || self.password.is_some() {
                return Err(DevicesError::BrokerSettings(
                    "a user name or password was given without a broker URL (the embedded broker takes no login); give the URL of the broker they are for".into(),
                ));
            }
            return Ok(BrokerTarget::Embedded {
                client_id: self
                    .client_id
                    .clone()
                    .unwrap_or_else(|| DEFAULT_CLIENT_ID.into()),
            });
        };
        let mut config = BrokerConfig::from_url(url)?;
        if let Some(u) = &self.username {
            config.username = Some(u.clone());
        }
        if let Some(p) = &self.password {
            config.password = Some(p.clone());
        }
        if config.password.is_some() && config.username.is_none() {
            return Err(DevicesError::BrokerSettings(
                "a password needs a user name (mqtt://user:pass@host, or a separate user name)"
                    .into(),
            ));
        }
        if let Some(id) = &self.client_id {
            config.client_id = id.clone();
        } else if !url.contains("client_id=") {
            config.client_id = DEFAULT_CLIENT_ID.into();
        }
        Ok(BrokerTarget::External(config))
    }

    /// The broker configuration to connect with, starting the embedded
    /// broker when no URL is set (it serves until the process exits).
    pub fn resolve(&self) -> Result<(BrokerConfig, Option<EmbeddedBroker>)> {
        match self.target()? {
            BrokerTarget::External(config) => Ok((config, None)),
            BrokerTarget::Embedded { client_id } => {
                let broker = EmbeddedBroker::start_default()?;
                Ok((broker.client_config(&client_id), Some(broker)))
            }
        }
    }
}

/// A bus connected to the broker [`BrokerSettings`] chose.
#[derive(Debug)]
pub struct Connection {
    /// The bus.
    pub bus: Bus,
    /// The embedded broker, when one was started.
    pub embedded: Option<EmbeddedBroker>,
    /// Commands that expired in the outbox while Emma was not running; dropped, not sent.
    pub expired: Vec<OutboxCommand>,
}

/// Resolves `settings`, starts the bus with `options` and waits up to
/// `timeout` for the broker to accept the connection.
pub async fn connect(
    settings: &BrokerSettings,
    options: BusOptions,
    timeout: Duration,
) -> Result<Connection> {
    let (config, embedded) = settings.resolve()?;
    let (bus, expired) = Bus::start(config, options)?;
    bus.wait_connected(timeout).await?;
    Ok(Connection {
        bus,
        embedded,
        expired,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn external(s: &BrokerSettings) -> BrokerConfig {
        match s.target().unwrap() {
            BrokerTarget::External(c) => c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_url_is_the_embedded_broker() {
        assert_eq!(
            BrokerSettings::embedded().target().unwrap(),
            BrokerTarget::Embedded {
                client_id: DEFAULT_CLIENT_ID.into()
            }
        );
        let s = BrokerSettings {
            client_id: Some("emma-cli".into()),
            ..BrokerSettings::default()
        };
        assert_eq!(
            s.target().unwrap(),
            BrokerTarget::Embedded {
                client_id: "emma-cli".into()
            }
        );
    }

    #[test]
    fn flags_override_the_urls_credentials_and_client_id() {
        let c = external(&BrokerSettings::from_url(
            "mqtt://ann:secret@broker.lan:1884",
        ));
        assert_eq!((c.host.as_str(), c.port), ("broker.lan", 1884));
        assert_eq!(c.username.as_deref(), Some("ann"));
        assert_eq!(c.password.as_deref(), Some("secret"));
        assert_eq!(c.client_id, DEFAULT_CLIENT_ID);
        let c = external(&BrokerSettings {
            username: Some("bob".into()),
            password: Some("pw".into()),
            client_id: Some("kitchen".into()),
            ..BrokerSettings::from_url("mqtts://ann:secret@broker.lan?client_id=x")
        });
        assert_eq!(c.username.as_deref(), Some("bob"));
        assert_eq!(c.password.as_deref(), Some("pw"));
        assert_eq!(c.client_id, "kitchen");
        assert!(c.tls);
        let c = external(&BrokerSettings::from_url("mqtt://h?client_id=x"));
        assert_eq!(c.client_id, "x");
    }

    #[test]
    fn credentials_without_a_url_or_user_are_refused() {
        let e = BrokerSettings {
            password: Some("pw".into()),
            ..BrokerSettings::default()
        }
        .target()
        .unwrap_err()
        .to_string();
        assert!(e.contains("without a broker URL"), "{e}");
        let e = BrokerSettings {
            password: Some("pw".into()),
            ..BrokerSettings::from_url("mqtt://h")
        }
        .target()
        .unwrap_err()
        .to_string();
        assert!(e.contains("needs a user name"), "{e}");
        assert!(BrokerSettings::from_url("http://h").target().is_err());
    }

    #[test]
    fn debug_output_hides_the_password_and_url() {
        let s = BrokerSettings {
            password: Some("hunter2".into()),
            ..BrokerSettings::from_url("mqtt://a:hunter2@h")
        };
        let text = format!("{s:?}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
