//! The MQTT bus: one task owns the connection, everyone else holds a [`Bus`] handle.
//!
//! The task (spawned by [`Bus::start`]) polls rumqttc's event loop, sends
//! outbox commands a window at a time, maps each PUBACK back to its command
//! and deletes it from the outbox, re-subscribes and re-sends after every
//! reconnect, drops expired commands (reporting them as [`BusEvent::Expired`])
//! and hands incoming messages to subscribers. Handles talk to it over a
//! channel, so a [`Bus`] is cheap to clone and `Send`.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::time::Duration;

use rumqttc::{
    AsyncClient, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS, Request, Transport,
};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::config::BrokerConfig;
use crate::error::{DevicesError, Result};
use crate::outbox::{Outbox, OutboxCommand, now_ms};
use crate::topic;

/// Largest incoming MQTT packet the client accepts (bigger ones drop the connection).
pub const MAX_INCOMING_PACKET: usize = 8 * 1024 * 1024;

/// Where Emma-protocol devices confirm commands by id.
pub const DEFAULT_CONFIRM_TOPIC: &str = "emma/confirm";

/// Options of the bus beyond the broker address.
#[derive(Debug, Clone)]
pub struct BusOptions {
    /// The outbox database (`:memory:` keeps nothing across restarts).
    pub outbox_path: PathBuf,
    /// How many commands may wait for the broker before [`DevicesError::OutboxFull`].
    pub outbox_limit: usize,
    /// How many commands may be on the wire without a PUBACK.
    pub window: usize,
    /// MQTT keep-alive.
    pub keep_alive: Duration,
    /// Pause between reconnect attempts.
    pub reconnect_delay: Duration,
    /// How often expired commands are looked for.
    pub expiry_check: Duration,
    /// Where devices confirm commands that asked for it ([`OutboxCommand::confirm`]):
    /// the payload is the command id, or a JSON object with an `id` field.
    pub confirm_topic: String,
    /// How long a broker-acknowledged command waits for its device confirmation before it is sent again.
    pub confirm_timeout: Duration,
    /// Subscriptions (filter, sink) in place before the bus connects. Messages the broker kept for
    /// this client's session while it was away arrive right after the connection — before a
    /// later [`Bus::subscribe`] may have registered its sink — so subscribe to those here.
    pub subscriptions: Vec<(String, mpsc::Sender<Message>)>,
}

impl Default for BusOptions {
    fn default() -> Self {
        BusOptions {
            outbox_path: PathBuf::from(":memory:"),
            outbox_limit: crate::outbox::DEFAULT_LIMIT,
            window: 100,
            keep_alive: Duration::from_secs(5),
            reconnect_delay: Duration::from_millis(200),
            expiry_check: Duration::from_millis(500),
            confirm_topic: DEFAULT_CONFIRM_TOPIC.into(),
            confirm_timeout: Duration::from_secs(3),
            subscriptions: Vec::new(),
        }
    }
}

/// An MQTT message that arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its topic.
    pub topic: String,
    /// Its payload, as sent.
    pub payload: Vec<u8>,
    /// Whether the broker replayed it as a retained message.
    pub retain: bool,
}

/// What the bus reports about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusEvent {
    /// Connected (or reconnected) to the broker.
    Connected {
        /// Whether the broker still had this client's session.
        session_present: bool,
    },
    /// Lost the broker; it will reconnect.
    Disconnected {
        /// Why.
        reason: String,
    },
    /// A command is done and left the outbox: the broker acknowledged it, or
    /// (for commands that asked for it) the device confirmed it.
    Acked {
        /// The command id.
        id: String,
    },
    /// A command expired before the broker acknowledged it; it was dropped, not sent.
    Expired(OutboxCommand),
}

enum Req {
    Command(OutboxCommand, oneshot::Sender<Result<()>>),
    Publish(String, Vec<u8>, QoS, bool, oneshot::Sender<Result<()>>),
    Announce(String, Vec<u8>),
    Subscribe(String, mpsc::Sender<Message>),
    Pending(oneshot::Sender<usize>),
    Shutdown(oneshot::Sender<()>),
}

/// A handle to the MQTT bus task. Clone it freely.
#[derive(Clone, Debug)]
pub struct Bus {
    tx: mpsc::Sender<Req>,
    connected: watch::Receiver<bool>,
    events: broadcast::Sender<BusEvent>,
    config: BrokerConfig,
}

fn mqtt_options(config: &BrokerConfig, opts: &BusOptions) -> Result<MqttOptions> {
    let mut o = MqttOptions::new(config.client_id.clone(), config.host.clone(), config.port);
    o.set_keep_alive(opts.keep_alive.max(Duration::from_secs(1)));
    o.set_clean_session(false);
    o.set_max_packet_size(MAX_INCOMING_PACKET, MAX_INCOMING_PACKET);
    o.set_inflight(opts.window.clamp(1, u16::MAX as usize) as u16);
    if let Some(user) = &config.username {
        o.set_credentials(user.clone(), config.password.clone().unwrap_or_default());
    }
    if config.tls {
        let tls = match &config.ca_file {
            Some(path) => {
                let ca = std::fs::read(path).map_err(|e| DevicesError::Mqtt {
                    broker: config.address(),
                    reason: format!("cannot read CA file {}: {e}", path.display()),
                })?;
                rumqttc::TlsConfiguration::Simple {
                    ca,
                    alpn: None,
                    client_auth: None,
                }
            }
            None => rumqttc::TlsConfiguration::default(),
        };
        o.set_transport(Transport::tls_with_config(tls));
    }
    Ok(o)
}

impl Bus {
    /// Opens the outbox, connects to the broker (in the background; it keeps
    /// retrying) and spawns the bus task on the current tokio runtime.
    ///
    /// Commands left in the outbox by an earlier run are re-sent; the ones that
    /// expired meanwhile are dropped and reported as [`BusEvent::Expired`] — call
    /// [`Bus::events`] on the returned bus before awaiting anything to see them,
    /// or read them from the second value returned.
    pub fn start(config: BrokerConfig, mut opts: BusOptions) -> Result<(Bus, Vec<OutboxCommand>)> {
        let mut outbox = Outbox::open(&opts.outbox_path, opts.outbox_limit)?;
        let expired = outbox.take_expired(now_ms())?;
        for cmd in &expired {
            tracing::warn!(id = %cmd.id, topic = %cmd.topic, "command expired before it was acknowledged; dropped");
        }
        let queue: VecDeque<OutboxCommand> = outbox.pending()?.into();
        if !queue.is_empty() {
            tracing::info!(
                commands = queue.len(),
                "replaying commands left in the outbox"
            );
        }
        let options = mqtt_options(&config, &opts)?;
        let (client, eventloop) = AsyncClient::new(options, opts.window.max(10) * 2);
        let (tx, rx) = mpsc::channel(1024);
        let (events, _) = broadcast::channel(16 * 1024);
        let (connected_tx, connected) = watch::channel(false);
        let task = Task {
            client,
            outbox,
            queue,
            fifo: VecDeque::new(),
            pkids: HashMap::new(),
            on_wire: HashMap::new(),
            unconfirmed: HashMap::new(),
            subs: std::mem::take(&mut opts.subscriptions),
            announcements: Vec::new(),
            connected: false,
            connected_tx,
            events: events.clone(),
            opts,
            broker: config.address(),
        };
        tokio::spawn(task.run(eventloop, rx));
        Ok((
            Bus {
                tx,
                connected,
                events,
                config,
            },
            expired,
        ))
    }

    /// The broker this bus talks to.
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// Whether the bus is connected to the broker right now.
    pub fn is_connected(&self) -> bool {
        *self.connected.borrow()
    }

    /// Waits until the bus is connected; an error naming the broker on timeout.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<()> {
        let mut rx = self.connected.clone();
        let res = tokio::time::timeout(timeout, rx.wait_for(|c| *c)).await;
        match res {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(DevicesError::BusStopped),
            Err(_) => Err(DevicesError::Mqtt {
                broker: self.config.address(),
                reason: format!(
                    "not connected after {:.1} s; is the broker running and reachable?",
                    timeout.as_secs_f64()
                ),
            }),
        }
    }

    /// Status events: connections, acknowledgements, expiries.
    pub fn events(&self) -> broadcast::Receiver<BusEvent> {
        self.events.subscribe()
    }

    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Req) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(make(tx))
            .await
            .map_err(|_| DevicesError::BusStopped)?;
        rx.await.map_err(|_| DevicesError::BusStopped)
    }

    /// Queues a device command: it is in the outbox (on disk) when this returns
    /// `Ok`, and is sent QoS 1 until the broker acknowledges it or it expires.
    pub async fn send_command(&self, cmd: OutboxCommand) -> Result<()> {
        self.call(|tx| Req::Command(cmd, tx)).await?
    }

    /// Publishes a non-command message (state, Hermes, discovery) once, without the outbox.
    pub async fn publish(
        &self,
        topic: impl Into<String>,
        payload: impl Into<Vec<u8>>,
        qos: QoS,
        retain: bool,
    ) -> Result<()> {
        let (topic, payload) = (topic.into(), payload.into());
        self.call(|tx| Req::Publish(topic, payload, qos, retain, tx))
            .await?
    }

    /// Publishes a retained message now and again after every reconnect
    /// (Emma's own discovery configs: the embedded broker forgets them on restart).
    pub async fn announce(
        &self,
        topic: impl Into<String>,
        payload: impl Into<Vec<u8>>,
    ) -> Result<()> {
        self.tx
            .send(Req::Announce(topic.into(), payload.into()))
            .await
            .map_err(|_| DevicesError::BusStopped)
    }

    /// Messages on topics matching `filter`, delivered into `sink` (a full sink slows the bus down; nothing is dropped).
    pub async fn subscribe_into(
        &self,
        filter: impl Into<String>,
        sink: mpsc::Sender<Message>,
    ) -> Result<()> {
        self.tx
            .send(Req::Subscribe(filter.into(), sink))
            .await
            .map_err(|_| DevicesError::BusStopped)
    }

    /// Messages on topics matching `filter` (`+`/`#` wildcards).
    pub async fn subscribe(&self, filter: impl Into<String>) -> Result<mpsc::Receiver<Message>> {
        let (tx, rx) = mpsc::channel(4096);
        self.subscribe_into(filter, tx).await?;
        Ok(rx)
    }

    /// How many commands wait in the outbox.
    pub async fn pending(&self) -> Result<usize> {
        self.call(Req::Pending).await
    }

    /// Waits until the outbox is empty; `false` on timeout.
    pub async fn flush(&self, timeout: Duration) -> Result<bool> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.pending().await? == 0 {
                return Ok(true);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Disconnects cleanly and stops the task. Commands still in the outbox stay there for the next run.
    pub async fn shutdown(&self) -> Result<()> {
        self.call(Req::Shutdown).await
    }
}

struct Task {
    client: AsyncClient,
    outbox: Outbox,
    /// Commands waiting to be handed to rumqttc, oldest first.
    queue: VecDeque<OutboxCommand>,
    /// For every QoS ≥ 1 publish handed to rumqttc, in order: the command id, or `None` for non-commands.
    fifo: VecDeque<Option<String>>,
    /// Packet id → command id, from rumqttc's outgoing-publish events until the PUBACK.
    pkids: HashMap<u16, String>,
    /// Commands handed to rumqttc and not yet acknowledged by the broker, by id.
    on_wire: HashMap<String, OutboxCommand>,
    /// Commands the broker acknowledged that wait for their device's confirmation, by id.
    unconfirmed: HashMap<String, (OutboxCommand, tokio::time::Instant)>,
    subs: Vec<(String, mpsc::Sender<Message>)>,
    announcements: Vec<(String, Vec<u8>)>,
    connected: bool,
    connected_tx: watch::Sender<bool>,
    events: broadcast::Sender<BusEvent>,
    opts: BusOptions,
    broker: String,
}

impl Task {
    async fn run(mut self, mut eventloop: EventLoop, mut rx: mpsc::Receiver<Req>) {
        enum Step {
            Event(std::result::Result<Event, rumqttc::ConnectionError>),
            Stop(Option<oneshot::Sender<()>>),
        }
        let mut tick = tokio::time::interval(self.opts.expiry_check);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut retry_at: Option<tokio::time::Instant> = None;
        loop {
            // One poll future lives until it completes: requests and ticks are
            // served meanwhile without cancelling a connect or a read half-way.
            let step = {
                let wait = retry_at.take();
                let poll = async {
                    if let Some(at) = wait {
                        tokio::time::sleep_until(at).await;
                    }
                    eventloop.poll().await
                };
                tokio::pin!(poll);
                loop {
                    tokio::select! {
                        ev = &mut poll => break Step::Event(ev),
                        req = rx.recv() => match req {
                            Some(Req::Shutdown(done)) => break Step::Stop(Some(done)),
                            None => break Step::Stop(None),
                            Some(req) => self.handle(req),
                        },
                        _ = tick.tick() => {
                            self.expire();
                            self.pump();
                        }
                    }
                }
            };
            match step {
                Step::Event(Ok(ev)) => self.on_event(ev).await,
                Step::Event(Err(e)) => {
                    self.on_disconnect(&mut eventloop, e.to_string());
                    retry_at = Some(tokio::time::Instant::now() + self.opts.reconnect_delay);
                }
                Step::Stop(done) => {
                    self.stop(&mut eventloop).await;
                    if let Some(done) = done {
                        let _ = done.send(());
                    }
                    return;
                }
            }
        }
    }

    async fn stop(&mut self, eventloop: &mut EventLoop) {
        if self.connected {
            let _ = self.client.try_disconnect();
            // Give queued publishes time to leave before the DISCONNECT.
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                while let Ok(ev) = eventloop.poll().await {
                    if matches!(ev, Event::Outgoing(Outgoing::Disconnect)) {
                        break;
                    }
                }
            })
            .await;
        }
    }

    fn handle(&mut self, req: Req) {
        match req {
            Req::Command(cmd, reply) => {
                let res = self.outbox.push(&cmd);
                if res.is_ok() {
                    self.queue.push_back(cmd);
                    self.pump();
                }
                let _ = reply.send(res);
            }
            Req::Publish(topic, payload, qos, retain, reply) => {
                let res = self.raw_publish(topic, payload, qos, retain);
                let _ = reply.send(res);
            }
            Req::Announce(topic, payload) => {
                if self.connected {
                    let _ =
                        self.raw_publish(topic.clone(), payload.clone(), QoS::AtLeastOnce, true);
                }
                self.announcements.retain(|(t, _)| *t != topic);
                self.announcements.push((topic, payload));
            }
            Req::Subscribe(filter, sink) => {
                if self.connected && !self.subs.iter().any(|(f, _)| *f == filter) {
                    let _ = self.client.try_subscribe(filter.clone(), QoS::AtLeastOnce);
                }
                self.subs.push((filter, sink));
            }
            Req::Pending(reply) => {
                let _ = reply.send(self.outbox.len());
            }
            Req::Shutdown(done) => {
                // Handled in `run`; answering here keeps a caller from hanging if it ever gets here.
                let _ = done.send(());
            }
        }
    }

    fn raw_publish(
        &mut self,
        topic: String,
        payload: Vec<u8>,
        qos: QoS,
        retain: bool,
    ) -> Result<()> {
        let qos = if qos == QoS::ExactlyOnce {
            QoS::AtLeastOnce
        } else {
            qos
        };
        self.client
            .try_publish(topic, qos, retain, payload)
            .map_err(|e| DevicesError::Mqtt {
                broker: self.broker.clone(),
                reason: format!("cannot queue the publish: {e}"),
            })?;
        if qos != QoS::AtMostOnce {
            self.fifo.push_back(None);
        }
        Ok(())
    }

    /// Hands queued commands to rumqttc while connected and the window has room.
    fn pump(&mut self) {
        if !self.connected {
            return;
        }
        let now = now_ms();
        while self.on_wire.len() < self.opts.window {
            let Some(cmd) = self.queue.pop_front() else {
                break;
            };
            if cmd.expired_at(now) {
                self.drop_expired(cmd);
                continue;
            }
            match self.client.try_publish(
                cmd.topic.clone(),
                QoS::AtLeastOnce,
                cmd.retain,
                cmd.payload.clone(),
            ) {
                Ok(()) => {
                    self.fifo.push_back(Some(cmd.id.clone()));
                    self.on_wire.insert(cmd.id.clone(), cmd);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "client request channel full; retrying later");
                    self.queue.push_front(cmd);
                    break;
                }
            }
        }
    }

    fn drop_expired(&mut self, cmd: OutboxCommand) {
        match self.outbox.ack(&cmd.id) {
            Ok(_) => {
                tracing::warn!(id = %cmd.id, topic = %cmd.topic, "command expired before it was sent; dropped");
                let _ = self.events.send(BusEvent::Expired(cmd));
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot remove an expired command from the outbox")
            }
        }
    }

    fn expire(&mut self) {
        let now = now_ms();
        let (stale, fresh): (Vec<_>, Vec<_>) =
            self.queue.drain(..).partition(|c| c.expired_at(now));
        self.queue = fresh.into();
        for cmd in stale {
            self.drop_expired(cmd);
        }
        let waited_out: Vec<String> = self
            .unconfirmed
            .iter()
            .filter(|(_, (cmd, since))| {
                cmd.expired_at(now) || since.elapsed() >= self.opts.confirm_timeout
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in waited_out {
            let (cmd, _) = self.unconfirmed.remove(&id).expect("listed above");
            if cmd.expired_at(now) {
                self.drop_expired(cmd);
            } else {
                tracing::debug!(id = %cmd.id, "no device confirmation yet; sending again");
                self.queue.push_back(cmd);
            }
        }
    }

    fn finish(&mut self, id: String) {
        match self.outbox.ack(&id) {
            Ok(_) => {
                let _ = self.events.send(BusEvent::Acked { id });
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot remove a finished command from the outbox")
            }
        }
    }

    fn on_confirm(&mut self, payload: &[u8]) {
        let id = match serde_json::from_slice::<serde_json::Value>(payload) {
            Ok(v) => v.get("id").and_then(|i| i.as_str()).map(str::to_string),
            Err(_) => std::str::from_utf8(payload)
                .ok()
                .map(|s| s.trim().to_string()),
        };
        let Some(id) = id else {
            tracing::warn!(topic = %self.opts.confirm_topic, "confirmation without a command id skipped");
            return;
        };
        let known = self.unconfirmed.remove(&id).is_some()
            || (self.on_wire.get(&id).is_some_and(|c| c.confirm)
                && self.on_wire.remove(&id).is_some())
            || self.queue.iter().any(|c| c.id == id && c.confirm);
        if known {
            // Confirmed while (re-)sent: done too; a late PUBACK for it is ignored.
            self.queue.retain(|c| c.id != id);
            self.finish(id);
        }
    }

    async fn on_event(&mut self, ev: Event) {
        match ev {
            Event::Incoming(Packet::ConnAck(ack)) => {
                tracing::info!(broker = %self.broker, session_present = ack.session_present, "connected");
                self.connected = true;
                let _ = self.connected_tx.send(true);
                let _ = self
                    .client
                    .try_subscribe(self.opts.confirm_topic.clone(), QoS::AtLeastOnce);
                let mut seen = Vec::new();
                for (filter, _) in &self.subs {
                    if !seen.contains(filter) {
                        let _ = self.client.try_subscribe(filter.clone(), QoS::AtLeastOnce);
                        seen.push(filter.clone());
                    }
                }
                for (topic, payload) in self.announcements.clone() {
                    let _ = self.raw_publish(topic, payload, QoS::AtLeastOnce, true);
                }
                let _ = self.events.send(BusEvent::Connected {
                    session_present: ack.session_present,
                });
                self.pump();
            }
            Event::Outgoing(Outgoing::Publish(pkid))
                if pkid != 0 && !self.pkids.contains_key(&pkid) =>
            {
                // A new publish (a re-sent one keeps its packet id, already mapped).
                match self.fifo.pop_front() {
                    Some(Some(id)) => {
                        self.pkids.insert(pkid, id);
                    }
                    Some(None) => {}
                    None => tracing::debug!(pkid, "outgoing publish without a queued request"),
                }
            }
            Event::Incoming(Packet::PubAck(ack)) => {
                if let Some(id) = self.pkids.remove(&ack.pkid) {
                    match self.on_wire.remove(&id) {
                        Some(cmd) if cmd.confirm => {
                            self.unconfirmed
                                .insert(id, (cmd, tokio::time::Instant::now()));
                        }
                        Some(_) => self.finish(id),
                        // Confirmed by the device before the broker's PUBACK arrived.
                        None => {}
                    }
                    self.pump();
                }
            }
            Event::Incoming(Packet::Publish(p)) if p.topic == self.opts.confirm_topic => {
                self.on_confirm(&p.payload);
            }
            Event::Incoming(Packet::Publish(p)) => {
                let msg = Message {
                    topic: p.topic,
                    payload: p.payload.to_vec(),
                    retain: p.retain,
                };
                self.dispatch(msg).await;
            }
            _ => {}
        }
    }

    async fn dispatch(&mut self, msg: Message) {
        let mut closed = Vec::new();
        for (i, (filter, sink)) in self.subs.iter().enumerate() {
            if topic::matches(filter, &msg.topic) {
                let res = match sink.try_send(msg.clone()) {
                    Ok(()) => Ok(()),
                    Err(mpsc::error::TrySendError::Full(m)) => sink.send(m).await.map_err(|_| ()),
                    Err(mpsc::error::TrySendError::Closed(_)) => Err(()),
                };
                if res.is_err() {
                    closed.push(i);
                }
            }
        }
        for i in closed.into_iter().rev() {
            self.subs.remove(i);
        }
    }

    /// After a lost connection, Emma (not rumqttc) decides what is re-sent: every
    /// unacknowledged command goes back to the queue from the outbox, in order,
    /// and is sent again with a new packet id once connected (receivers dedup by id).
    fn on_disconnect(&mut self, eventloop: &mut EventLoop, reason: String) {
        if !self.connected {
            // A failed connection attempt: rumqttc's queues are untouched, nothing to redo.
            tracing::debug!(broker = %self.broker, %reason, "cannot reach the broker; retrying");
            return;
        }
        tracing::warn!(broker = %self.broker, %reason, "lost the broker; reconnecting");
        let _ = self.events.send(BusEvent::Disconnected { reason });
        self.connected = false;
        let _ = self.connected_tx.send(false);
        eventloop
            .pending
            .retain(|r| !matches!(r, Request::Publish(p) if p.qos != QoS::AtMostOnce));
        self.fifo.clear();
        self.pkids.clear();
        self.on_wire.clear();
        self.unconfirmed.clear();
        match self.outbox.pending() {
            Ok(all) => self.queue = all.into(),
            Err(e) => {
                tracing::error!(error = %e, "cannot reload the outbox; keeping the in-memory queue")
            }
        }
    }
}
