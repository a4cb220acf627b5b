//! The desk's durable state: handoffs, agents, sessions, suggestion choices, touchpoint reports and the
//! audit log, in SQLite (one desk) or PostgreSQL (several desk workers sharing one queue).
//!
//! Every public operation is one transaction; routing ([`crate::routing`]) runs inside the transaction that
//! changed what it depends on (a handoff arrived, an agent came or went, a reply freed an agent).

mod db;
mod schema;

use std::collections::HashMap;
use std::path::Path;

use emma_handoff::{AgentReply, HandoffRequest, Limits, PROTOCOL_VERSION, TouchpointReport};

use crate::error::{DeskError, Result};
use crate::routing::{self, AgentLoad};
use db::{Db, Row, Tx};

pub(crate) use db::redact;

/// Where a handoff is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Waiting for an agent.
    Queued,
    /// Routed to an agent who has not answered yet.
    Assigned,
    /// Answered.
    Answered,
}

impl Status {
    /// `queued`, `assigned` or `answered`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Assigned => "assigned",
            Status::Answered => "answered",
        }
    }
    fn parse(s: &str) -> Status {
        match s {
            "assigned" => Status::Assigned,
            "answered" => Status::Answered,
            _ => Status::Queued,
        }
    }
}

/// A handoff as the desk keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Handoff {
    /// The request as the home sent it (checked by [`emma_handoff::decode`]; its text is still untrusted).
    pub request: HandoffRequest,
    /// When this desk received it, ms since the epoch.
    pub received_ms: u64,
    /// Where it is.
    pub status: Status,
    /// The agent it is routed to or was answered by.
    pub agent: Option<String>,
    /// The reply sent, once answered.
    pub reply: Option<String>,
}

impl Handoff {
    /// The intent the home thought most likely (`none` when it had no candidate): suggestion choices are
    /// counted per brand and intent.
    pub fn intent(&self) -> &str {
        self.request
            .candidates
            .first()
            .map_or("none", |c| c.intent.as_str())
    }
}

/// A queue line: enough to list a handoff with its age.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueItem {
    /// Handoff id.
    pub id: String,
    /// The customer's home.
    pub home: String,
    /// The customer's language.
    pub language: String,
    /// The skill, if any.
    pub skill: Option<String>,
    /// The home's one-line summary (untrusted text).
    pub summary: String,
    /// When the desk received it.
    pub received_ms: u64,
    /// Queued or assigned.
    pub status: Status,
    /// The agent it is routed to.
    pub agent: Option<String>,
}

/// A brand's open handoffs, as the queue page shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct Queue {
    /// Every assigned handoff and the oldest queued ones, oldest first.
    pub items: Vec<QueueItem>,
    /// How many are queued in all (more than `items` holds when the queue is long).
    pub waiting: u64,
}

/// An agent as registered.
#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    /// Sign-in name, unique across the desk.
    pub id: String,
    /// The brand the agent works for; they see only this brand's handoffs.
    pub brand: String,
    /// Display name, as the customer may hear it.
    pub name: String,
    /// Languages spoken (`en`, `de`, `pt-BR`, …).
    pub languages: Vec<String>,
    /// Skills the agent knows (skill ids; `*` for all).
    pub skills: Vec<String>,
    /// Most handoffs routed to the agent at once.
    pub capacity: u32,
    /// Signed in and taking handoffs.
    pub available: bool,
    /// Handoffs routed to the agent and not answered yet.
    pub load: u32,
}

/// What became of a handoff or report received from a home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// Stored; routed to this agent, or queued (`None`).
    New(Option<String>),
    /// Already stored (a re-delivery): ignored.
    Duplicate,
    /// No agent at this desk works for the brand: refused.
    UnknownBrand,
}

/// A route decision made in a transaction: handoff → agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The handoff.
    pub handoff: String,
    /// The agent.
    pub agent: String,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// When, ms since the epoch.
    pub at_ms: u64,
    /// Who (an agent id, or `desk` for routing).
    pub actor: String,
    /// What (`sign-in`, `assigned`, `reply`, `reply-refused`, …).
    pub action: String,
    /// The handoff concerned, if any.
    pub handoff: String,
    /// Details.
    pub detail: String,
}

/// One row of a touchpoint report, as stored for insights.
#[derive(Debug, Clone, PartialEq)]
pub struct TouchRow {
    /// Period start of the report, ms since the epoch.
    pub period_start_ms: u64,
    /// The row.
    pub stats: emma_handoff::IntentStats,
}

/// A reply stored but not yet handed to the broker.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// Where it goes.
    pub home: String,
    /// The message.
    pub reply: AgentReply,
}

/// A session of a signed-in agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// The agent.
    pub agent: Agent,
    /// The CSRF token every form of this session must carry.
    pub csrf: String,
}

/// The desk's database.
pub struct Store {
    db: Db,
    limits: Limits,
}

/// What the sessions table keeps of a session token: its BLAKE2b-256 hash, hex.
fn token_key(token: &str) -> String {
    use blake2::Digest;
    blake2::Blake2b::<blake2::digest::consts::U32>::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn json_err(what: &str, e: serde_json::Error) -> DeskError {
    DeskError::Store {
        backend: "json",
        message: format!("{what}: {e}"),
    }
}

const AGENT_COLUMNS: &str = "a.id, a.brand, a.name, a.languages, a.skills, a.capacity, a.available, \
     (SELECT COUNT(*) FROM handoffs h WHERE h.agent = a.id AND h.status = 'assigned')";

fn agent_of(r: &Row) -> Agent {
    Agent {
        id: r.t(0),
        brand: r.t(1),
        name: r.t(2),
        languages: split_list(&r.t(3)),
        skills: split_list(&r.t(4)),
        capacity: u32::try_from(r.i(5)).unwrap_or(0),
        available: r.i(6) != 0,
        load: u32::try_from(r.i(7)).unwrap_or(u32::MAX),
    }
}

async fn audit(
    tx: &mut Tx<'_>,
    now: u64,
    actor: &str,
    action: &str,
    handoff: &str,
    detail: &str,
) -> Result<()> {
    tracing::info!(actor, action, handoff, detail, "desk action");
    tx.exec(
        "INSERT INTO audit (at_ms, actor, action, handoff, detail) VALUES ($1, $2, $3, $4, $5)",
        &[
            now.into(),
            actor.into(),
            action.into(),
            handoff.into(),
            detail.into(),
        ],
    )
    .await?;
    Ok(())
}

impl Store {
    /// Opens the database named by `url`: `postgres://…` or `postgresql://…` for PostgreSQL, otherwise an
    /// SQLite file path (optionally `sqlite://PATH`). Creates the tables if they are missing.
    pub async fn open(url: &str) -> Result<Store> {
        let db = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Db::connect_postgres(url).await?
        } else {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            if path.is_empty() {
                return Err(DeskError::Database {
                    url: url.into(),
                    message: "empty path".into(),
                });
            }
            Db::open_sqlite(Path::new(path))?
        };
        let store = Store {
            db,
            limits: Limits::default(),
        };
        let mut tx = store.db.tx().await?;
        let ddl = schema::ddl(tx.kind());
        tx.batch(&ddl).await?;
        tx.commit().await?;
        Ok(store)
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        self.db.kind()
    }

    /// Registers an agent or updates one (the password hash is an argon2 PHC string, see
    /// [`crate::web::hash_password`]).
    pub async fn upsert_agent(&self, agent: &Agent, password_hash: &str, now: u64) -> Result<()> {
        let mut tx = self.db.unlocked().await?;
        tx.exec(
            "INSERT INTO agents (id, brand, name, languages, skills, capacity, available, password, last_seen_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, 0) \
             ON CONFLICT (id) DO UPDATE SET brand = excluded.brand, name = excluded.name, \
             languages = excluded.languages, skills = excluded.skills, capacity = excluded.capacity, \
             password = excluded.password",
            &[
                (&agent.id).into(),
                (&agent.brand).into(),
                (&agent.name).into(),
                agent.languages.join(",").into(),
                agent.skills.join(",").into(),
                agent.capacity.into(),
                password_hash.into(),
            ],
        )
        .await?;
        audit(&mut tx, now, "admin", "agent-saved", "", &agent.id).await?;
        tx.commit().await
    }

    /// An agent by id.
    pub async fn agent(&self, id: &str) -> Result<Option<Agent>> {
        let mut tx = self.db.unlocked().await?;
        let rows = tx
            .rows(
                &format!("SELECT {AGENT_COLUMNS} FROM agents a WHERE a.id = $1"),
                &[id.into()],
            )
            .await?;
        tx.commit().await?;
        Ok(rows.first().map(agent_of))
    }

    /// The agents of a brand (all brands when `brand` is `None`), by id.
    pub async fn agents(&self, brand: Option<&str>) -> Result<Vec<Agent>> {
        let mut tx = self.db.unlocked().await?;
        let rows = match brand {
            Some(b) => {
                tx.rows(
                    &format!(
                        "SELECT {AGENT_COLUMNS} FROM agents a WHERE a.brand = $1 ORDER BY a.id"
                    ),
                    &[b.into()],
                )
                .await?
            }
            None => {
                tx.rows(
                    &format!("SELECT {AGENT_COLUMNS} FROM agents a ORDER BY a.id"),
                    &[],
                )
                .await?
            }
        };
        tx.commit().await?;
        Ok(rows.iter().map(agent_of).collect())
    }

    /// The stored password hash of an agent.
    pub async fn password_hash(&self, id: &str) -> Result<Option<String>> {
        let mut tx = self.db.unlocked().await?;
        let rows = tx
            .rows("SELECT password FROM agents WHERE id = $1", &[id.into()])
            .await?;
        tx.commit().await?;
        Ok(rows.first().map(|r| r.t(0)))
    }

    /// Stores a handoff from a home and routes it. Idempotent by handoff id: a re-delivery is
    /// [`Received::Duplicate`] and changes nothing.
    pub async fn receive_handoff(&self, req: &HandoffRequest, now: u64) -> Result<Received> {
        let body = serde_json::to_string(req).map_err(|e| json_err("handoff", e))?;
        let mut tx = self.db.tx().await?;
        let known = tx
            .rows(
                "SELECT COUNT(*) FROM agents WHERE brand = $1",
                &[(&req.brand).into()],
            )
            .await?;
        if known.first().map_or(0, |r| r.i(0)) == 0 {
            return Ok(Received::UnknownBrand);
        }
        let n = tx
            .exec(
                "INSERT INTO handoffs (id, brand, home, language, skill, body, received_ms, status, agent, \
                 reply, answered_ms, published) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', '', '', 0, 0) ON CONFLICT (id) DO NOTHING",
                &[
                    (&req.id).into(),
                    (&req.brand).into(),
                    (&req.home).into(),
                    (&req.language).into(),
                    req.skill.clone().unwrap_or_default().into(),
                    body.into(),
                    now.into(),
                ],
            )
            .await?;
        if n == 0 {
            return Ok(Received::Duplicate);
        }
        audit(
            &mut tx,
            now,
            "desk",
            "received",
            &req.id,
            &format!(
                "home {} brand {} language {}",
                req.home, req.brand, req.language
            ),
        )
        .await?;
        let assigned = route(&mut tx, Some(&req.id), now).await?;
        tx.commit().await?;
        Ok(Received::New(assigned.into_iter().next().map(|a| a.agent)))
    }

    /// Stores a touchpoint report. Idempotent by report id.
    pub async fn receive_touchpoints(
        &self,
        report: &TouchpointReport,
        now: u64,
    ) -> Result<Received> {
        let mut tx = self.db.unlocked().await?;
        let known = tx
            .rows(
                "SELECT COUNT(*) FROM agents WHERE brand = $1",
                &[(&report.brand).into()],
            )
            .await?;
        if known.first().map_or(0, |r| r.i(0)) == 0 {
            return Ok(Received::UnknownBrand);
        }
        let n = tx
            .exec(
                "INSERT INTO reports (id, brand, home, period_start_ms, period_end_ms, received_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
                &[
                    (&report.id).into(),
                    (&report.brand).into(),
                    (&report.home).into(),
                    report.period_start_ms.into(),
                    report.period_end_ms.into(),
                    now.into(),
                ],
            )
            .await?;
        if n == 0 {
            return Ok(Received::Duplicate);
        }
        for (i, s) in report.stats.iter().enumerate() {
            let row = serde_json::to_string(s).map_err(|e| json_err("touchpoint row", e))?;
            tx.exec(
                "INSERT INTO report_rows (report, n, brand, period_start_ms, body) VALUES ($1, $2, $3, $4, $5)",
                &[
                    (&report.id).into(),
                    (i as u64).into(),
                    (&report.brand).into(),
                    report.period_start_ms.into(),
                    row.into(),
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Received::New(None))
    }

    /// Every touchpoint row received for a brand.
    pub async fn touch_rows(&self, brand: &str) -> Result<Vec<TouchRow>> {
        let mut tx = self.db.unlocked().await?;
        let rows = tx
            .rows(
                "SELECT period_start_ms, body FROM report_rows WHERE brand = $1 ORDER BY period_start_ms, report, n",
                &[brand.into()],
            )
            .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| {
                Ok(TouchRow {
                    period_start_ms: r.u(0),
                    stats: serde_json::from_str(&r.t(1))
                        .map_err(|e| json_err("touchpoint row", e))?,
                })
            })
            .collect()
    }

    /// How many touchpoint reports a brand has.
    pub async fn report_count(&self, brand: &str) -> Result<u64> {
        let mut tx = self.db.unlocked().await?;
        let rows = tx
            .rows(
                "SELECT COUNT(*) FROM reports WHERE brand = $1",
                &[brand.into()],
            )
            .await?;
        tx.commit().await?;
        Ok(rows.first().map_or(0, |r| r.u(0)))
    }

    /// An agent signs in (becomes available) or goes away. Going away returns their unanswered handoffs
    /// to the queue; both re-route the queue. Returns the assignments made.
    pub async fn set_available(
        &self,
        agent: &str,
        available: bool,
        now: u64,
        why: &str,
    ) -> Result<Vec<Assignment>> {
        let mut tx = self.db.tx().await?;
        let n = tx
            .exec(
                "UPDATE agents SET available = $2, last_seen_ms = $3 WHERE id = $1",
                &[agent.into(), available.into(), now.into()],
            )
            .await?;
        if n == 0 {
            return Err(DeskError::UnknownAgent(agent.into()));
        }
        if available {
            audit(&mut tx, now, agent, "available", "", why).await?;
        } else {
            let returned = tx
                .rows(
                    "UPDATE handoffs SET status = 'queued', agent = '' WHERE agent = $1 AND status = 'assigned' \
                     RETURNING id",
                    &[agent.into()],
                )
                .await?;
            audit(
                &mut tx,
                now,
                agent,
                "away",
                "",
                &format!(
                    "{why}; {} open handoffs returned to the queue",
                    returned.len()
                ),
            )
            .await?;
            for r in &returned {
                audit(&mut tx, now, agent, "returned", &r.t(0), why).await?;
            }
        }
        let assigned = route(&mut tx, None, now).await?;
        tx.commit().await?;
        Ok(assigned)
    }

    /// Notes that an agent's page is open (the page refreshes); see [`Store::expire_idle`].
    pub async fn seen(&self, agent: &str, now: u64) -> Result<()> {
        let mut tx = self.db.unlocked().await?;
        tx.exec(
            "UPDATE agents SET last_seen_ms = $2 WHERE id = $1",
            &[agent.into(), now.into()],
        )
        .await?;
        tx.commit().await
    }

    /// Agents marked available whose page has not been seen for `idle_ms` go away (their handoffs return
    /// to the queue). Returns who went away.
    pub async fn expire_idle(&self, now: u64, idle_ms: u64) -> Result<Vec<String>> {
        let mut tx = self.db.unlocked().await?;
        let idle = tx
            .rows(
                "SELECT id FROM agents WHERE available = 1 AND last_seen_ms < $1 ORDER BY id",
                &[now.saturating_sub(idle_ms).into()],
            )
            .await?;
        tx.commit().await?;
        let mut gone = Vec::new();
        for r in idle {
            let id = r.t(0);
            self.set_available(&id, false, now, "page not seen; timed out")
                .await?;
            gone.push(id);
        }
        Ok(gone)
    }

    /// The brand's open handoffs: every assigned one and the oldest `max_waiting` queued ones, oldest first,
    /// with the number of queued ones.
    pub async fn queue(&self, brand: &str, max_waiting: u32) -> Result<Queue> {
        const COLUMNS: &str =
            "SELECT id, home, language, skill, body, received_ms, status, agent FROM handoffs";
        let mut tx = self.db.unlocked().await?;
        let mut rows = tx
            .rows(
                &format!(
                    "{COLUMNS} WHERE brand = $1 AND status = 'assigned' ORDER BY received_ms, id"
                ),
                &[brand.into()],
            )
            .await?;
        rows.extend(
            tx.rows(
                &format!("{COLUMNS} WHERE brand = $1 AND status = 'queued' ORDER BY received_ms, id LIMIT $2"),
                &[brand.into(), max_waiting.into()],
            )
            .await?,
        );
        let waiting = tx
            .rows(
                "SELECT COUNT(*) FROM handoffs WHERE brand = $1 AND status = 'queued'",
                &[brand.into()],
            )
            .await?
            .first()
            .map_or(0, |r| r.u(0));
        tx.commit().await?;
        let mut items = rows
            .iter()
            .map(|r| {
                let req: HandoffRequest =
                    serde_json::from_str(&r.t(4)).map_err(|e| json_err("handoff", e))?;
                Ok(QueueItem {
                    id: r.t(0),
                    home: r.t(1),
                    language: r.t(2),
                    skill: Some(r.t(3)).filter(|s| !s.is_empty()),
                    summary: req.summary,
                    received_ms: r.u(5),
                    status: Status::parse(&r.t(6)),
                    agent: Some(r.t(7)).filter(|s| !s.is_empty()),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        items.sort_by(|a, b| (a.received_ms, &a.id).cmp(&(b.received_ms, &b.id)));
        Ok(Queue { items, waiting })
    }

    /// How many handoffs are in each state (all brands): (queued, assigned, answered).
    pub async fn counts(&self) -> Result<(u64, u64, u64)> {
        let mut tx = self.db.unlocked().await?;
        let rows = tx
            .rows("SELECT status, COUNT(*) FROM handoffs GROUP BY status", &[])
            .await?;
        tx.commit().await?;
        let mut c = (0, 0, 0);
        for r in rows {
            match Status::parse(&r.t(0)) {
                Status::Queued => c.0 = r.u(1),
                Status::Assigned => c.1 = r.u(1),
                Status::Answered => c.2 = r.u(1),
            }
        }
        Ok(c)
    }

    /// A handoff of `brand` (another brand's handoff is not found).
    pub async fn handoff(&self, brand: &str, id: &str) -> Result<Option<Handoff>> {
        let mut tx = self.db.unlocked().await?;
        let rows = tx
            .rows(
                "SELECT body, received_ms, status, agent, reply FROM handoffs WHERE id = $1 AND brand = $2",
                &[id.into(), brand.into()],
            )
            .await?;
        tx.commit().await?;
        let Some(r) = rows.first() else {
            return Ok(None);
        };
        Ok(Some(Handoff {
            request: serde_json::from_str(&r.t(0)).map_err(|e| json_err("handoff", e))?,
            received_ms: r.u(1),
            status: Status::parse(&r.t(2)),
            agent: Some(r.t(3)).filter(|s| !s.is_empty()),
            reply: Some(r.t(4)).filter(|s| !s.is_empty()),
        }))
    }

    /// How often agents of `brand` chose each suggestion for `intent`.
    pub async fn suggestion_counts(
        &self,
        brand: &str,
        intent: &str,
    ) -> Result<HashMap<String, u64>> {
        let mut tx = self.db.unlocked().await?;
        let rows = tx
            .rows(
                "SELECT text, chosen FROM suggestions WHERE brand = $1 AND intent = $2",
                &[brand.into(), intent.into()],
            )
            .await?;
        tx.commit().await?;
        Ok(rows.iter().map(|r| (r.t(0), r.u(1))).collect())
    }

    /// An agent answers a handoff: refused unless it is routed to this agent and not answered yet. The reply
    /// is recorded (to be published; see [`Store::unpublished`]), a chosen suggestion is counted, the agent's
    /// load drops and the queue is re-routed.
    pub async fn reply(
        &self,
        agent: &Agent,
        handoff: &str,
        text: &str,
        now: u64,
    ) -> Result<(Outgoing, Vec<Assignment>)> {
        let text = emma_untrusted::text(text, self.limits.max_text_chars);
        if text.trim().is_empty() {
            return Err(DeskError::Invalid {
                field: "reply",
                message: "must not be empty".into(),
            });
        }
        let mut tx = self.db.tx().await?;
        let rows = tx
            .rows(
                "SELECT body, status, agent FROM handoffs WHERE id = $1 AND brand = $2",
                &[handoff.into(), (&agent.brand).into()],
            )
            .await?;
        let refused = match rows.first() {
            None => Some(DeskError::UnknownHandoff(handoff.into())),
            Some(r) if Status::parse(&r.t(1)) == Status::Answered => {
                Some(DeskError::AlreadyAnswered(handoff.into()))
            }
            Some(r) if r.t(2) != agent.id => Some(DeskError::NotYours {
                handoff: handoff.into(),
                agent: agent.id.clone(),
            }),
            Some(_) => None,
        };
        if let Some(err) = refused {
            tracing::warn!(agent = %agent.id, handoff, error = %err, "reply refused");
            audit(
                &mut tx,
                now,
                &agent.id,
                "reply-refused",
                handoff,
                &err.to_string(),
            )
            .await?;
            tx.commit().await?;
            return Err(err);
        }
        let req: HandoffRequest =
            serde_json::from_str(&rows[0].t(0)).map_err(|e| json_err("handoff", e))?;
        let reply = AgentReply {
            v: PROTOCOL_VERSION,
            handoff: handoff.into(),
            agent: agent.name.clone(),
            text: text.clone(),
            sent_ms: now,
        };
        emma_handoff::encode(&reply, &self.limits)?;
        tx.exec(
            "UPDATE handoffs SET status = 'answered', reply = $2, answered_ms = $3, published = 0 WHERE id = $1",
            &[handoff.into(), (&text).into(), now.into()],
        )
        .await?;
        let intent = req.candidates.first().map_or("none", |c| c.intent.as_str());
        // The page shows suggestions cleaned; compare cleaned, count under the home's text.
        let chosen = req
            .suggestions
            .iter()
            .find(|s| emma_untrusted::text(s, self.limits.max_text_chars).trim() == text.trim());
        if let Some(suggestion) = chosen {
            tx.exec(
                "INSERT INTO suggestions (brand, intent, text, chosen) VALUES ($1, $2, $3, 1) \
                 ON CONFLICT (brand, intent, text) DO UPDATE SET chosen = suggestions.chosen + 1",
                &[
                    (&agent.brand).into(),
                    intent.into(),
                    suggestion.trim().into(),
                ],
            )
            .await?;
        }
        audit(
            &mut tx,
            now,
            &agent.id,
            "reply",
            handoff,
            if chosen.is_some() {
                "suggestion chosen"
            } else {
                "own words"
            },
        )
        .await?;
        let assigned = route(&mut tx, None, now).await?;
        tx.commit().await?;
        Ok((
            Outgoing {
                home: req.home,
                reply,
            },
            assigned,
        ))
    }

    /// Replies recorded but not yet handed to the broker (after a restart, or a failed publish), oldest first.
    pub async fn unpublished(&self) -> Result<Vec<Outgoing>> {
        let mut tx = self.db.unlocked().await?;
        let rows = tx
            .rows(
                "SELECT h.id, h.home, h.reply, h.answered_ms, COALESCE(a.name, h.agent) FROM handoffs h \
                 LEFT JOIN agents a ON a.id = h.agent \
                 WHERE h.status = 'answered' AND h.published = 0 ORDER BY h.answered_ms, h.id",
                &[],
            )
            .await?;
        tx.commit().await?;
        Ok(rows
            .iter()
            .map(|r| Outgoing {
                home: r.t(1),
                reply: AgentReply {
                    v: PROTOCOL_VERSION,
                    handoff: r.t(0),
                    agent: r.t(4),
                    text: r.t(2),
                    sent_ms: r.u(3),
                },
            })
            .collect())
    }

    /// Marks a reply as handed to the broker.
    pub async fn mark_published(&self, handoff: &str) -> Result<()> {
        let mut tx = self.db.unlocked().await?;
        tx.exec(
            "UPDATE handoffs SET published = 1 WHERE id = $1",
            &[handoff.into()],
        )
        .await?;
        tx.commit().await
    }

    /// Records an action in the audit log (sign-in, refused sign-in, refused form, …).
    pub async fn log(
        &self,
        now: u64,
        actor: &str,
        action: &str,
        handoff: &str,
        detail: &str,
    ) -> Result<()> {
        let mut tx = self.db.unlocked().await?;
        audit(&mut tx, now, actor, action, handoff, detail).await?;
        tx.commit().await
    }

    /// The audit log of an agent's brand (all agents when `brand` is `None`), newest first, at most `limit`.
    pub async fn audit_log(&self, brand: Option<&str>, limit: u32) -> Result<Vec<AuditEntry>> {
        let mut tx = self.db.unlocked().await?;
        let rows = match brand {
            Some(b) => {
                tx.rows(
                    "SELECT l.at_ms, l.actor, l.action, l.handoff, l.detail FROM audit l \
                     WHERE l.actor IN (SELECT id FROM agents WHERE brand = $1) \
                     OR l.handoff IN (SELECT id FROM handoffs WHERE brand = $1) \
                     ORDER BY l.seq DESC LIMIT $2",
                    &[b.into(), limit.into()],
                )
                .await?
            }
            None => {
                tx.rows(
                    "SELECT at_ms, actor, action, handoff, detail FROM audit ORDER BY seq DESC LIMIT $1",
                    &[limit.into()],
                )
                .await?
            }
        };
        tx.commit().await?;
        Ok(rows
            .iter()
            .map(|r| AuditEntry {
                at_ms: r.u(0),
                actor: r.t(1),
                action: r.t(2),
                handoff: r.t(3),
                detail: r.t(4),
            })
            .collect())
    }

    /// How many times `actor` did `action` since `since_ms` (e.g. refused sign-ins, to slow down guessing).
    pub async fn recent(&self, actor: &str, action: &str, since_ms: u64) -> Result<u64> {
        let mut tx = self.db.unlocked().await?;
        let rows = tx
            .rows(
                "SELECT COUNT(*) FROM audit WHERE actor = $1 AND action = $2 AND at_ms > $3",
                &[actor.into(), action.into(), since_ms.into()],
            )
            .await?;
        tx.commit().await?;
        Ok(rows.first().map_or(0, |r| r.u(0)))
    }

    /// Starts a session for a signed-in agent. Only a hash of the token is stored, so the database alone
    /// does not let anyone into a session.
    pub async fn create_session(
        &self,
        token: &str,
        agent: &str,
        csrf: &str,
        expires_ms: u64,
    ) -> Result<()> {
        let mut tx = self.db.unlocked().await?;
        tx.exec(
            "INSERT INTO sessions (token, agent, csrf, expires_ms) VALUES ($1, $2, $3, $4)",
            &[
                token_key(token).into(),
                agent.into(),
                csrf.into(),
                expires_ms.into(),
            ],
        )
        .await?;
        tx.commit().await
    }

    /// The session for a cookie token, if it exists and has not expired.
    pub async fn session(&self, token: &str, now: u64) -> Result<Option<Session>> {
        let mut tx = self.db.unlocked().await?;
        let rows = tx
            .rows(
                &format!(
                    "SELECT {AGENT_COLUMNS}, s.csrf FROM sessions s JOIN agents a ON a.id = s.agent \
                     WHERE s.token = $1 AND s.expires_ms > $2"
                ),
                &[token_key(token).into(), now.into()],
            )
            .await?;
        tx.commit().await?;
        Ok(rows.first().map(|r| Session {
            agent: agent_of(r),
            csrf: r.t(8),
        }))
    }

    /// Deletes expired sessions; returns how many.
    pub async fn purge_sessions(&self, now: u64) -> Result<u64> {
        let mut tx = self.db.unlocked().await?;
        let n = tx
            .exec("DELETE FROM sessions WHERE expires_ms <= $1", &[now.into()])
            .await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Ends a session.
    pub async fn delete_session(&self, token: &str) -> Result<()> {
        let mut tx = self.db.unlocked().await?;
        tx.exec(
            "DELETE FROM sessions WHERE token = $1",
            &[token_key(token).into()],
        )
        .await?;
        tx.commit().await
    }
}

/// Routes queued handoffs to available agents (only `only` when given: a new arrival changes nothing for
/// the others). Oldest first; see [`routing::choose`] for the order of preference.
async fn route(tx: &mut Tx<'_>, only: Option<&str>, now: u64) -> Result<Vec<Assignment>> {
    let agent_rows = tx
        .rows(
            &format!("SELECT {AGENT_COLUMNS} FROM agents a WHERE a.available = 1 ORDER BY a.id"),
            &[],
        )
        .await?;
    let mut agents: Vec<Agent> = agent_rows.iter().map(agent_of).collect();
    agents.retain(|a| a.load < a.capacity);
    if agents.is_empty() {
        return Ok(Vec::new());
    }
    let queued = match only {
        Some(id) => {
            tx.rows(
                "SELECT id, brand, home, language, skill FROM handoffs WHERE id = $1 AND status = 'queued'",
                &[id.into()],
            )
            .await?
        }
        None => {
            tx.rows(
                "SELECT id, brand, home, language, skill FROM handoffs WHERE status = 'queued' \
                 ORDER BY received_ms, id",
                &[],
            )
            .await?
        }
    };
    let mut out = Vec::new();
    for q in queued {
        let (id, brand, home, language, skill) = (q.t(0), q.t(1), q.t(2), q.t(3), q.t(4));
        let eligible: Vec<&Agent> = agents
            .iter()
            .filter(|a| a.brand == brand && a.load < a.capacity)
            .collect();
        if eligible.is_empty() {
            continue;
        }
        let before: Vec<String> = tx
            .rows(
                "SELECT DISTINCT agent FROM handoffs WHERE home = $1 AND brand = $2 AND status = 'answered'",
                &[(&home).into(), (&brand).into()],
            )
            .await?
            .iter()
            .map(|r| r.t(0))
            .collect();
        let loads: Vec<AgentLoad<'_>> = eligible
            .iter()
            .map(|a| AgentLoad {
                id: &a.id,
                languages: &a.languages,
                skills: &a.skills,
                load: a.load,
                answered_before: before.contains(&a.id),
            })
            .collect();
        let skill = Some(skill.as_str()).filter(|s| !s.is_empty());
        let Some(pick) = routing::choose(&language, skill, &loads) else {
            continue;
        };
        let agent_id = loads[pick].id.to_owned();
        tx.exec(
            "UPDATE handoffs SET status = 'assigned', agent = $2 WHERE id = $1",
            &[(&id).into(), (&agent_id).into()],
        )
        .await?;
        audit(tx, now, "desk", "assigned", &id, &agent_id).await?;
        if let Some(a) = agents.iter_mut().find(|a| a.id == agent_id) {
            a.load += 1;
        }
        out.push(Assignment {
            handoff: id,
            agent: agent_id,
        });
    }
    Ok(out)
}
