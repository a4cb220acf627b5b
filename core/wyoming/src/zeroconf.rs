//! Zeroconf (mDNS/DNS-SD) announcement of a Wyoming server as
//! `_wyoming._tcp.local.`, the service type Home Assistant's Wyoming
//! integration discovers, with the `mdns-sd` crate (pure Rust, its own
//! thread, no async runtime needed).
//!
//! The announcement gives the address the server listens on, or every
//! address of the machine's interfaces when it listens on all of them
//! (`0.0.0.0`, `::`), and carries TXT records `services` (what the server
//! offers, e.g. `asr,intent,handle,wake,tts`) and `implementation=emma`. It
//! is withdrawn (a goodbye packet) when the [`Announcement`] is dropped.

use std::net::IpAddr;

use mdns_sd::{ServiceDaemon, ServiceInfo};

/// The DNS-SD service type of Wyoming servers.
pub const SERVICE_TYPE: &str = "_wyoming._tcp.local.";

/// The standard mDNS port.
pub const MDNS_PORT: u16 = 5353;

/// Why the service could not be announced.
#[derive(Debug, thiserror::Error)]
pub enum ZeroconfError {
    /// The instance name is empty or too long for a DNS label.
    #[error("zeroconf instance name {0:?} must have 1 to 63 bytes")]
    BadName(String),
    /// The mDNS daemon failed (sockets, registration).
    #[error("zeroconf: {0}")]
    Mdns(String),
}

/// A live announcement; dropping it withdraws it.
pub struct Announcement {
    daemon: ServiceDaemon,
    fullname: String,
}

impl std::fmt::Debug for Announcement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Announcement")
            .field("fullname", &self.fullname)
            .finish_non_exhaustive()
    }
}

impl Announcement {
    /// The instance's full name, e.g. `emma-kitchen._wyoming._tcp.local.`.
    pub fn fullname(&self) -> &str {
        &self.fullname
    }
}

impl Drop for Announcement {
    fn drop(&mut self) {
        if let Ok(done) = self.daemon.unregister(&self.fullname) {
            // The goodbye goes out on the daemon's thread; wait for it briefly.
            let _ = done.recv_timeout(std::time::Duration::from_secs(1));
        }
        let _ = self.daemon.shutdown();
    }
}

/// Announces a Wyoming server listening on `ip` (unspecified: every
/// interface) and TCP `port` as `instance` on the standard mDNS port;
/// `services` go into the `services` TXT record.
pub fn announce(
    instance: &str,
    ip: IpAddr,
    port: u16,
    services: &[&str],
) -> Result<Announcement, ZeroconfError> {
    announce_on(MDNS_PORT, instance, ip, port, services)
}

/// [`announce`] on another mDNS port than 5353 (tests, or a host where the
/// system's mDNS responder owns 5353 exclusively).
pub fn announce_on(
    mdns_port: u16,
    instance: &str,
    ip: IpAddr,
    port: u16,
    services: &[&str],
) -> Result<Announcement, ZeroconfError> {
    if instance.is_empty() || instance.len() > 63 {
        return Err(ZeroconfError::BadName(instance.chars().take(80).collect()));
    }
    let mdns = |e: mdns_sd::Error| ZeroconfError::Mdns(e.to_string());
    let daemon = ServiceDaemon::new_with_port(mdns_port).map_err(mdns)?;
    // The host name is a DNS label made from the instance name.
    let label: String = instance
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let host = format!("{}.local.", label.trim_matches('-'));
    let joined = services.join(",");
    let properties = [("services", joined.as_str()), ("implementation", "emma")];
    let info = if ip.is_unspecified() {
        ServiceInfo::new(SERVICE_TYPE, instance, &host, "", port, &properties[..])
            .map_err(mdns)?
            .enable_addr_auto()
    } else {
        ServiceInfo::new(SERVICE_TYPE, instance, &host, ip, port, &properties[..]).map_err(mdns)?
    };
    let fullname = info.get_fullname().to_string();
    daemon.register(info).map_err(mdns)?;
    Ok(Announcement { daemon, fullname })
}
