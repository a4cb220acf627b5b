//! Handing a conversation to a person at the brand, and bringing the person's answer back.
//!
//! A handoff starts when
//! - the customer asks for a person (the built-in intent [`TALK_TO_PERSON`], templates in
//!   `handoff/<lang>.yaml` for every built-in language),
//! - [`HandoffConfig::not_understood_limit`] utterances in a row were not understood (no intent,
//!   or below the confidence threshold),
//! - a skill asks for one (`handoff.request`, or a reply's `handoff`).
//!
//! The [`HandoffRequest`] carries the session's transcript (customer and Emma lines), the intent
//! candidates with their confidences, the customer context the customer consented to share with the
//! skill (or with `emma` when no skill is involved) and suggested replies (the skill's reply, then
//! the templates of `handoff/<lang>.yaml`). Before it leaves, the handoff and each context item are
//! ledger shares with `handoff:<brand>` (reason `handoff:<id>`), each naming the consent it was
//! shared under. It goes through the durable outbox (QoS 1, kept on disk until the broker
//! acknowledges it, re-sent after a restart or a broker outage) to
//! `emma/desk/{brand}/handoff`, where `brand` is the skill publisher's id (see [`brand_id`]) — of
//! the skill that asked, or, when the customer asks, of the skill they last talked to in the
//! session if it holds the `handoff` grant — or [`HandoffConfig::brand`].
//!
//! The home listens on `emma/home/{home}/handoff/reply`. An [`AgentReply`] is decoded with the
//! contract's bounded [`emma_handoff::decode`], must answer a handoff this home made (kept in
//! `handoffs.sqlite`) and is delivered once: spoken in the same session as a `Reply` naming the
//! agent, or, when that session is over, emitted as an [`AssistantEvent::Notification`].
//! Anything else is refused with a log line.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use emma_devices::{Bus, OutboxCommand};
use emma_handoff::{
    AgentReply, Candidate, HandoffReason, HandoffRequest, Limits, PROTOCOL_VERSION, Speaker,
    Utterance, topic,
};
use emma_intent::{Context, IntentSource};
use emma_privacy::{Action, Category, EMMA, NewEntry, Privacy, Reason};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Deserialize;
use tokio::runtime::Handle;

use super::conversation::{Request, Worker, clean};
use super::error::AssistantError;
use super::event::AssistantEvent;

/// The built-in intent "I want to talk to a person".
pub const TALK_TO_PERSON: &str = "EmmaTalkToPerson";

/// Who owns [`TALK_TO_PERSON`] in the routing table.
pub const OWNER: &str = "handoff";

/// The brand a handoff goes to when no skill is involved and none is configured: the desk of
/// whoever runs this Emma installation answers on `emma/desk/emma/handoff`.
pub const DEFAULT_BRAND: &str = "emma";

/// The file in the data directory holding the home's stable id.
pub const HOME_ID_FILE: &str = "home-id";

const EN_YAML: &str = include_str!("handoff/en.yaml");
const DE_YAML: &str = include_str!("handoff/de.yaml");

/// Handoff settings.
#[derive(Debug, Clone, PartialEq)]
pub struct HandoffConfig {
    /// Whether the assistant hands conversations to people at all.
    pub enabled: bool,
    /// This home's id in topics and messages; `None` uses a random id made once and kept in
    /// `data_dir/home-id`.
    pub home: Option<String>,
    /// Where handoffs go when no skill is involved (and where not-understood statistics are
    /// reported): a brand id ([`emma_handoff::topic::is_valid_id`]). Default [`DEFAULT_BRAND`].
    pub brand: String,
    /// How many utterances in a row may go not understood before a person is asked (at least 1).
    pub not_understood_limit: u32,
    /// How long after a handoff the session waits for the agent: a reply within this window (and
    /// before the customer starts a new session) is spoken, a later one is a notification.
    pub reply_window: Duration,
    /// How long a handoff waits in the outbox for a broker before it is given up.
    pub ttl: Duration,
    /// How often touchpoint aggregates are reported to brands (with consent); `None`: only when
    /// [`Assistant::report_touchpoints`](super::Assistant::report_touchpoints) is called.
    pub report_every: Option<Duration>,
}

impl Default for HandoffConfig {
    fn default() -> Self {
        HandoffConfig {
            enabled: true,
            home: None,
            brand: DEFAULT_BRAND.into(),
            not_understood_limit: 2,
            reply_window: Duration::from_secs(120),
            ttl: Duration::from_secs(7 * 24 * 3600),
            report_every: Some(Duration::from_secs(24 * 3600)),
        }
    }
}

impl HandoffConfig {
    /// Checks the fields; the error names the field.
    pub fn validate(&self) -> Result<(), AssistantError> {
        let bad = |field: &str, reason: String| {
            Err(AssistantError::Config {
                field: format!("handoff.{field}"),
                reason,
            })
        };
        let id_rule = "must be 1 to 64 ASCII letters, digits, '.', '_' or '-'";
        if let Some(home) = &self.home
            && !topic::is_valid_id(home)
        {
            return bad("home", format!("{home:?} {id_rule}"));
        }
        if !topic::is_valid_id(&self.brand) {
            return bad("brand", format!("{:?} {id_rule}", self.brand));
        }
        if self.not_understood_limit == 0 {
            return bad("not_understood_limit", "must be at least 1".into());
        }
        if self.ttl.is_zero() {
            return bad("ttl", "must be longer than zero".into());
        }
        if self.report_every.is_some_and(|d| d.is_zero()) {
            return bad("report_every", "must be longer than zero".into());
        }
        Ok(())
    }
}

/// The home's id: the configured one, else the one kept in `data_dir/home-id` (made on first use).
pub fn home_id(data_dir: &Path, configured: Option<&str>) -> Result<String, AssistantError> {
    if let Some(id) = configured {
        return Ok(id.to_string());
    }
    let path = data_dir.join(HOME_ID_FILE);
    let io = |e| AssistantError::Io {
        path: path.display().to_string(),
        source: e,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let id = text.trim();
            if topic::is_valid_id(id) {
                return Ok(id.to_string());
            }
            Err(AssistantError::Config {
                field: format!("home id ({})", path.display()),
                reason: format!(
                    "{id:?} is not a valid id; delete the file to make a new one, or configure handoff.home"
                ),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = format!("home-{}", random_hex());
            std::fs::write(&path, format!("{id}\n")).map_err(io)?;
            Ok(id)
        }
        Err(e) => Err(io(e)),
    }
}

/// 128 random bits as hex (the standard library's per-process random hash keys).
fn random_hex() -> String {
    let word = || {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        h.finish()
    };
    format!("{:016x}{:016x}", word(), word())
}

/// The brand id of a skill publisher: `"Example Parcel Service"` → `example-parcel-service`
/// (lower-case ASCII letters and digits, everything else one `-`, at most 64 characters);
/// `None` when nothing is left.
pub fn brand_id(publisher: &str) -> Option<String> {
    let mut out = String::new();
    for c in publisher.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(topic::MAX_ID_LEN);
    let out = out.trim_end_matches('-').to_string();
    topic::is_valid_id(&out).then_some(out)
}

#[derive(Deserialize)]
struct SuggestionFile {
    suggestions: Vec<String>,
}

fn yaml(lang: &str) -> Result<&'static str, AssistantError> {
    match lang {
        "en" => Ok(EN_YAML),
        "de" => Ok(DE_YAML),
        other => Err(AssistantError::Config {
            field: "language".into(),
            reason: format!("no handoff templates for {other:?} (have: en, de)"),
        }),
    }
}

/// The "talk to a person" intent of `lang` as a source for the one engine.
pub fn intent_source(lang: &str) -> Result<IntentSource, AssistantError> {
    Ok(IntentSource {
        owner: OWNER.into(),
        origin: format!("handoff/{lang}.yaml"),
        text: yaml(lang)?.into(),
        namespace: None,
    })
}

/// The reply templates offered to agents in `lang`.
pub fn suggestions(lang: &str) -> Result<Vec<String>, AssistantError> {
    let file: SuggestionFile =
        serde_saphyr::from_str(yaml(lang)?).map_err(|e| AssistantError::Config {
            field: format!("handoff/{lang}.yaml"),
            reason: e.to_string(),
        })?;
    Ok(file.suggestions)
}

/// What a reply to a handoff id finds in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Claim {
    /// This home made no such handoff.
    Unknown,
    /// Answered before; the reply is dropped.
    Answered,
    /// First answer: deliver it. The session the handoff was made in.
    Fresh { session: String },
}

/// The handoffs this home made (`handoffs.sqlite`), to recognise replies and deliver each once.
#[derive(Debug)]
pub(crate) struct HandoffStore {
    conn: Mutex<Connection>,
}

impl HandoffStore {
    pub fn open(path: &Path) -> Result<HandoffStore, AssistantError> {
        let db = |e: rusqlite::Error| AssistantError::Config {
            field: format!("handoff store ({})", path.display()),
            reason: e.to_string(),
        };
        let conn = Connection::open(path).map_err(db)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;
             CREATE TABLE IF NOT EXISTS handoffs (
                 id TEXT PRIMARY KEY,
                 brand TEXT NOT NULL,
                 skill TEXT,
                 session TEXT NOT NULL,
                 created_ms INTEGER NOT NULL,
                 answered_ms INTEGER,
                 agent TEXT
             );",
        )
        .map_err(db)?;
        Ok(HandoffStore {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn record(&self, req: &HandoffRequest, session: &str) -> rusqlite::Result<()> {
        self.lock()
            .execute(
                "INSERT INTO handoffs (id, brand, skill, session, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![req.id, req.brand, req.skill, session, req.created_ms as i64],
            )
            .map(drop)
    }

    fn forget(&self, id: &str) {
        let _ = self
            .lock()
            .execute("DELETE FROM handoffs WHERE id = ?1", params![id]);
    }

    /// Marks `reply`'s handoff answered, atomically: only the first reply gets [`Claim::Fresh`].
    pub fn claim(&self, reply: &AgentReply, now_ms: u64) -> rusqlite::Result<Claim> {
        let conn = self.lock();
        let session: Option<(String, Option<i64>)> = conn
            .query_row(
                "SELECT session, answered_ms FROM handoffs WHERE id = ?1",
                params![reply.handoff],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((session, None)) = session else {
            return Ok(if session.is_some() {
                Claim::Answered
            } else {
                Claim::Unknown
            });
        };
        let changed = conn.execute(
            "UPDATE handoffs SET answered_ms = ?2, agent = ?3 WHERE id = ?1 AND answered_ms IS NULL",
            params![reply.handoff, now_ms as i64, reply.agent],
        )?;
        Ok(if changed == 1 {
            Claim::Fresh { session }
        } else {
            Claim::Answered
        })
    }
}

/// What started a handoff, before it is made.
#[derive(Debug, Clone, PartialEq)]
struct Trigger {
    reason: HandoffReason,
    /// Why, in words (the skill's reason), for the `Handoff` event.
    why: String,
    skill: Option<String>,
    summary: String,
    speech: Option<String>,
}

/// The worker's handoff state: the session's transcript, the not-understood streak, the trigger
/// of the current turn, and what is needed to make and deliver handoffs.
pub(crate) struct Handoffs {
    config: HandoffConfig,
    home: String,
    lang: String,
    /// Skill id → brand id (from the publisher).
    brands: BTreeMap<String, String>,
    /// Skills the customer granted `handoff`: their brands take handoffs.
    staffed: BTreeSet<String>,
    bus: Bus,
    rt: Handle,
    privacy: Arc<Privacy>,
    store: Arc<HandoffStore>,
    suggestions: Vec<String>,
    session_timeout: Duration,
    /// Makes session keys unique across restarts.
    run: String,
    session: u64,
    last_activity: Option<Instant>,
    /// When the last handoff of this session was made.
    handed_off: Option<Instant>,
    transcript: Vec<Utterance>,
    /// Customer lines not understood in a row.
    streak: Vec<String>,
    missed: bool,
    trigger: Option<Trigger>,
    /// Whether this turn made a handoff (for touchpoints).
    made: bool,
    /// The skill the customer last talked to in this session: a request for a person goes to
    /// its brand.
    talking_to: Option<String>,
}

/// Most transcript lines kept (the contract's default limit).
const MAX_TRANSCRIPT: usize = 64;
/// Most intent candidates sent.
const MAX_CANDIDATES: usize = 8;

impl Handoffs {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: HandoffConfig,
        home: String,
        lang: &str,
        brands: BTreeMap<String, String>,
        staffed: BTreeSet<String>,
        bus: Bus,
        rt: Handle,
        privacy: Arc<Privacy>,
        store: Arc<HandoffStore>,
        session_timeout: Duration,
    ) -> Result<Handoffs, AssistantError> {
        Ok(Handoffs {
            suggestions: suggestions(lang)?,
            config,
            home,
            lang: lang.to_string(),
            brands,
            staffed,
            bus,
            rt,
            privacy,
            store,
            session_timeout,
            run: random_hex()[..8].to_string(),
            session: 0,
            last_activity: None,
            handed_off: None,
            transcript: Vec::new(),
            streak: Vec::new(),
            missed: false,
            trigger: None,
            made: false,
            talking_to: None,
        })
    }

    /// The brand that answers for `skill` (or for Emma itself with `None`).
    pub fn brand_for(&self, skill: Option<&str>) -> String {
        skill
            .and_then(|s| self.brands.get(s))
            .cloned()
            .unwrap_or_else(|| self.config.brand.clone())
    }

    fn session_key(&self) -> String {
        format!("{}-{}", self.run, self.session)
    }

    /// Whether the session (with its wait for an agent) is still going at `now`.
    fn live(&self, now: Instant) -> bool {
        let turn = self
            .last_activity
            .is_some_and(|t| now.duration_since(t) <= self.session_timeout);
        let waiting = self
            .handed_off
            .is_some_and(|t| now.duration_since(t) <= self.config.reply_window);
        turn || waiting
    }

    /// A new utterance: starts a new session when the last one is over.
    pub fn begin_turn(&mut self, now: Instant, text: &str) {
        if !self.live(now) {
            self.session += 1;
            self.transcript.clear();
            self.streak.clear();
            self.handed_off = None;
            self.talking_to = None;
        }
        self.last_activity = Some(now);
        self.missed = false;
        self.made = false;
        self.trigger = None;
        if !text.is_empty() {
            self.line(Speaker::Customer, text);
        }
    }

    fn line(&mut self, speaker: Speaker, text: &str) {
        if self.transcript.len() == MAX_TRANSCRIPT {
            self.transcript.remove(0);
        }
        let text: String = text
            .chars()
            .take(Limits::default().max_text_chars)
            .collect();
        self.transcript.push(Utterance {
            speaker,
            text,
            at_ms: emma_privacy::now_ms(),
        });
    }

    /// The utterance was not understood (`line` is the response said: only `not_understood` and
    /// `low_confidence` count, not empty or over-long input).
    pub fn not_understood(&mut self, text: &str, line: &str) {
        if !matches!(line, "not_understood" | "low_confidence") {
            return;
        }
        self.missed = true;
        self.streak.push(text.to_string());
        if self.streak.len() >= self.config.not_understood_limit as usize {
            self.set(Trigger {
                reason: HandoffReason::NotUnderstood,
                why: "not understood".into(),
                skill: None,
                summary: format!(
                    "{} requests in a row were not understood",
                    self.streak.len()
                ),
                speech: None,
            });
        }
    }

    /// A skill handled the customer's request: a request for a person later in this session goes
    /// to its brand — if the skill holds the `handoff` grant (its brand takes handoffs); after a
    /// skill without it, to [`HandoffConfig::brand`].
    pub fn talked_to(&mut self, skill: &str) {
        self.talking_to = self.staffed.contains(skill).then(|| skill.to_string());
    }

    /// The skill a request for a person in this session is about (the one last talked to).
    pub fn talking_to(&self) -> Option<&str> {
        self.talking_to.as_deref()
    }

    /// The customer asked for a person: the brand of the skill they were talking to in this
    /// session, else [`HandoffConfig::brand`].
    pub fn asked(&mut self) {
        let summary = match &self.talking_to {
            Some(skill) => format!("the customer asked to talk to a person (while using {skill})"),
            None => "the customer asked to talk to a person".into(),
        };
        self.set(Trigger {
            reason: HandoffReason::Asked,
            why: "the customer asked for a person".into(),
            skill: self.talking_to.clone(),
            summary,
            speech: None,
        });
    }

    /// A skill asked for a person (`speech`: its reply, offered to the agent first).
    pub fn skill_asked(&mut self, skill: &str, reason: &str, summary: &str, speech: Option<&str>) {
        match &mut self.trigger {
            // handoff.request and the reply's handoff of one call are one handoff.
            Some(t) if t.skill.as_deref() == Some(skill) => {
                if t.speech.is_none() {
                    t.speech = speech.map(String::from);
                }
            }
            _ => {
                let summary = match (reason.trim(), summary.trim()) {
                    ("", s) => s.to_string(),
                    (r, "") => r.to_string(),
                    (r, s) => format!("{r}: {s}"),
                };
                self.set(Trigger {
                    reason: HandoffReason::Skill,
                    why: reason.to_string(),
                    skill: Some(skill.to_string()),
                    summary,
                    speech: speech.map(String::from),
                });
            }
        }
    }

    fn set(&mut self, t: Trigger) {
        if self.trigger.is_none() {
            self.trigger = Some(t);
        }
    }

    /// Whether the current turn made a handoff.
    pub fn made(&self) -> bool {
        self.made
    }

    /// Whether the current turn was not understood.
    pub fn missed(&self) -> bool {
        self.missed
    }

    /// Builds the request: transcript, candidates, consented context, suggestions. Returns with
    /// it the ledger entries of what it shares (see [`Handoffs::deliver`]).
    fn build(
        &self,
        t: &Trigger,
        candidates: Vec<Candidate>,
        area: Option<&str>,
    ) -> (HandoffRequest, Vec<NewEntry>) {
        let now = emma_privacy::now_ms();
        let id = emma_devices::outbox::new_command_id();
        let brand = self.brand_for(t.skill.as_deref());
        // The consents that count are those the customer gave the skill (or Emma); the party that
        // receives is the brand's desk.
        let consenter = t.skill.as_deref().unwrap_or(EMMA);
        let share = Shares {
            party: format!("handoff:{brand}"),
            reason: Reason::other(format!("handoff:{id}")),
        };
        let limits = Limits::default();
        let consent = |category: &Category| match self.privacy.consent(consenter, category, now) {
            Ok(c) => c.map(|c| c.id),
            Err(e) => {
                tracing::error!(%consenter, %category, error = %e, "consent check failed; withheld");
                None
            }
        };
        // The handoff itself: the session's transcript and what the engine made of it. The
        // customer asked for a person, was not understood, or a skill they were talking to asked;
        // a `transcripts` consent of the consenter is named when there is one.
        let mut ledger =
            vec![share.entry(Category::Transcripts, &id, consent(&Category::Transcripts))];
        let mut context = BTreeMap::new();
        // Only what the customer consented to share with the skill (or with Emma).
        match self.privacy.customer().profile_all() {
            Ok(profile) => {
                for (field, value) in profile {
                    if context.len() == limits.max_items {
                        break;
                    }
                    let category = Category::Profile(field.clone());
                    if let Some(c) = consent(&category) {
                        ledger.push(share.entry(category, &field, Some(c)));
                        context.insert(format!("profile.{field}"), clip(&value));
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "profile not readable; no profile in the handoff")
            }
        }
        if let Some(area) = area
            && context.len() < limits.max_items
            && let Some(c) = consent(&Category::DeviceNames)
        {
            ledger.push(share.entry(Category::DeviceNames, "area", Some(c)));
            context.insert("area".into(), clip(area));
        }
        let mut suggestions: Vec<String> = Vec::new();
        if let Some(s) = t.speech.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            suggestions.push(clip(s));
        }
        for s in &self.suggestions {
            if suggestions.len() < limits.max_items && !suggestions.contains(s) {
                suggestions.push(s.clone());
            }
        }
        let req = HandoffRequest {
            v: PROTOCOL_VERSION,
            id,
            home: self.home.clone(),
            brand,
            skill: t.skill.clone(),
            language: self.lang.clone(),
            reason: t.reason,
            summary: clip(&t.summary),
            transcript: self.transcript.clone(),
            candidates,
            context,
            suggestions,
            created_ms: now,
        };
        (req, ledger)
    }

    /// Makes the handoff of this turn: into the ledger, the store and the outbox.
    fn make(
        &mut self,
        t: &Trigger,
        candidates: Vec<Candidate>,
        area: Option<&str>,
    ) -> Result<HandoffRequest, String> {
        self.streak.clear();
        let (req, ledger) = self.build(t, candidates, area);
        let brand = req.brand.clone();
        self.deliver(req, &ledger)
            .map_err(|e| format!("handoff to {brand}: {e}"))
    }

    fn deliver(
        &mut self,
        req: HandoffRequest,
        ledger: &[NewEntry],
    ) -> Result<HandoffRequest, String> {
        let payload = emma_handoff::encode(&req, &Limits::default()).map_err(|e| e.to_string())?;
        // The ledger first, in one commit: a handoff that is not on record does not leave the home.
        self.privacy
            .ledger()
            .append_all(ledger, req.created_ms)
            .map_err(|e| format!("ledger: {e}"))?;
        self.store
            .record(&req, &self.session_key())
            .map_err(|e| format!("handoff store: {e}"))?;
        let cmd = OutboxCommand::with_id(
            req.id.clone(),
            topic::handoff(&req.brand),
            payload,
            self.config.ttl,
        );
        if let Err(e) = self.rt.block_on(self.bus.send_command(cmd)) {
            self.store.forget(&req.id);
            return Err(format!("outbox: {e}"));
        }
        self.made = true;
        self.handed_off = Some(Instant::now());
        tracing::info!(handoff = %req.id, brand = %req.brand, reason = reason_name(req.reason), "handed off to a person");
        Ok(req)
    }
}

/// The ledger entries of one handoff: shares with `handoff:<brand>`, reason `handoff:<id>`.
struct Shares {
    party: String,
    reason: Reason,
}

impl Shares {
    /// `field` of `category`, shared under `consent` (`None`: the handoff needed none).
    fn entry(&self, category: Category, field: &str, consent: Option<i64>) -> NewEntry {
        NewEntry::new(
            Action::Share,
            Some(category),
            &self.party,
            self.reason.clone(),
        )
        .field(field)
        .consent(consent)
    }
}

/// The wire name of a reason (`asked`, `not-understood`, `skill`).
fn reason_name(reason: HandoffReason) -> &'static str {
    match reason {
        HandoffReason::Asked => "asked",
        HandoffReason::NotUnderstood => "not-understood",
        HandoffReason::Skill => "skill",
    }
}

/// Text within the contract's length limit.
fn clip(text: &str) -> String {
    text.chars()
        .take(Limits::default().max_text_chars)
        .collect()
}

/// The worker's side: making handoffs after a turn and delivering agents' replies.
impl Worker {
    /// After a turn (or a device event's skill calls): records Emma's `reply`, makes the handoff
    /// the turn triggered and returns the line to add to the reply ("a person will answer", or
    /// that no person could be reached).
    pub(crate) fn handoff_after(&mut self, reply: &str) -> Option<String> {
        if !self.handoffs.missed {
            self.handoffs.streak.clear();
        }
        if !reply.trim().is_empty() {
            self.handoffs.line(Speaker::Emma, reply);
        }
        let trigger = self.handoffs.trigger.clone()?;
        self.hub.emit(AssistantEvent::Handoff {
            skill: trigger.skill.clone(),
            reason: trigger.why.clone(),
            summary: trigger.summary.clone(),
        });
        if !self.handoffs.config.enabled {
            self.handoffs.trigger = None;
            // A customer who asked hears that nobody will come; a skill's reply stands as it is.
            return (trigger.reason == HandoffReason::Asked)
                .then(|| self.responses.say("handoff_unavailable", &[]));
        }
        let candidates = self.handoff_candidates();
        self.handoffs.trigger = None;
        let area = self.area.clone();
        let line = match self.handoffs.make(&trigger, candidates, area.as_deref()) {
            Ok(_) => self.responses.say("handoff", &[]),
            Err(e) => {
                tracing::warn!(error = %e, "handoff failed");
                self.hub.emit(AssistantEvent::Error {
                    stage: "handoff".into(),
                    message: e,
                });
                self.responses.say("handoff_unavailable", &[])
            }
        };
        self.handoffs.line(Speaker::Emma, &line);
        Some(line)
    }

    /// What the engine made of the customer's recent lines, best first, one per intent.
    fn handoff_candidates(&self) -> Vec<Candidate> {
        let texts: Vec<String> = if self.handoffs.streak.is_empty() {
            self.handoffs
                .transcript
                .iter()
                .rev()
                .find(|u| u.speaker == Speaker::Customer)
                .map(|u| vec![u.text.clone()])
                .unwrap_or_default()
        } else {
            self.handoffs.streak.clone()
        };
        let mut best: BTreeMap<String, f32> = BTreeMap::new();
        for t in &texts {
            for c in self.routes.engine.recognize(t, &Context::new()).candidates {
                let conf = c.confidence.clamp(0.0, 1.0);
                let e = best.entry(c.intent.to_string()).or_insert(conf);
                *e = e.max(conf);
            }
        }
        let mut out: Vec<Candidate> = best
            .into_iter()
            .filter(|(_, c)| c.is_finite())
            .map(|(intent, confidence)| Candidate { intent, confidence })
            .collect();
        out.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        out.truncate(MAX_CANDIDATES);
        out
    }

    /// An agent's reply that arrived on the home's reply topic (already decoded and bounded).
    pub(crate) fn agent_reply(&mut self, reply: AgentReply) {
        let now_ms = emma_privacy::now_ms();
        let session = match self.handoffs.store.claim(&reply, now_ms) {
            Ok(Claim::Fresh { session }) => session,
            Ok(Claim::Answered) => {
                tracing::info!(handoff = %reply.handoff, "agent reply refused: that handoff was answered already (not delivered twice)");
                return;
            }
            Ok(Claim::Unknown) => {
                tracing::warn!(handoff = %reply.handoff, "agent reply refused: this home made no such handoff");
                return;
            }
            Err(e) => {
                tracing::error!(handoff = %reply.handoff, error = %e, "agent reply not delivered: handoff store failed");
                return;
            }
        };
        let agent = clean(&reply.agent);
        let text = clean(&reply.text);
        let now = Instant::now();
        let in_session = session == self.handoffs.session_key() && self.handoffs.live(now);
        if in_session {
            self.handoffs.line(Speaker::Agent, &text);
            self.handoffs.last_activity = Some(now);
            self.session.touch(now);
            let line = self
                .responses
                .say("agent_reply", &[("agent", &agent), ("text", &text)]);
            self.announce(line, false);
        } else {
            self.hub.emit(AssistantEvent::Notification {
                from: agent,
                text,
                handoff: Some(reply.handoff.clone()),
            });
        }
        tracing::info!(handoff = %reply.handoff, in_session, "agent reply delivered");
    }
}

/// Hands what arrives on the home's reply topic to the worker: decodes and bounds every
/// message and refuses (with a log line) what is not a valid agent reply; the worker delivers
/// each handoff's reply once. `replies` is the subscription to `emma/home/{home}/handoff/reply`,
/// made right after the bus starts so nothing the broker kept for this home is missed.
pub(crate) async fn forward(
    mut replies: tokio::sync::mpsc::Receiver<emma_devices::Message>,
    worker: std::sync::mpsc::Sender<Request>,
) {
    let limits = Limits::default();
    while let Some(m) = replies.recv().await {
        match emma_handoff::decode::<AgentReply>(&m.payload, &limits) {
            Ok(reply) => {
                if worker.send(Request::AgentReply(reply)).is_err() {
                    break;
                }
            }
            Err(e) => tracing::warn!(topic = %m.topic, error = %e, "agent reply refused"),
        }
    }
}

/// The path of the handoff store in `data_dir`.
pub(crate) fn store_path(data_dir: &Path) -> PathBuf {
    data_dir.join("handoffs.sqlite")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishers_become_brand_ids() {
        assert_eq!(
            brand_id("Example Parcel Service").as_deref(),
            Some("example-parcel-service")
        );
        assert_eq!(brand_id("  ACME, Inc. ").as_deref(), Some("acme-inc"));
        assert_eq!(brand_id("Kaffee Müller").as_deref(), Some("kaffee-m-ller"));
        assert_eq!(brand_id("¿?"), None);
        let long = brand_id(&"a b ".repeat(100)).unwrap();
        assert!(topic::is_valid_id(&long) && long.len() <= 64, "{long}");
    }

    #[test]
    fn the_home_id_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let a = home_id(dir.path(), None).unwrap();
        assert!(topic::is_valid_id(&a) && a.starts_with("home-"), "{a}");
        assert_eq!(home_id(dir.path(), None).unwrap(), a);
        assert_eq!(home_id(dir.path(), Some("flat-3")).unwrap(), "flat-3");
        std::fs::write(dir.path().join(HOME_ID_FILE), "a/b").unwrap();
        let e = home_id(dir.path(), None).unwrap_err().to_string();
        assert!(e.contains("home-id") && e.contains("a/b"), "{e}");
    }

    #[test]
    fn templates_load_and_hear_a_request_for_a_person_in_every_language() {
        for (lang, said) in [
            ("en", "I want to talk to a person"),
            ("en", "connect me to a human"),
            ("de", "ich möchte mit einem Menschen sprechen"),
        ] {
            let src = intent_source(lang).unwrap();
            let engine =
                emma_intent::IntentEngine::from_yaml_str(&src.text, "handoff", lang).unwrap();
            let best = engine.recognize(said, &Context::new()).best.unwrap();
            assert_eq!(best.intent, TALK_TO_PERSON, "{lang}: {said}");
            assert!(!suggestions(lang).unwrap().is_empty());
            let r = super::super::dialog::Responses::builtin(lang).unwrap();
            for key in ["handoff", "handoff_unavailable", "agent_reply"] {
                assert_ne!(
                    r.say(key, &[]),
                    key,
                    "{lang}: responses.dialog.{key} is missing"
                );
            }
        }
    }

    #[test]
    fn config_fields_are_checked() {
        HandoffConfig::default().validate().unwrap();
        let c = HandoffConfig {
            brand: "a/b".into(),
            ..HandoffConfig::default()
        };
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("handoff.brand")
        );
        let c = HandoffConfig {
            not_understood_limit: 0,
            ..HandoffConfig::default()
        };
        assert!(c.validate().is_err());
    }

    #[test]
    fn a_reply_is_claimed_once_and_unknown_handoffs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = HandoffStore::open(&store_path(dir.path())).unwrap();
        let req = HandoffRequest {
            v: 1,
            id: "h-1".into(),
            home: "home-1".into(),
            brand: "acme".into(),
            skill: None,
            language: "en".into(),
            reason: HandoffReason::Asked,
            summary: String::new(),
            transcript: vec![],
            candidates: vec![],
            context: BTreeMap::new(),
            suggestions: vec![],
            created_ms: 1,
        };
        store.record(&req, "s-1").unwrap();
        let reply = |id: &str| AgentReply {
            v: 1,
            handoff: id.into(),
            agent: "Bo".into(),
            text: "hi".into(),
            sent_ms: 2,
        };
        assert_eq!(store.claim(&reply("h-2"), 3).unwrap(), Claim::Unknown);
        assert_eq!(
            store.claim(&reply("h-1"), 3).unwrap(),
            Claim::Fresh {
                session: "s-1".into()
            }
        );
        assert_eq!(store.claim(&reply("h-1"), 4).unwrap(), Claim::Answered);
    }
}
