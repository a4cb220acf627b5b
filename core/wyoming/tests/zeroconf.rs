//! The zeroconf announcement, browsed for real over multicast DNS in the
//! same process (mdns-sd on both sides; loopback and the machine's
//! interfaces). A non-standard mDNS port keeps the test off the system's
//! responder and other tests.

use std::time::{Duration, Instant};

use emma_wyoming::zeroconf::{SERVICE_TYPE, ZeroconfError, announce_on};
use mdns_sd::{ServiceDaemon, ServiceEvent};

const MDNS_PORT: u16 = 15_353;

#[test]
fn the_service_is_announced_and_found_by_a_browser() {
    let announced =
        announce_on(MDNS_PORT, "emma-test-kitchen", 10_300, &["asr", "wake"]).expect("announce");
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
    assert!(
        !found.get_addresses().is_empty(),
        "resolved without addresses: {found:?}"
    );

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
    let e = announce_on(MDNS_PORT + 1, "", 10_300, &[]).unwrap_err();
    assert!(matches!(e, ZeroconfError::BadName(_)), "{e}");
    let long = "x".repeat(64);
    let e = announce_on(MDNS_PORT + 1, &long, 10_300, &[]).unwrap_err();
    assert!(e.to_string().contains("1 to 63 bytes"), "{e}");
}
