//! The embedded broker (`rumqttd`): zero-config MQTT on localhost.
//!
//! rumqttd keeps sessions and retained messages in memory only; Emma's outbox
//! (not the broker) is what makes commands survive restarts. The broker runs on
//! its own threads for the rest of the process (rumqttd has no stop call).

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use rumqttd::{Config, ConnectionSettings, RouterConfig, ServerSettings};

use crate::config::BrokerConfig;
use crate::error::{DevicesError, Result};

/// The largest payload the embedded broker accepts (bigger ones close the connection).
pub const MAX_PAYLOAD: usize = 1024 * 1024;

/// A running embedded broker.
#[derive(Debug, Clone)]
pub struct EmbeddedBroker {
    addr: SocketAddr,
}

impl EmbeddedBroker {
    /// Starts a broker on `127.0.0.1`: port 1883 if it is free, else a free port.
    pub fn start_default() -> Result<EmbeddedBroker> {
        let port = if port_free(1883) { 1883 } else { free_port()? };
        EmbeddedBroker::start(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    /// Starts a broker listening on `addr` (port 0: any free port) and waits until it accepts connections.
    pub fn start(addr: SocketAddr) -> Result<EmbeddedBroker> {
        let addr = if addr.port() == 0 {
            SocketAddr::new(addr.ip(), free_port()?)
        } else {
            addr
        };
        let fail = |reason: String| DevicesError::EmbeddedBroker {
            addr: addr.to_string(),
            reason,
        };
        if !port_free_at(addr) {
            return Err(fail("the address is in use; pick another port or use --broker to connect to the running broker".into()));
        }
        let config = broker_config(addr);
        let mut broker = rumqttd::Broker::new(config);
        std::thread::Builder::new()
            .name("emma-broker".into())
            .spawn(move || {
                if let Err(e) = broker.start() {
                    tracing::error!(error = %e, "embedded broker stopped");
                }
            })
            .map_err(|e| fail(format!("cannot start the broker thread: {e}")))?;
        let deadline = Instant::now() + Duration::from_secs(5);
        // Ready once the address is taken (binding it fails); probing with a
        // connection would make the broker log an aborted client.
        while port_free_at(addr) {
            if Instant::now() > deadline {
                return Err(fail(
                    "the broker did not accept connections within 5 s; run with -vv for its log"
                        .into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        tracing::info!(%addr, "embedded mqtt broker listening");
        Ok(EmbeddedBroker { addr })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A client configuration pointing at it.
    pub fn client_config(&self, client_id: &str) -> BrokerConfig {
        let mut c = BrokerConfig::new(self.addr.ip().to_string(), self.addr.port());
        c.client_id = client_id.to_string();
        c
    }
}

fn broker_config(addr: SocketAddr) -> Config {
    let connections = ConnectionSettings {
        connection_timeout_ms: 60_000,
        max_payload_size: MAX_PAYLOAD,
        max_inflight_count: 500,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = ServerSettings {
        name: "emma-v4".into(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 1,
        connections,
    };
    let router = RouterConfig {
        max_connections: 10_010,
        max_outgoing_packet_count: 200,
        max_segment_size: 100 * 1024 * 1024,
        max_segment_count: 10,
        custom_segment: None,
        initialized_filters: None,
        shared_subscriptions_strategy: Default::default(),
    };
    Config {
        id: 0,
        router,
        v4: Some(HashMap::from([("1".to_string(), server)])),
        v5: None,
        ws: None,
        cluster: None,
        console: None,
        bridge: None,
        prometheus: None,
        metrics: None,
    }
}

fn port_free(port: u16) -> bool {
    port_free_at(SocketAddr::from(([127, 0, 0, 1], port)))
}

fn port_free_at(addr: SocketAddr) -> bool {
    TcpListener::bind(addr).is_ok()
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16> {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| DevicesError::EmbeddedBroker {
            addr: "127.0.0.1:0".into(),
            reason: format!("no free port: {e}"),
        })
}
