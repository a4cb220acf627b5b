//! Devices and events over MQTT, end to end on one machine.
//!
//! Run: `cargo run -p emma-devices --example mqtt_events`
//!
//! Starts the embedded broker, connects Emma's bus with a durable outbox,
//! subscribes to a lamp's command topic the way a device would, sends it a
//! command through the outbox and prints the command and its acknowledgement.

use std::time::Duration;

use emma_devices::{Bus, BusEvent, BusOptions, EmbeddedBroker, OutboxCommand};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let broker = EmbeddedBroker::start("127.0.0.1:0".parse()?)?;
    println!("embedded broker on {}", broker.addr());
    let (bus, _) = Bus::start(broker.client_config("emma-example"), BusOptions::default())?;
    let mut status = bus.events();
    let mut lamp = bus.subscribe("emma/device/light.kitchen_lamp/set").await?;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let cmd = OutboxCommand::new(
        "emma/device/light.kitchen_lamp/set",
        r#"{"state":"on","brightness":60}"#,
        Duration::from_secs(30),
    );
    bus.send_command(cmd.clone()).await?;
    println!("queued command {}", cmd.id);

    let msg = tokio::time::timeout(Duration::from_secs(5), lamp.recv()).await?;
    if let Some(msg) = msg {
        println!(
            "lamp received on {}: {}",
            msg.topic,
            String::from_utf8_lossy(&msg.payload)
        );
    }
    while let Ok(Ok(ev)) = tokio::time::timeout(Duration::from_secs(5), status.recv()).await {
        if let BusEvent::Acked { id } = ev {
            println!(
                "broker acknowledged {id}; outbox now holds {}",
                bus.pending().await?
            );
            break;
        }
    }
    bus.shutdown().await?;
    Ok(())
}
