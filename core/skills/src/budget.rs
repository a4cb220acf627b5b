//! Budgets of the side-effecting capabilities: how often one call, and all
//! calls of a skill within one period, may notify, propose orders, hand off,
//! log, write to the store and control devices; and how many bytes of text a
//! call may produce through them.
//!
//! Without these a single call could send 100,000 notifications: the reply
//! limit caps what a skill *returns*, not what it *does*. Each use is counted
//! when it happens; a use over budget is refused with `quota-exceeded`, so the
//! effect never happens. The first refusal of each kind in a call is logged
//! and recorded as a denial; the rest are only counted, so a refused flood
//! cannot become a log flood either.

use crate::manifest::{Budgeted, Limits};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Uses of each capability in the current period, shared by every instance of
/// one skill in a runtime (so a recreated instance does not start afresh).
#[derive(Debug)]
pub(crate) struct PeriodLedger {
    start: Instant,
    used: [u32; Budgeted::ALL.len()],
}

impl PeriodLedger {
    pub(crate) fn shared() -> Arc<Mutex<PeriodLedger>> {
        Arc::new(Mutex::new(PeriodLedger {
            start: Instant::now(),
            used: [0; Budgeted::ALL.len()],
        }))
    }
}

/// Why a use was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OverBudget {
    /// Which capability.
    pub what: Budgeted,
    /// `notify: over this skill's budget of 3 per call (limits.notify_per_call)`.
    pub reason: String,
}

/// The budget of one call.
pub(crate) struct CallBudget {
    limits: Limits,
    period: Duration,
    ledger: Arc<Mutex<PeriodLedger>>,
    used: [u32; Budgeted::ALL.len()],
    refused: [u32; Budgeted::ALL.len()],
    bytes: usize,
}

impl CallBudget {
    pub(crate) fn new(limits: Limits, period: Duration, ledger: Arc<Mutex<PeriodLedger>>) -> Self {
        CallBudget {
            limits,
            period,
            ledger,
            used: [0; Budgeted::ALL.len()],
            refused: [0; Budgeted::ALL.len()],
            bytes: 0,
        }
    }

    /// Starts a new call.
    pub(crate) fn reset(&mut self) {
        self.used = [0; Budgeted::ALL.len()];
        self.refused = [0; Budgeted::ALL.len()];
        self.bytes = 0;
    }

    /// Bytes of text this call produced through capabilities so far.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// How many uses of each capability were refused in this call.
    pub(crate) fn refusals(&self) -> impl Iterator<Item = (Budgeted, u32)> + '_ {
        Budgeted::ALL
            .into_iter()
            .map(|b| (b, self.refused[b.index()]))
            .filter(|(_, n)| *n > 0)
    }

    /// Counts one use of `what` producing `bytes` of text, or refuses it.
    /// Returns whether this is the first refusal of `what` in the call.
    pub(crate) fn spend(&mut self, what: Budgeted, bytes: usize) -> Result<(), (OverBudget, bool)> {
        let i = what.index();
        let budget = self.limits.budget(what);
        let key = what.key();
        let over = if self.used[i] >= budget.per_call {
            Some(format!(
                "{key}: over this skill's budget of {} per call (limits.{key}_per_call)",
                budget.per_call
            ))
        } else if self.bytes.saturating_add(bytes) > self.limits.reply_kib as usize * 1024 {
            Some(format!(
                "{key}: this call already produced {} bytes; {bytes} more would pass its {} KiB limit (limits.reply_kib)",
                self.bytes, self.limits.reply_kib
            ))
        } else {
            let mut ledger = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
            if ledger.start.elapsed() >= self.period {
                ledger.start = Instant::now();
                ledger.used = [0; Budgeted::ALL.len()];
            }
            if ledger.used[i] >= budget.per_hour {
                Some(format!(
                    "{key}: over this skill's budget of {} per {} (limits.{key}_per_hour)",
                    budget.per_hour,
                    period_text(self.period)
                ))
            } else {
                ledger.used[i] += 1;
                None
            }
        };
        match over {
            None => {
                self.used[i] += 1;
                self.bytes += bytes;
                Ok(())
            }
            Some(reason) => {
                self.refused[i] = self.refused[i].saturating_add(1);
                Err((OverBudget { what, reason }, self.refused[i] == 1))
            }
        }
    }
}

fn period_text(period: Duration) -> String {
    if period == Duration::from_secs(3600) {
        "hour".into()
    } else {
        format!("{} ms period", period.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Budget;

    fn limits(per_call: u32, per_hour: u32) -> Limits {
        let mut l = Limits::default();
        l.budgets[Budgeted::Notify.index()] = Budget { per_call, per_hour };
        l.reply_kib = 1;
        l
    }

    #[test]
    fn per_call_per_period_and_bytes() {
        let ledger = PeriodLedger::shared();
        let mut b = CallBudget::new(limits(2, 3), Duration::from_secs(3600), ledger.clone());
        assert!(b.spend(Budgeted::Notify, 10).is_ok());
        assert!(b.spend(Budgeted::Notify, 10).is_ok());
        let (over, first) = b.spend(Budgeted::Notify, 10).unwrap_err();
        assert!(first);
        assert!(over.reason.contains("2 per call"), "{}", over.reason);
        assert!(
            !b.spend(Budgeted::Notify, 10).unwrap_err().1,
            "only the first is first"
        );
        assert_eq!(b.refusals().collect::<Vec<_>>(), [(Budgeted::Notify, 2)]);
        // Another capability has its own budget.
        assert!(b.spend(Budgeted::Log, 10).is_ok());

        // The next call shares the period ledger: one more, then the hour is used up.
        b.reset();
        assert!(b.spend(Budgeted::Notify, 10).is_ok());
        let (over, _) = b.spend(Budgeted::Notify, 10).unwrap_err();
        assert!(over.reason.contains("3 per hour"), "{}", over.reason);

        // Bytes produced count toward the reply limit.
        let mut b = CallBudget::new(
            limits(10, 100),
            Duration::from_secs(3600),
            PeriodLedger::shared(),
        );
        assert!(b.spend(Budgeted::Notify, 1000).is_ok());
        let (over, _) = b.spend(Budgeted::Notify, 100).unwrap_err();
        assert!(over.reason.contains("limits.reply_kib"), "{}", over.reason);
        assert_eq!(b.bytes(), 1000);
    }

    #[test]
    fn a_new_period_starts_afresh() {
        let mut b = CallBudget::new(
            limits(5, 1),
            Duration::from_millis(30),
            PeriodLedger::shared(),
        );
        assert!(b.spend(Budgeted::Notify, 1).is_ok());
        assert!(b.spend(Budgeted::Notify, 1).is_err());
        std::thread::sleep(Duration::from_millis(40));
        b.reset();
        assert!(b.spend(Budgeted::Notify, 1).is_ok());
    }
}
