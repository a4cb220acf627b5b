//! The conversation worker: one thread owns the intent engine, the skills,
//! the dialog session and the built-in handlers; every utterance (typed or
//! heard), every device event and every refresh reaches it as a
//! [`Request`] on one channel, so turns never interleave and skills (which
//! need `&mut`) have exactly one owner.
//!
//! Skills and speech are blocking work, so this is a plain thread rather than
//! a tokio task; the async device layer is driven through the assistant's
//! runtime handle.
//!
//! What a skill says on its own (an event reply, an order proposal) waits for
//! a good moment: while the customer is inside an utterance (the audio
//! session's endpointer heard speech start and not yet end) or a question
//! Emma asked is still open, it is held, in order, and spoken after the turn
//! (or once the question is answered or times out). A held question becomes
//! the dialog's pending question only when it is spoken, so it never replaces
//! one the customer is answering.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use emma_devices::control::{DEVICES_SLOT, HomeControl, Plan, Slots};
use emma_devices::{Access, Action, Domain, Home, SentCommand};
use emma_intent::Context;
use emma_skill_host::types::Effect;
use emma_skill_host::{Permission, Request as SkillRequest, SkillHome, SkillInstance};
use tokio::runtime::Handle;

use super::dialog::{Answer, Confirming, Pending, Responses, Session, normalize};
use super::error::AssistantError;
use super::event::{AssistantEvent, Hub, IntentInfo, Turn, command_event};
use super::intents::{Handler, Routes};
use super::services::refused;
use super::tts::TextToSpeech;
use crate::events::EventRouter;
use crate::understand::{Understander, Understood};

/// Longest text the assistant reads (longer input is answered, not matched).
pub const MAX_TEXT_CHARS: usize = 1000;

/// How often held announcements are reconsidered while nothing else happens.
const HELD_POLL: Duration = Duration::from_millis(100);

/// Something to say that no utterance asked for, waiting for a good moment.
pub(crate) struct Announcement {
    /// What to say.
    pub text: String,
    /// The question it asks (it becomes the session's pending question when spoken).
    pub asks: Option<Pending>,
}

/// Where a finished turn goes.
pub(crate) type TurnReply = Box<dyn FnOnce(Result<Turn, AssistantError>) + Send>;

/// What the worker is asked to do.
pub(crate) enum Request {
    /// Typed text.
    Text { text: String, reply: TurnReply },
    /// An utterance the speech pipeline understood.
    Heard {
        understood: Understood,
        reply: TurnReply,
    },
    /// A device event from the home.
    DeviceEvent(emma_devices::DeviceEvent),
    /// A person's answer to a handoff (decoded and bounded; see `handoff`).
    AgentReply(emma_handoff::AgentReply),
    /// Stop after the requests before this one.
    Stop,
}

/// One recognised intent with the words its slots were said with.
struct Recognized {
    intent: String,
    slots: Slots,
    confidence: f32,
}

/// What the recogniser made of an utterance.
struct Heard {
    /// The command, if any.
    rec: Option<Recognized>,
    /// Set when the command should be confirmed before acting on it.
    unsure: Option<crate::understand::Unsure>,
}

/// A loaded skill and where its device commands are logged.
pub(crate) struct LoadedSkill {
    /// The skill's services (consent-filtered), to tell them why the skill is called.
    pub services: Arc<crate::consent::ConsentServices>,
    pub sent: Arc<Mutex<Vec<SentCommand>>>,
}

/// The worker's state.
pub(crate) struct Worker {
    pub lang: String,
    pub responses: Responses,
    pub routes: Routes,
    pub control: HomeControl,
    pub router: EventRouter,
    pub skills: Vec<LoadedSkill>,
    pub skill_home: Option<SkillHome>,
    pub home: Home,
    pub rt: Handle,
    pub hub: Hub,
    pub session: Session,
    pub tts: Option<Arc<dyn TextToSpeech>>,
    pub area: Option<String>,
    pub threshold: f32,
    pub generation: Option<u64>,
    pub understander: Arc<Mutex<Option<Understander>>>,
    pub grammar_stale: bool,
    /// The data directory (where the speech calibration is kept).
    pub data_dir: std::path::PathBuf,
    pub privacy: Arc<emma_privacy::Privacy>,
    pub handoffs: super::handoff::Handoffs,
    pub touch: super::touchpoints::Recorder,
    /// True while the customer is inside an utterance (set by the audio session's understander).
    pub speaking: Arc<AtomicBool>,
    /// Announcements waiting for a good moment, oldest first.
    pub held: VecDeque<Announcement>,
}

/// What a turn produced before it is spoken.
struct Said {
    reply: String,
    intent: Option<IntentInfo>,
    commands: Vec<SentCommand>,
    expects_answer: bool,
    handled_by: Option<String>,
    /// See [`Turn::handled`].
    handled: bool,
}

impl Said {
    fn text(reply: String) -> Said {
        Said {
            reply,
            intent: None,
            commands: Vec::new(),
            expects_answer: false,
            handled_by: None,
            handled: false,
        }
    }

    fn dialog(reply: String, expects_answer: bool) -> Said {
        Said {
            expects_answer,
            handled_by: Some("dialog".into()),
            handled: true,
            ..Said::text(reply)
        }
    }
}

impl Worker {
    /// Serves requests until `Stop` or until every sender is gone.
    pub fn run(mut self, requests: mpsc::Receiver<Request>) {
        self.refresh_lists();
        loop {
            let req = if self.held.is_empty() {
                // The next request often follows the last turn within
                // microseconds (an app's loop of text turns): see `wait`.
                super::wait::recv_soon(&requests, super::wait::POLL).ok()
            } else {
                match requests.recv_timeout(HELD_POLL) {
                    Ok(req) => Some(req),
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        self.deliver_held();
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => None,
                }
            };
            let Some(req) = req else { break };
            match req {
                Request::Stop => break,
                Request::Text { text, reply } => {
                    let turn = self.turn(&text, None);
                    reply(Ok(turn));
                }
                Request::Heard { understood, reply } => {
                    if understood.rejected == Some(crate::understand::Rejected::NotACommand) {
                        // The audio fits no command: report it, never act on it,
                        // as what the customer said when Moonshine heard it
                        // (the grammar's text is the command it forced the
                        // speech into; a person helping reads this turn).
                        let text = understood
                            .agreement
                            .as_ref()
                            .and_then(|a| a.said())
                            .unwrap_or(&understood.text)
                            .to_owned();
                        self.hub
                            .emit(AssistantEvent::Transcript { text: text.clone() });
                        let now = Instant::now();
                        self.touch.begin(now);
                        self.handoffs.begin_turn(now, &text);
                        let reason = match understood.rejected_by {
                            Some(crate::understand::RejectedBy::Agreement) => {
                                "not a command (an open-vocabulary transcript of the speech disagrees with the grammar's command)"
                            }
                            _ => "not a command (the speech fits no sentence of the grammar)",
                        };
                        let mut said = self.not_understood(&text, reason, "not_understood");
                        if let Some(line) = self.handoff_after(&said.reply) {
                            said.reply = format!("{}. {line}", said.reply);
                        }
                        let turn = self.speak(&text, said);
                        self.record_touchpoint(&turn, true);
                        reply(Ok(turn));
                        continue;
                    }
                    let rec = understood.intent.clone().map(|intent| Recognized {
                        intent,
                        slots: understood
                            .slots
                            .iter()
                            .map(|(k, v)| (k.clone(), (v.clone(), v.clone())))
                            .collect(),
                        confidence: understood.confidence,
                    });
                    let heard = Heard {
                        rec,
                        unsure: understood.unsure,
                    };
                    let turn = self.turn(&understood.text, Some(heard));
                    reply(Ok(turn));
                }
                Request::DeviceEvent(event) => self.device_event(&event),
                Request::AgentReply(reply) => self.agent_reply(reply),
            }
            self.deliver_held();
        }
        // Stopping: nothing held is dropped silently (a proposal stays in the skill's store).
        for a in std::mem::take(&mut self.held) {
            self.announce(a.text, false);
        }
        tracing::debug!("conversation worker stopped");
    }

    /// Reloads the registry's names, areas and floors into the engines when devices changed.
    fn refresh_lists(&mut self) {
        let (generation, lists) = {
            let reg = self.home.registry();
            (reg.generation(), reg.intent_lists())
        };
        if self.generation == Some(generation) && !self.grammar_stale {
            return;
        }
        emma_devices::control::load_lists(&mut self.routes.engine, &lists);
        self.control.set_lists(&lists);
        self.generation = Some(generation);
        // The speech grammar follows (unless an audio session holds the recogniser now).
        let mut slot = self.understander.lock().unwrap_or_else(|e| e.into_inner());
        match slot.as_mut() {
            Some(u) => {
                emma_devices::control::load_lists(u.intents_mut(), &lists);
                let was_calibrated = u.is_calibrated();
                match u.reload_grammar() {
                    Ok(()) => super::calibration::follow_grammar(u, &self.data_dir, was_calibrated),
                    Err(e) => self.hub.emit(AssistantEvent::Error {
                        stage: "speech".into(),
                        message: format!("could not update the speech grammar: {e}"),
                    }),
                }
                self.grammar_stale = false;
            }
            None => self.grammar_stale = true,
        }
    }

    /// One utterance: dialog, intent, handler, reply.
    fn turn(&mut self, text: &str, heard: Option<Heard>) -> Turn {
        let now = Instant::now();
        self.refresh_lists();
        self.session.expire(now);
        let text: String = text.chars().filter(|c| !c.is_control()).collect();
        let text = text.trim();
        self.touch.begin(now);
        self.handoffs.begin_turn(
            now,
            if text.chars().count() <= MAX_TEXT_CHARS {
                text
            } else {
                ""
            },
        );
        self.hub.emit(AssistantEvent::Transcript {
            text: text.to_string(),
        });
        let voice = heard.is_some();
        let mut said = self.understand_and_act(text, heard);
        if let Some(line) = self.handoff_after(&said.reply) {
            said.reply = if said.reply.trim().is_empty() {
                line
            } else {
                format!("{}. {line}", said.reply.trim_end_matches(['.', ' ']))
            };
        }
        if !text.is_empty() && text.chars().count() <= MAX_TEXT_CHARS {
            let intent = said.intent.as_ref().map(|i| i.name.as_str());
            if let Err(e) = self
                .privacy
                .record_transcript(text, intent, emma_privacy::now_ms())
            {
                tracing::warn!(error = %e, "transcript not recorded");
            }
        }
        self.session.touch(Instant::now());
        let turn = self.speak(text, said);
        self.record_touchpoint(&turn, voice);
        turn
    }

    fn understand_and_act(&mut self, text: &str, heard: Option<Heard>) -> Said {
        if text.is_empty() {
            return self.not_understood(text, "nothing was said", "empty");
        }
        if text.chars().count() > MAX_TEXT_CHARS {
            return self.not_understood(
                "",
                &format!("longer than {MAX_TEXT_CHARS} characters"),
                "too_long",
            );
        }
        let answer = self.responses.answer(text);
        if let Some(pending) = self.session.pending.take()
            && let Some(said) = self.answer_pending(pending, text, answer)
        {
            return said;
        }
        if answer == Answer::Cancel {
            return Said::dialog(self.responses.say("nothing_to_cancel", &[]), false);
        }
        let (rec, unsure) = match heard {
            Some(h) => (h.rec, h.unsure),
            None => (self.recognize(text, None), None),
        };
        let Some(rec) = rec else {
            return self.not_understood(text, "no intent matched", "not_understood");
        };
        if rec.confidence < self.threshold {
            return self.not_understood(
                text,
                &format!(
                    "confidence {:.2} below {:.2} for {}",
                    rec.confidence, self.threshold, rec.intent
                ),
                "low_confidence",
            );
        }
        // Dialog words out of a dialog ("no", "cancel") do nothing to ask about.
        if let Some(why) = unsure
            && !super::dialog::DIALOG_INTENTS.contains(&rec.intent.as_str())
        {
            // Heard, but not surely: ask instead of acting on a misheard question.
            tracing::info!(intent = %rec.intent, why = why.name(), "asking before acting");
            self.session.pending = Some(Pending::ConfirmCommand {
                intent: rec.intent,
                slots: rec.slots,
                confidence: rec.confidence,
                why: Confirming::Heard,
            });
            return Said::dialog(self.responses.say("did_you_say", &[("heard", text)]), true);
        }
        self.act(rec, false)
    }

    /// The best intent for `text`; with `prefer`, that skill's intents win among the candidates.
    fn recognize(&self, text: &str, prefer: Option<&str>) -> Option<Recognized> {
        let r = self.routes.engine.recognize(text, &Context::new());
        let pick = match prefer {
            Some(skill) => r
                .candidates
                .iter()
                .find(|c| {
                    matches!(self.routes.handlers.get(c.intent.as_str()), Some(Handler::Skill(s)) if s == skill)
                })
                .or(r.best.as_ref()),
            None => r.best.as_ref(),
        }?;
        Some(Recognized {
            intent: pick.intent.to_string(),
            slots: emma_devices::control::slots_of(pick),
            confidence: pick.confidence,
        })
    }

    fn not_understood(&mut self, text: &str, reason: &str, line: &str) -> Said {
        self.handoffs.not_understood(text, line);
        self.hub.emit(AssistantEvent::NotUnderstood {
            text: text.to_string(),
            reason: reason.to_string(),
        });
        Said::text(self.responses.say(line, &[]))
    }

    /// The answer to a question Emma asked; `None` when it is a new request instead.
    fn answer_pending(&mut self, pending: Pending, text: &str, answer: Answer) -> Option<Said> {
        if answer == Answer::Cancel {
            if let Pending::ConfirmProposal { id, .. } = &pending {
                tracing::info!(proposal = %id, "proposal left pending: the customer cancelled");
            }
            return Some(Said::dialog(self.responses.say("cancelled", &[]), false));
        }
        match pending {
            Pending::Room {
                intent,
                mut slots,
                confidence,
            } => {
                let said = self.responses.strip_fillers(text);
                let area = {
                    let reg = self.home.registry();
                    reg.areas()
                        .find(|a| {
                            normalize(&a.name) == said
                                || normalize(&a.id) == said
                                || a.aliases.iter().any(|x| normalize(x) == said)
                        })
                        .map(|a| a.id.clone())
                };
                match area {
                    Some(id) => {
                        slots.insert("area".into(), (id, said));
                        Some(self.act(
                            Recognized {
                                intent,
                                slots,
                                confidence,
                            },
                            false,
                        ))
                    }
                    // A new request ("turn on the kettle") replaces the question.
                    None if self.recognize(text, None).is_some() => None,
                    None => {
                        self.session.pending = Some(Pending::Room {
                            intent,
                            slots,
                            confidence,
                        });
                        Some(Said::dialog(
                            self.responses.say("unknown_room", &[("answer", &said)]),
                            true,
                        ))
                    }
                }
            }
            Pending::ConfirmCommand {
                intent,
                slots,
                confidence,
                why,
            } => match answer {
                // A confirmed unlock is done; a confirmed hearing is handled
                // as if heard surely (an unlock then still asks its own question).
                Answer::Yes => Some(self.act(
                    Recognized {
                        intent,
                        slots,
                        confidence,
                    },
                    why == Confirming::Unlock,
                )),
                Answer::No => Some(Said::dialog(self.responses.say(why.declined(), &[]), false)),
                _ => None,
            },
            Pending::ConfirmProposal { skill, id } => {
                let decision = match answer {
                    Answer::Yes => true,
                    Answer::No => false,
                    _ if self.recognize(text, None).is_some() => return None,
                    _ => {
                        self.session.pending = Some(Pending::ConfirmProposal { skill, id });
                        return Some(Said::dialog(self.responses.say("yes_or_no", &[]), true));
                    }
                };
                Some(self.decide(&skill, &id, decision))
            }
            Pending::FollowUp { skill, topic } => {
                let rec = self.recognize(text, Some(&skill))?;
                tracing::debug!(%skill, %topic, intent = %rec.intent, "follow-up answer");
                Some(self.act(rec, false))
            }
        }
    }

    /// The customer's decision on a skill's order proposal.
    fn decide(&mut self, skill: &str, id: &str, confirm: bool) -> Said {
        let Some(home) = &self.skill_home else {
            return Said::dialog(
                self.responses
                    .say("proposal_gone", &[("reason", "no skills are loaded")]),
                false,
            );
        };
        let result = if confirm {
            home.confirm(id)
        } else {
            home.decline(id)
        };
        match result {
            Ok(p) => {
                let decision = if confirm { "confirmed" } else { "declined" };
                tracing::info!(%skill, proposal = %id, %decision, "customer decided on a proposal");
                self.record_order(skill, id, Some(emma_privacy::Reason::customer()));
                self.hub.emit(AssistantEvent::ProposalDecided {
                    id: p.id.clone(),
                    decision: decision.into(),
                });
                let line = if confirm { "ordered" } else { "not_ordered" };
                Said {
                    handled_by: Some(skill.to_string()),
                    ..Said::dialog(self.responses.say(line, &[]), false)
                }
            }
            Err(e) => Said::dialog(
                self.responses
                    .say("proposal_gone", &[("reason", &e.to_string())]),
                false,
            ),
        }
    }

    /// Acts on a recognised intent; `confirmed` skips the confirmation question.
    fn act(&mut self, mut rec: Recognized, confirmed: bool) -> Said {
        let handler = self
            .routes
            .handlers
            .get(&rec.intent)
            .cloned()
            .unwrap_or(Handler::Unhandled("unknown".into()));
        // The dialog fills what the templates leave open.
        if handler == Handler::Builtin {
            let no_place = !rec.slots.contains_key("area") && !rec.slots.contains_key("floor");
            if rec.slots.get("place").is_some_and(|(v, _)| v == "ask") && no_place {
                match &self.area {
                    Some(area) => {
                        rec.slots
                            .insert("area".into(), (area.clone(), area.clone()));
                    }
                    None => {
                        let q = self.responses.say("which_room", &[]);
                        self.emit_intent(&rec, &handler);
                        self.session.pending = Some(Pending::Room {
                            intent: rec.intent,
                            slots: rec.slots,
                            confidence: rec.confidence,
                        });
                        return Said::dialog(q, true);
                    }
                }
            }
            if rec.slots.contains_key("reference") && !self.session.last_devices.is_empty() {
                let ids = self.session.last_devices.join(",");
                rec.slots.insert(DEVICES_SLOT.into(), (ids.clone(), ids));
            }
        }
        let info = self.emit_intent(&rec, &handler);
        let mut said = match &handler {
            Handler::Builtin => self.builtin(rec, confirmed),
            Handler::Skill(id) => {
                self.handoffs.talked_to(id);
                self.skill(id.clone(), &rec)
            }
            Handler::Dialog => Said::dialog(self.responses.say("nothing_to_cancel", &[]), false),
            Handler::Handoff => {
                self.handoffs.asked();
                Said::text(String::new())
            }
            Handler::Unhandled(_) => {
                Said::text(self.responses.say("cannot_do", &[("intent", &rec.intent)]))
            }
        };
        said.intent.get_or_insert(info);
        said.handled_by.get_or_insert(handler.name().to_string());
        said
    }

    fn emit_intent(&self, rec: &Recognized, handler: &Handler) -> IntentInfo {
        let info = IntentInfo {
            name: rec.intent.clone(),
            slots: rec
                .slots
                .iter()
                .map(|(k, (v, _))| (k.clone(), v.clone()))
                .collect(),
            confidence: rec.confidence,
            handler: handler.name().to_string(),
        };
        self.hub.emit(AssistantEvent::Intent {
            name: info.name.clone(),
            slots: info.slots.clone(),
            confidence: info.confidence,
            handler: info.handler.clone(),
        });
        info
    }

    /// Emma's own home control.
    fn builtin(&mut self, rec: Recognized, confirmed: bool) -> Said {
        let plan = {
            let reg = self.home.registry();
            self.control.plan_slots(&reg, &rec.intent, &rec.slots)
        };
        let plan: Plan = match plan {
            Ok(p) => p,
            Err(outcome) => {
                let asks = outcome.reply.ends_with('?');
                // A question completing the request ("which light?") is a dialog step.
                return Said {
                    expects_answer: asks,
                    handled: asks,
                    ..Said::text(outcome.reply)
                };
            }
        };
        if !confirmed && self.needs_confirmation(&plan) {
            let names = self.device_names(&plan);
            self.session.pending = Some(Pending::ConfirmCommand {
                intent: rec.intent,
                slots: rec.slots,
                confidence: rec.confidence,
                why: Confirming::Unlock,
            });
            return Said::dialog(
                self.responses.say("confirm_unlock", &[("names", &names)]),
                true,
            );
        }
        let mut commands = Vec::new();
        for (device, action) in &plan.actions {
            match self.rt.block_on(self.home.command(device, action)) {
                Ok(sent) => {
                    for c in &sent {
                        self.hub.emit(command_event(c, super::intents::BUILTIN));
                    }
                    commands.extend(sent);
                }
                Err(e) => {
                    self.hub.emit(AssistantEvent::Error {
                        stage: "device".into(),
                        message: format!("{device}: {e}"),
                    });
                }
            }
        }
        if !plan.actions.is_empty() {
            self.session.last_devices = plan.actions.iter().map(|(d, _)| d.clone()).collect();
        }
        let reason = emma_privacy::Reason::intent(&rec.intent);
        crate::consent::record_commands(
            &self.privacy,
            emma_privacy::EMMA,
            &commands,
            &reason,
            true,
        );
        Said {
            // Carried out unless every command it needed failed.
            handled: plan.actions.is_empty() || !commands.is_empty(),
            commands,
            ..Said::text(plan.reply)
        }
    }

    /// Unlocking can't be undone by voice from outside: ask first.
    fn needs_confirmation(&self, plan: &Plan) -> bool {
        let reg = self.home.registry();
        plan.actions.iter().any(|(id, action)| {
            *action == Action::TurnOff && reg.device(id).is_some_and(|d| d.domain == Domain::Lock)
        })
    }

    fn device_names(&self, plan: &Plan) -> String {
        let reg = self.home.registry();
        plan.actions
            .iter()
            .filter_map(|(id, _)| reg.device(id).map(|d| d.name.clone()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn skill_index(&self, id: &str) -> Option<usize> {
        self.router
            .skills()
            .iter()
            .position(|s| s.manifest().id == id)
    }

    /// A brand skill's intent.
    fn skill(&mut self, id: String, rec: &Recognized) -> Said {
        let Some(index) = self.skill_index(&id) else {
            return Said::text(self.responses.say("skill_failed", &[("skill", &id)]));
        };
        let mut request = SkillRequest::new(rec.intent.clone(), self.lang.clone());
        for (k, (v, _)) in &rec.slots {
            request = request.slot(k.clone(), v.clone());
        }
        if let Some(area) = &self.area {
            request.context.push(("area".into(), area.clone()));
        }
        // Only what the customer consented to share reaches the skill; each share is in the ledger.
        let reason = emma_privacy::Reason::intent(&rec.intent);
        self.skills[index].services.set_reason(reason.clone());
        let withheld = crate::consent::filter_context(
            &self.privacy,
            &id,
            &mut request.context,
            &reason,
            emma_privacy::now_ms(),
        );
        if !withheld.is_empty() {
            tracing::debug!(skill = %id, ?withheld, "context withheld without consent");
        }
        let sent_log = self.skills[index].sent.clone();
        sent_log.lock().unwrap_or_else(|e| e.into_inner()).clear();
        let result = self.router.skills_mut()[index].handle_intent(&request);
        // What the skill sent went out even if the call then failed (trapped,
        // or ran past its deadline): it is in the ledger either way.
        let mut commands: Vec<SentCommand> =
            std::mem::take(&mut *sent_log.lock().unwrap_or_else(|e| e.into_inner()));
        crate::consent::record_commands(&self.privacy, &id, &commands, &reason, false);
        let outcome = match result {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(skill = %id, error = %e, "skill call failed");
                self.hub.emit(AssistantEvent::Error {
                    stage: "skill".into(),
                    message: format!("{id}: {e}"),
                });
                return Said::text(self.responses.say("skill_failed", &[("skill", &id)]));
            }
        };
        self.effects(&id, &outcome.effects);
        for d in &outcome.denials {
            tracing::info!(skill = %id, permission = %d.permission, reason = %d.reason, "capability denied");
        }
        let reply = match outcome.result {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(skill = %id, error = %e, "skill returned an error");
                self.hub.emit(AssistantEvent::Error {
                    stage: "skill".into(),
                    message: format!("{id}: {e}"),
                });
                return Said::text(self.responses.say("skill_failed", &[("skill", &id)]));
            }
        };
        let done: Vec<(String, String, Option<String>)> = outcome
            .effects
            .iter()
            .filter_map(|e| match e {
                Effect::DeviceControl {
                    device,
                    command,
                    value,
                } => Some((device.clone(), command.clone(), value.clone())),
                _ => None,
            })
            .collect();
        let mut notes = Vec::new();
        // The host already took out actions the skill may not carry out.
        for r in &outcome.refused_actions {
            refused(&self.hub, &r.action.device, &id, &r.reason);
            notes.push(self.responses.say(
                "refused_action",
                &[("skill", &id), ("device", &clean(&r.action.device))],
            ));
        }
        for action in &reply.actions {
            let key = (
                action.device.clone(),
                action.command.clone(),
                action.value.clone(),
            );
            if done.contains(&key) {
                continue; // already carried out through devices.control
            }
            match self.skill_action(index, &id, action) {
                Ok(sent) => {
                    crate::consent::record_commands(&self.privacy, &id, &sent, &reason, true);
                    commands.extend(sent)
                }
                Err(reason) => {
                    refused(&self.hub, &action.device, &id, &reason);
                    notes.push(self.responses.say(
                        "refused_action",
                        &[("skill", &id), ("device", &action.device)],
                    ));
                }
            }
        }
        if !commands.is_empty() {
            self.session.last_devices = commands.iter().map(|c| c.device.clone()).collect();
            self.session.last_devices.dedup();
        }
        let speech = spoken(&reply.speech);
        self.hub.emit(AssistantEvent::SkillReply {
            skill: id.clone(),
            speech: speech.clone(),
        });
        if let Some(h) = &reply.handoff {
            // A handoff shares the conversation with the brand: only with the skill's grant.
            if self.router.skills()[index]
                .grants()
                .allows(&Permission::Handoff)
            {
                self.handoffs.skill_asked(
                    &id,
                    &clean(&h.reason),
                    &clean(&h.summary),
                    Some(&speech),
                );
            } else {
                tracing::info!(skill = %id, "reply asks for a person without the handoff grant; ignored");
            }
        }
        let expects_answer = reply.follow_up.is_some();
        if let Some(topic) = &reply.follow_up {
            self.session.pending = Some(Pending::FollowUp {
                skill: id.clone(),
                topic: topic.clone(),
            });
        }
        let mut text = speech;
        for n in notes {
            text = format!("{text}. {n}");
        }
        Said {
            reply: text,
            intent: None,
            commands,
            expects_answer,
            handled_by: Some(id),
            handled: true,
        }
    }

    /// Carries out one reply action after the same grant check as `devices.control`.
    fn skill_action(
        &mut self,
        index: usize,
        id: &str,
        action: &emma_skill_host::types::Action,
    ) -> Result<Vec<SentCommand>, String> {
        let device = self
            .home
            .registry()
            .device(&action.device)
            .cloned()
            .ok_or_else(|| format!("there is no device {} in this home", action.device))?;
        if !may_control(&self.router.skills()[index], &device) {
            return Err(format!("{id} holds no grant to control {}", action.device));
        }
        let act = super::services::skill_action(&action.command, action.value.as_deref())?;
        let sent = self
            .rt
            .block_on(self.home.command(&device.id, &act))
            .map_err(|e| e.to_string())?;
        for c in &sent {
            self.hub.emit(command_event(c, id));
        }
        Ok(sent)
    }

    /// Reports what a skill did through its capabilities.
    fn effects(&mut self, skill: &str, effects: &[Effect]) {
        for e in effects {
            match e {
                Effect::OrderProposal {
                    id, lines, note, ..
                } => {
                    self.record_order(skill, id, None);
                    self.hub.emit(AssistantEvent::Proposal {
                        skill: skill.to_string(),
                        id: id.clone(),
                        lines: lines.clone(),
                        note: clean(note),
                    });
                }
                Effect::Handoff { reason, summary } => {
                    self.handoffs
                        .skill_asked(skill, &clean(reason), &clean(summary), None);
                }
                Effect::Notification { title, body } => {
                    tracing::info!(%skill, title = %clean(title), body = %clean(body), "skill notification");
                }
                Effect::DeviceControl { .. } | Effect::Log { .. } => {}
            }
        }
    }

    /// A device event: to subscribed, granted skills; what they say reaches the customer.
    fn device_event(&mut self, event: &emma_devices::DeviceEvent) {
        self.refresh_lists();
        let deliveries = self.router.deliver(event);
        for d in deliveries {
            self.hub.emit(AssistantEvent::DeviceEvent {
                device: d.event.device.clone(),
                kind: d.event.kind.clone(),
                value: d.event.value.clone(),
            });
            // Commands the skill sent are in the ledger even if its call then failed.
            let sent = std::mem::take(
                &mut *self.skills[d.skill]
                    .sent
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()),
            );
            let reason = emma_privacy::Reason::event(&d.event.kind);
            crate::consent::record_commands(&self.privacy, &d.skill_id, &sent, &reason, false);
            let outcome = match d.result {
                Ok(o) => o,
                Err(e) => {
                    self.hub.emit(AssistantEvent::Error {
                        stage: "event".into(),
                        message: format!("{}: {e}", d.skill_id),
                    });
                    continue;
                }
            };
            self.effects(&d.skill_id, &outcome.effects);
            let proposal = outcome.effects.iter().find_map(|e| match e {
                Effect::OrderProposal { id, .. } => Some(id.clone()),
                _ => None,
            });
            if let Ok(Some(reply)) = outcome.result {
                let text = spoken(&reply.speech);
                if text.is_empty() {
                    continue;
                }
                self.hub.emit(AssistantEvent::SkillReply {
                    skill: d.skill_id.clone(),
                    speech: text.clone(),
                });
                let asks = match (proposal, &reply.follow_up) {
                    (Some(id), _) => Some(Pending::ConfirmProposal {
                        skill: d.skill_id.clone(),
                        id,
                    }),
                    (None, Some(topic)) => Some(Pending::FollowUp {
                        skill: d.skill_id.clone(),
                        topic: topic.clone(),
                    }),
                    (None, None) => None,
                };
                self.held.push_back(Announcement { text, asks });
            }
        }
        // A skill that asked for a person while handling the event.
        if let Some(line) = self.handoff_after("") {
            self.held.push_back(Announcement {
                text: line,
                asks: None,
            });
        }
        if !self.held.is_empty() && self.busy(Instant::now()) {
            tracing::debug!(
                held = self.held.len(),
                "announcement held: the customer is speaking or answering a question"
            );
        }
    }

    /// Whether now is a bad moment to speak unasked: the customer is inside
    /// an utterance, or a question Emma asked is still open.
    fn busy(&mut self, now: Instant) -> bool {
        self.session.expire(now);
        self.speaking.load(Ordering::Acquire) || self.session.pending.is_some()
    }

    /// Speaks held announcements, oldest first, while the moment is good; an
    /// announcement that asks something stops the rest until it is answered.
    fn deliver_held(&mut self) {
        while !self.held.is_empty() && !self.busy(Instant::now()) {
            let Some(a) = self.held.pop_front() else {
                break;
            };
            let expects_answer = a.asks.is_some();
            self.session.pending = a.asks;
            self.session.touch(Instant::now());
            self.announce(a.text, expects_answer);
        }
    }

    /// Records in the ledger that an order proposal of `skill` was stored
    /// (`reason`: why; by default what the skill is handling).
    fn record_order(&self, skill: &str, id: &str, reason: Option<emma_privacy::Reason>) {
        let reason = reason.unwrap_or_else(|| {
            self.skills
                .iter()
                .find(|s| s.services.skill() == skill)
                .map_or_else(
                    || emma_privacy::Reason::other("skill"),
                    |s| s.services.reason(),
                )
        });
        let category = emma_privacy::Category::Orders;
        let now = emma_privacy::now_ms();
        if let Err(e) = self
            .privacy
            .record_store(skill, &category, Some(id), reason, now)
        {
            tracing::warn!(%skill, proposal = %id, error = %e, "order not recorded in the ledger");
        }
    }

    /// Speaks a reply that no utterance asked for (a skill's event reply).
    pub(crate) fn announce(&self, text: String, expects_answer: bool) {
        let audio = self.synthesize(&text);
        self.hub.emit(AssistantEvent::Reply {
            text,
            audio,
            expects_answer,
        });
    }

    fn synthesize(&self, text: &str) -> Option<super::event::ReplyAudio> {
        let tts = self.tts.as_ref()?;
        match tts.synthesize(text, &self.lang) {
            Ok(a) => Some(a),
            Err(e) => {
                self.hub.emit(AssistantEvent::Error {
                    stage: "tts".into(),
                    message: e,
                });
                None
            }
        }
    }

    /// Emits the reply (with audio) and builds the turn.
    fn speak(&self, heard: &str, said: Said) -> Turn {
        let audio = self.synthesize(&said.reply);
        self.hub.emit(AssistantEvent::Reply {
            text: said.reply.clone(),
            audio,
            expects_answer: said.expects_answer,
        });
        Turn {
            heard: heard.to_string(),
            intent: said.intent,
            reply: said.reply,
            commands: said.commands,
            expects_answer: said.expects_answer,
            handled_by: said.handled_by,
            handled: said.handled,
        }
    }
}

/// Whether the skill's grants cover controlling `device`.
fn may_control(skill: &SkillInstance, device: &emma_devices::Device) -> bool {
    skill.grants().iter().any(|p| {
        matches!(p, Permission::Device { .. })
            && emma_devices::allowed(&p.to_string(), device, Access::Control)
    })
}

/// Text from a skill, safe to show and speak (escape sequences, control and
/// bidi characters removed, length capped: see `emma-untrusted`).
pub(crate) fn clean(text: &str) -> String {
    emma_untrusted::text(text, emma_untrusted::TEXT_CHARS)
}

/// A skill's words as one spoken line: what a skill says is heard, so line
/// breaks become spaces and no second line can pass for Emma's own output.
pub(crate) fn spoken(text: &str) -> String {
    emma_untrusted::line(text, emma_untrusted::TEXT_CHARS)
}

/// The merged engine's intent names by handler, for status output.
pub(crate) fn handled_intents(routes: &Routes) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (intent, h) in &routes.handlers {
        out.entry(h.name().to_string())
            .or_default()
            .push(intent.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skill_text_is_cleaned_of_escapes_and_bidi_overrides() {
        assert_eq!(
            clean("\u{1b}[2JTurned \u{202E}off the alarm\u{7}"),
            "Turned off the alarm"
        );
        assert!(clean(&"x".repeat(5000)).chars().count() <= 2000);
    }
}
