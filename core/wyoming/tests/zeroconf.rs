//! The zeroconf announcement, browsed for real over multicast DNS in the
//! same process (mdns-sd on both sides, over loopback and the machine's
//! interfaces: multicast works in this sandbox). A non-standard mDNS port
//! keeps the test off the system's responder and other tests.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use emma_wyoming::zeroconf::{SERVICE_TYPE, ZeroconfError, announce_on};
use mdns_sd::{ServiceDaemon, ServiceEvent};

const MDNS_PORT: u16 = 15_353;

#[test]
fn the_service_is_announced_and_found_by_a_browser() {
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let announced = announce_on(
        MDNS_PORT,
        "emma-test-kitchen",
        loopback,
        10_300,
        &["asr", "wake"],
    )
    .expect("announce");
    assert_eq!(
        announced.fullname(),
        "emma-test-kitchen._wyoming._tcp.local."
    );

    let browser = ServiceDaemon::new_with_port(MDNS_PORT).expect("browser daemon");
    let events = browser.browse(SERVICE_TYPE).expect("browse");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = vec![];
    let found = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "no resolved {SERVICE_TYPE} instance within 10 s; events: {seen:?}"
        );
        match events.recv_timeout(left) {
            Ok(ServiceEvent::ServiceResolved(s)) if s.get_fullname() == announced.fullname() => {
                break s;
            }
            Ok(other) => seen.push(format!("{other:?}")),
            Err(e) => panic!("browsing ended: {e}; events: {seen:?}"),
        }
    };
    assert_eq!(found.get_port(), 10_300);
    assert_eq!(found.get_property_val_str("services"), Some("asr,wake"));
    assert_eq!(found.get_property_val_str("implementation"), Some("emma"));
    // The address the server listens on, and only that one.
    let addresses: Vec<IpAddr> = found
        .get_addresses()
        .iter()
        .map(|a| a.to_ip_addr())
        .collect();
    assert_eq!(addresses, [loopback], "{found:?}");

    // Dropping the announcement says goodbye: the browser sees it removed.
    let fullname = announced.fullname().to_string();
    drop(announced);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no removal of {fullname} within 10 s");
        if let Ok(ServiceEvent::ServiceRemoved(_, name)) = events.recv_timeout(left)
            && name == fullname
        {
            break;
        }
    }
    let _ = browser.shutdown();
}

#[test]
fn bad_instance_names_are_refused() {
    let e = announce_on(MDNS_PORT + 1, "", Ipv4Addr::LOCALHOST.into(), 10_300, &[]).unwrap_err();
    assert!(matches!(e, ZeroconfError::BadName(_)), "{e}");
    let long = "x".repeat(64);
    let e = announce_on(
        MDNS_PORT + 1,
        &long,
        Ipv4Addr::LOCALHOST.into(),
        10_300,
        &[],
    )
    .unwrap_err();
    assert!(e.to_string().contains("1 to 63 bytes"), "{e}");
}

#[test]
fn a_server_on_every_interface_is_announced_with_their_addresses() {
    let announced = announce_on(
        MDNS_PORT + 2,
        "emma-test-everywhere",
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        10_400,
        &["wake"],
    )
    .expect("announce");
    let browser = ServiceDaemon::new_with_port(MDNS_PORT + 2).expect("browser daemon");
    let events = browser.browse(SERVICE_TYPE).expect("browse");
    let deadline = Instant::now() + Duration::from_secs(10);
    let found = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "not resolved within 10 s");
        if let Ok(ServiceEvent::ServiceResolved(s)) = events.recv_timeout(left)
            && s.get_fullname() == announced.fullname()
            && !s.get_addresses().is_empty()
        {
            break s;
        }
    };
    assert_eq!(found.get_port(), 10_400);
    let addresses: Vec<IpAddr> = found
        .get_addresses()
        .iter()
        .map(|a| a.to_ip_addr())
        .collect();
    // Real interface addresses, never the unspecified one.
    assert!(
        addresses.iter().all(|a| !a.is_unspecified()),
        "{addresses:?}"
    );
    let _ = browser.shutdown();
}
