//! A desk worker: the store, the MQTT client taking handoffs and reports off the shared subscriptions,
//! and the replies going back to homes.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use emma_handoff::{AgentReply, Limits, topic};
use rumqttc::{AsyncClient, Event, EventLoop, Outgoing as MqttOut, Packet, Publish, QoS};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::{DeskError, Result};
use crate::mqtt::{self, Broker, Incoming};
use crate::store::{Agent, Outgoing, Received, Store};

/// How a desk worker runs.
#[derive(Debug, Clone)]
pub struct DeskConfig {
    /// `mqtt://host[:port]`.
    pub broker: String,
    /// An SQLite path or a `postgres://` URL.
    pub database: String,
    /// MQTT client id of this worker: unique per worker, stable across its restarts (the broker keeps the
    /// worker's session and its unacknowledged messages under it).
    pub worker_id: String,
    /// An agent whose page has not been seen for this long goes away (their handoffs return to the queue).
    pub agent_idle: Duration,
    /// Bounds on messages from homes.
    pub limits: Limits,
}

impl DeskConfig {
    /// A configuration with defaults: agents go away after 60 s without their page, default limits.
    pub fn new(
        broker: impl Into<String>,
        database: impl Into<String>,
        worker_id: impl Into<String>,
    ) -> Self {
        DeskConfig {
            broker: broker.into(),
            database: database.into(),
            worker_id: worker_id.into(),
            agent_idle: Duration::from_secs(60),
            limits: Limits::default(),
        }
    }
}

/// An agent to register (see [`Desk::add_agent`]).
#[derive(Debug, Clone)]
pub struct NewAgent {
    /// Sign-in name.
    pub id: String,
    /// Brand.
    pub brand: String,
    /// Display name.
    pub name: String,
    /// Languages spoken.
    pub languages: Vec<String>,
    /// Skills known (`*` for all).
    pub skills: Vec<String>,
    /// Most open handoffs at once.
    pub capacity: u32,
    /// The password (hashed with argon2 before it is stored).
    pub password: String,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Replies handed to the client, waiting for the broker's PUBACK.
#[derive(Default)]
struct InFlight {
    /// Handoff ids in the order they were given to the client (the event loop assigns packet ids in order).
    queued: VecDeque<String>,
    /// Packet id → handoff id.
    by_pkid: HashMap<u16, String>,
    /// Every handoff id in flight.
    all: HashSet<String>,
}

/// A running desk worker.
pub struct Desk {
    store: Store,
    client: AsyncClient,
    config: DeskConfig,
    inflight: Mutex<InFlight>,
}

impl Desk {
    /// Opens the store, connects to the broker (retrying in the background) and starts taking messages.
    /// The returned handles run until the runtime stops (abort them to stop the worker).
    pub async fn start(config: DeskConfig) -> Result<(Arc<Desk>, Vec<JoinHandle<()>>)> {
        let broker = Broker::parse(&config.broker)?;
        if !topic::is_valid_id(&config.worker_id) {
            return Err(DeskError::Invalid {
                field: "worker id",
                message: "must be 1 to 64 ASCII letters, digits, '.', '_' or '-'".into(),
            });
        }
        let store = Store::open(&config.database).await?;
        let (client, eventloop) = AsyncClient::new(broker.options(&config.worker_id), 1024);
        let desk = Arc::new(Desk {
            store,
            client,
            config,
            inflight: Mutex::new(InFlight::default()),
        });
        // Unbounded on purpose: `poll` must never wait for `consume`, or the event loop stops draining the
        // client's requests and `consume` waits for ever to acknowledge (a deadlock under load). What
        // waits here is bounded by the broker's in-flight window for this client (mosquitto
        // `max_inflight_messages`, EMQX `max_inflight`).
        let (tx, rx) = mpsc::unbounded_channel();
        let tasks = vec![
            tokio::spawn(poll(desk.clone(), eventloop, tx)),
            tokio::spawn(consume(desk.clone(), rx)),
            tokio::spawn(housekeeping(desk.clone())),
        ];
        tracing::info!(
            worker = %desk.config.worker_id,
            store = desk.store.backend(),
            broker = %crate::store::redact(&desk.config.broker),
            "desk worker started"
        );
        Ok((desk, tasks))
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The configuration.
    pub fn config(&self) -> &DeskConfig {
        &self.config
    }

    /// Registers (or updates) an agent, hashing the password; see [`register_agent`].
    pub async fn add_agent(&self, new: NewAgent) -> Result<Agent> {
        register_agent(&self.store, new).await
    }

    /// An agent answers a handoff: recorded, then published QoS 1 to the home. A refused reply (not theirs,
    /// already answered, unknown) changes nothing and is logged.
    pub async fn reply(&self, agent: &Agent, handoff: &str, text: &str) -> Result<AgentReply> {
        let (out, _assigned) = self.store.reply(agent, handoff, text, now_ms()).await?;
        // Recorded: even if publishing fails now, housekeeping publishes it later.
        if let Err(e) = self.publish(&out).await {
            tracing::warn!(handoff, error = %e, "reply recorded; publishing later");
        }
        Ok(out.reply)
    }

    async fn publish(&self, out: &Outgoing) -> Result<()> {
        let bytes = emma_handoff::encode(&out.reply, &self.config.limits)?;
        {
            let mut f = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
            if !f.all.insert(out.reply.handoff.clone()) {
                return Ok(());
            }
            f.queued.push_back(out.reply.handoff.clone());
        }
        let sent = self
            .client
            .publish(topic::reply(&out.home), QoS::AtLeastOnce, false, bytes)
            .await;
        if let Err(e) = sent {
            let mut f = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
            f.all.remove(&out.reply.handoff);
            f.queued.retain(|h| h != &out.reply.handoff);
            return Err(DeskError::Mqtt(e.to_string()));
        }
        Ok(())
    }

    async fn acked(&self, pkid: u16) {
        let handoff = {
            let mut f = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
            let h = f.by_pkid.remove(&pkid);
            if let Some(h) = &h {
                f.all.remove(h);
            }
            h
        };
        if let Some(h) = handoff {
            match self.store.mark_published(&h).await {
                Ok(()) => tracing::info!(handoff = %h, "reply delivered to the broker"),
                Err(e) => tracing::error!(handoff = %h, error = %e, "cannot mark reply published"),
            }
        }
    }

    fn sent(&self, pkid: u16) {
        let mut f = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
        if f.by_pkid.contains_key(&pkid) {
            return; // a retransmission after a reconnect
        }
        if let Some(h) = f.queued.pop_front() {
            f.by_pkid.insert(pkid, h);
        }
    }

    /// Stores one message from a home; refusals are logged and acknowledged (redelivery cannot fix them),
    /// store failures are returned (the message stays unacknowledged).
    pub async fn take(&self, topic_name: &str, payload: &[u8]) -> Result<()> {
        let incoming = match mqtt::decode(topic_name, payload, &self.config.limits) {
            Ok(i) => i,
            Err(why) => {
                tracing::warn!("refused message from a home: {why}");
                return Ok(());
            }
        };
        let now = now_ms();
        match incoming {
            Incoming::Handoff(h) => match self.store.receive_handoff(&h, now).await? {
                Received::New(Some(agent)) => {
                    tracing::info!(handoff = %h.id, home = %h.home, brand = %h.brand, %agent, "handoff routed")
                }
                Received::New(None) => {
                    tracing::info!(handoff = %h.id, home = %h.home, brand = %h.brand, "handoff queued")
                }
                Received::Duplicate => {
                    tracing::info!(handoff = %h.id, "handoff delivered again; already stored, ignored")
                }
                Received::UnknownBrand => tracing::warn!(
                    handoff = %h.id, home = %h.home, brand = %h.brand,
                    "refused handoff: no agent at this desk works for brand `{}`", h.brand
                ),
            },
            Incoming::Touchpoints(t) => match self.store.receive_touchpoints(&t, now).await? {
                Received::New(_) => {
                    tracing::debug!(report = %t.id, home = %t.home, rows = t.stats.len(), "touchpoints stored")
                }
                Received::Duplicate => {
                    tracing::info!(report = %t.id, "touchpoint report delivered again; ignored")
                }
                Received::UnknownBrand => tracing::warn!(
                    report = %t.id, home = %t.home,
                    "refused touchpoint report: no agent at this desk works for brand `{}`", t.brand
                ),
            },
        }
        Ok(())
    }
}

/// Registers (or updates) an agent in `store`, checking every field and hashing the password with argon2id.
pub async fn register_agent(store: &Store, new: NewAgent) -> Result<Agent> {
    let agent = validate_agent(&new)?;
    let password = new.password;
    let hash = tokio::task::spawn_blocking(move || crate::web::hash_password(&password))
        .await
        .map_err(|e| DeskError::Invalid {
            field: "password",
            message: format!("hashing failed: {e}"),
        })??;
    store.upsert_agent(&agent, &hash, now_ms()).await?;
    Ok(agent)
}

fn validate_agent(new: &NewAgent) -> Result<Agent> {
    let invalid = |field, message: &str| DeskError::Invalid {
        field,
        message: message.into(),
    };
    if !topic::is_valid_id(&new.id) {
        return Err(invalid(
            "agent id",
            "must be 1 to 64 ASCII letters, digits, '.', '_' or '-'",
        ));
    }
    if !topic::is_valid_id(&new.brand) {
        return Err(invalid(
            "brand",
            "must be 1 to 64 ASCII letters, digits, '.', '_' or '-'",
        ));
    }
    let name = emma_untrusted::line(&new.name, 80);
    if name.is_empty() {
        return Err(invalid("name", "must not be empty"));
    }
    if new.languages.is_empty() {
        return Err(invalid("languages", "at least one language is needed"));
    }
    for l in new.languages.iter().chain(&new.skills) {
        if l.is_empty() || l.contains(',') || l.len() > 128 || !emma_untrusted::is_clean(l) {
            return Err(invalid(
                "languages/skills",
                "entries must be short, without commas",
            ));
        }
    }
    if new.capacity == 0 {
        return Err(invalid("capacity", "must be at least 1"));
    }
    if new.password.chars().count() < 8 {
        return Err(invalid("password", "must be at least 8 characters"));
    }
    Ok(Agent {
        id: new.id.clone(),
        brand: new.brand.clone(),
        name,
        languages: new.languages.clone(),
        skills: new.skills.clone(),
        capacity: new.capacity,
        available: false,
        load: 0,
    })
}

/// Drives the MQTT connection: (re)subscribes on every connection, hands publishes to [`consume`] in order,
/// and matches PUBACKs to replies.
async fn poll(desk: Arc<Desk>, mut eventloop: EventLoop, tx: mpsc::UnboundedSender<Publish>) {
    let mut failures = 0u32;
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                failures = 0;
                tracing::info!(
                    session_present = ack.session_present,
                    "connected to the broker"
                );
                for (t, qos) in mqtt::subscriptions() {
                    if let Err(e) = desk.client.try_subscribe(t, qos) {
                        tracing::error!(topic = t, error = %e, "cannot subscribe");
                    }
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                if tx.send(p).is_err() {
                    return;
                }
            }
            Ok(Event::Incoming(Packet::PubAck(ack))) => desk.acked(ack.pkid).await,
            Ok(Event::Outgoing(MqttOut::Publish(pkid))) => desk.sent(pkid),
            Ok(_) => {}
            Err(e) => {
                failures += 1;
                // Replies in flight are published again by housekeeping after a reconnect.
                {
                    let mut f = desk.inflight.lock().unwrap_or_else(|p| p.into_inner());
                    *f = InFlight::default();
                }
                let wait = Duration::from_millis(200 * u64::from(failures.min(25)));
                tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "broker connection lost");
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// Stores each message, then acknowledges it.
async fn consume(desk: Arc<Desk>, mut rx: mpsc::UnboundedReceiver<Publish>) {
    while let Some(p) = rx.recv().await {
        let mut attempt = 0u32;
        loop {
            match desk.take(&p.topic, &p.payload).await {
                Ok(()) => {
                    if let Err(e) = desk.client.ack(&p).await {
                        tracing::warn!(error = %e, "cannot acknowledge; the broker will deliver again");
                    }
                    break;
                }
                Err(e) if attempt < 20 => {
                    attempt += 1;
                    tracing::error!(error = %e, attempt, topic = %p.topic, "cannot store message; retrying");
                    tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt))).await;
                }
                Err(e) => {
                    tracing::error!(
                        error = %e, topic = %p.topic,
                        "cannot store message; left unacknowledged, the broker delivers it again after a reconnect"
                    );
                    break;
                }
            }
        }
    }
}

/// Every second: publishes replies recorded but not yet acknowledged by the broker (after a restart or a
/// lost connection), deletes expired sessions, and sends away agents whose page is gone.
async fn housekeeping(desk: Arc<Desk>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let now = now_ms();
        match desk.store.unpublished().await {
            Ok(list) => {
                for out in list {
                    // Leave fresh replies to the worker that recorded them.
                    if out.reply.sent_ms + 3_000 > now {
                        continue;
                    }
                    if let Err(e) = desk.publish(&out).await {
                        tracing::warn!(handoff = %out.reply.handoff, error = %e, "cannot publish reply yet");
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read unpublished replies"),
        }
        if let Err(e) = desk.store.purge_sessions(now).await {
            tracing::error!(error = %e, "cannot delete expired sessions");
        }
        let idle = u64::try_from(desk.config.agent_idle.as_millis()).unwrap_or(u64::MAX);
        if let Err(e) = desk.store.expire_idle(now, idle).await {
            tracing::error!(error = %e, "cannot expire idle agents");
        }
    }
}
