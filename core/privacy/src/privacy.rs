//! [`Privacy`]: consent, ledger and customer data of one home behind one handle.

use crate::category::{Category, valid_name};
use crate::consent::Consent;
use crate::customer::CustomerDb;
use crate::data::{Expired, Usage};
use crate::error::{PrivacyError, Result};
use crate::layout::{Layout, now_ms};
use crate::ledger::{Action, Ledger, NewEntry, Reason};

/// The party name of Emma itself (the assistant storing transcripts, audio, usage).
pub const EMMA: &str = "emma";

/// The party name of the customer (export, erase, consent changes).
pub const CUSTOMER: &str = "customer";

/// Consent, ledger and the customer data Emma keeps, for one home.
///
/// `Send + Sync`; share it in an `Arc`. Every check reads the database, so a
/// consent revoked here or by another process is in effect on the next call.
#[derive(Debug)]
pub struct Privacy {
    layout: Layout,
    customer: CustomerDb,
    ledger: Ledger,
}

impl Privacy {
    /// Opens (creating) the privacy stores of `layout` and runs expiry once
    /// ("on start"), so data past its retention does not survive a restart.
    pub fn open(layout: Layout) -> Result<Privacy> {
        let customer = CustomerDb::open(&layout.customer)?;
        let ledger = Ledger::open(&layout.ledger)?;
        let p = Privacy {
            layout,
            customer,
            ledger,
        };
        p.expire(now_ms())?;
        Ok(p)
    }

    /// Opens the standard layout under `data_dir` (see [`Layout::in_dir`]).
    pub fn open_dir(data_dir: impl Into<std::path::PathBuf>) -> Result<Privacy> {
        Privacy::open(Layout::in_dir(data_dir))
    }

    /// Where the stores are.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The customer database (consents and Emma's own customer data), without ledger entries.
    pub fn customer(&self) -> &CustomerDb {
        &self.customer
    }

    /// The ledger.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Skills a consent may name: installed skills plus [`EMMA`].
    pub fn known_skills(&self) -> Vec<String> {
        let mut v = self.layout.installed_skills();
        v.push(EMMA.into());
        v.sort();
        v
    }

    fn check_known(&self, skill: &str) -> Result<()> {
        if !valid_name(skill) {
            return Err(PrivacyError::InvalidSkill(skill.into()));
        }
        let known = self.known_skills();
        if known.iter().any(|k| k == skill) {
            Ok(())
        } else {
            Err(PrivacyError::UnknownSkill {
                skill: skill.into(),
                known: known.join(", "),
            })
        }
    }

    /// The customer consents to `skill` using `category` for `purpose`, until
    /// `expires_ms` if given. The skill must be installed (or be [`EMMA`]).
    pub fn grant(
        &self,
        skill: &str,
        category: &Category,
        purpose: &str,
        expires_ms: Option<u64>,
        now_ms: u64,
    ) -> Result<Consent> {
        self.check_known(skill)?;
        if !category.consentable() {
            return Err(PrivacyError::Invalid {
                what: format!("consent for {category}"),
                reason: format!(
                    "a skill's own store is covered by its `store` grant; use `emma skill revoke {skill} store` to take it away"
                ),
            });
        }
        let purpose = purpose.trim();
        if purpose.is_empty() || purpose.len() > 500 {
            return Err(PrivacyError::Invalid {
                what: "consent purpose".into(),
                reason: "say in 1-500 characters what the data is used for (--purpose)".into(),
            });
        }
        if let Some(e) = expires_ms.filter(|e| *e <= now_ms) {
            return Err(PrivacyError::Invalid {
                what: format!("consent expiry {e}"),
                reason: "it is not in the future".into(),
            });
        }
        let c = self
            .customer
            .grant_consent(skill, category, purpose, expires_ms, now_ms)?;
        self.ledger.append(
            NewEntry::new(
                Action::Consent,
                Some(category.clone()),
                skill,
                Reason::customer(),
            )
            .consent(Some(c.id)),
            now_ms,
        )?;
        Ok(c)
    }

    /// Revokes `skill`'s consent for `category` (every category with `None`),
    /// effective on the next call; errors when there was nothing to revoke.
    pub fn revoke(
        &self,
        skill: &str,
        category: Option<&Category>,
        now_ms: u64,
    ) -> Result<Vec<Consent>> {
        if !valid_name(skill) {
            return Err(PrivacyError::InvalidSkill(skill.into()));
        }
        // A removed skill may still hold consents; only a never-seen one is unknown.
        if !self.customer.knows_skill(skill)? {
            self.check_known(skill)?;
        }
        let revoked = self.customer.revoke_consent(skill, category, now_ms)?;
        if revoked.is_empty() {
            return Err(PrivacyError::NotGranted {
                skill: skill.into(),
                category: category.map_or("any category".into(), |c| c.to_string()),
            });
        }
        let entries: Vec<NewEntry> = revoked
            .iter()
            .map(|c| {
                NewEntry::new(
                    Action::Revoke,
                    c.category.parse().ok(),
                    skill,
                    Reason::customer(),
                )
                .consent(Some(c.id))
            })
            .collect();
        self.ledger.append_all(&entries, now_ms)?;
        Ok(revoked)
    }

    /// The consent in force for `skill` and `category` at `now_ms`.
    pub fn consent(
        &self,
        skill: &str,
        category: &Category,
        now_ms: u64,
    ) -> Result<Option<Consent>> {
        self.customer.active_consent(skill, category, now_ms)
    }

    /// Whether `skill` may use `category` at `now_ms`. Fails closed: a database
    /// error denies (and is logged).
    pub fn allows(&self, skill: &str, category: &Category, now_ms: u64) -> bool {
        match self.consent(skill, category, now_ms) {
            Ok(c) => c.is_some(),
            Err(e) => {
                tracing::error!(skill, %category, error = %e, "consent check failed; denying");
                false
            }
        }
    }

    /// Whether `skill` opted in to proactive features (acting on device events).
    pub fn allows_proactive(&self, skill: &str, now_ms: u64) -> bool {
        self.allows(skill, &Category::Proactive, now_ms)
    }

    /// Whether a device event may be delivered to `skill`: it opted in to
    /// proactive features *and* consented to device usage. Record the delivery
    /// with [`Privacy::record_share`].
    pub fn allows_event(&self, skill: &str, now_ms: u64) -> bool {
        self.allows_proactive(skill, now_ms) && self.allows(skill, &Category::DeviceUsage, now_ms)
    }

    /// Checks `skill`'s consent for `category` and, if given, records the
    /// share in the ledger; returns the consent id (`None`: denied, nothing recorded).
    pub fn record_share(
        &self,
        skill: &str,
        category: &Category,
        field: Option<&str>,
        reason: Reason,
        now_ms: u64,
    ) -> Result<Option<i64>> {
        let Some(c) = self.consent(skill, category, now_ms)? else {
            return Ok(None);
        };
        let mut e =
            NewEntry::new(Action::Share, Some(category.clone()), skill, reason).consent(Some(c.id));
        e.field = field.map(String::from).or(e.field);
        self.ledger.append(e, now_ms)?;
        Ok(Some(c.id))
    }

    /// Records that `party` (a skill or [`EMMA`]) stored customer data of
    /// `category` (`field`: the item, e.g. a store key or an order id — never
    /// the value), with the consent in force for it if there is one.
    pub fn record_store(
        &self,
        party: &str,
        category: &Category,
        field: Option<&str>,
        reason: Reason,
        now_ms: u64,
    ) -> Result<u64> {
        let consent = if category.consentable() {
            self.consent(party, category, now_ms)?.map(|c| c.id)
        } else {
            None
        };
        let mut e =
            NewEntry::new(Action::Store, Some(category.clone()), party, reason).consent(consent);
        e.field = field.map(String::from).or(e.field);
        self.ledger.append(e, now_ms)
    }

    /// Records a share with an outside party the customer asked for (an MQTT
    /// topic `mqtt:<topic>`, a brand's desk `handoff:<brand>`), which needs no skill consent.
    pub fn record_outside_share(
        &self,
        party: &str,
        category: &Category,
        field: Option<&str>,
        reason: Reason,
        now_ms: u64,
    ) -> Result<u64> {
        let mut e = NewEntry::new(Action::Share, Some(category.clone()), party, reason);
        e.field = field.map(String::from).or(e.field);
        self.ledger.append(e, now_ms)
    }

    /// A profile field for `skill`, only with its consent for that field; the
    /// share is recorded. `None` when not consented or not set.
    pub fn profile_for(
        &self,
        skill: &str,
        field: &str,
        reason: Reason,
        now_ms: u64,
    ) -> Result<Option<String>> {
        let category = Category::Profile(field.into());
        if !valid_name(field) || !self.allows(skill, &category, now_ms) {
            return Ok(None);
        }
        let Some(value) = self.customer.profile(field)? else {
            return Ok(None);
        };
        Ok(self
            .record_share(skill, &category, None, reason, now_ms)?
            .map(|_| value))
    }

    /// Sets a profile field (recorded as a store by [`EMMA`]).
    pub fn set_profile(&self, field: &str, value: &str, reason: Reason, now_ms: u64) -> Result<()> {
        let category: Category = format!("profile:{field}").parse()?;
        self.customer.set_profile(field, value, now_ms)?;
        self.ledger.append(
            NewEntry::new(Action::Store, Some(category), EMMA, reason),
            now_ms,
        )?;
        Ok(())
    }

    /// Stores a transcript (kept for the transcripts retention period).
    pub fn record_transcript(&self, text: &str, intent: Option<&str>, now_ms: u64) -> Result<()> {
        self.customer.add_transcript(text, intent, now_ms)?;
        let reason = intent.map_or_else(|| Reason::other("utterance"), Reason::intent);
        self.ledger.append(
            NewEntry::new(Action::Store, Some(Category::Transcripts), EMMA, reason),
            now_ms,
        )?;
        Ok(())
    }

    /// Stores a recording only if the customer opted in (a consent of [`EMMA`]
    /// for `audio`); returns whether it was stored. Without the opt-in nothing
    /// touches the disk.
    pub fn record_audio(&self, samples: &[i16], sample_rate: u32, now_ms: u64) -> Result<bool> {
        let Some(c) = self.consent(EMMA, &Category::Audio, now_ms)? else {
            return Ok(false);
        };
        self.customer.add_audio(samples, sample_rate, now_ms)?;
        self.ledger.append(
            NewEntry::new(
                Action::Store,
                Some(Category::Audio),
                EMMA,
                Reason::other("utterance"),
            )
            .consent(Some(c.id)),
            now_ms,
        )?;
        Ok(true)
    }

    /// Records a device action (kept for the device-usage retention period).
    pub fn record_usage(&self, usage: &Usage, reason: Reason) -> Result<()> {
        self.customer.add_usage(usage)?;
        self.ledger.append(
            NewEntry::new(Action::Store, Some(Category::DeviceUsage), EMMA, reason)
                .field(usage.device.clone()),
            usage.at_ms,
        )?;
        Ok(())
    }

    /// Counts a touchpoint of `skill` (`reply`, `notification`, `proposal`…).
    pub fn record_touchpoint(&self, skill: &str, kind: &str, now_ms: u64) -> Result<()> {
        self.customer.count_touchpoint(skill, kind, now_ms)?;
        self.ledger.append(
            NewEntry::new(
                Action::Store,
                Some(Category::Touchpoints),
                EMMA,
                Reason::other("touchpoint"),
            )
            .field(skill),
            now_ms,
        )?;
        Ok(())
    }

    /// Deletes data past its retention period at `now_ms` and records what was
    /// removed. Call on start (done by [`Privacy::open`]) and periodically.
    pub fn expire(&self, now_ms: u64) -> Result<Expired> {
        let expired = self.customer.expire(now_ms)?;
        let entries: Vec<NewEntry> = expired
            .removed
            .keys()
            .filter_map(|k| k.parse::<Category>().ok())
            .map(|c| NewEntry::new(Action::Expire, Some(c), EMMA, Reason::retention()))
            .collect();
        self.ledger.append_all(&entries, now_ms)?;
        Ok(expired)
    }
}
