//! Touchpoint aggregates from many homes, combined per brand: top intents, failure and handoff rates,
//! latency percentiles and a daily trend.
//!
//! Homes send only aggregates (counts, rates and latency percentiles per skill and intent, per period), so
//! the desk cannot recompute exact percentiles over all interactions. It combines them as the
//! count-weighted percentile of the homes' percentiles: the p95 shown is the value at or below which 95 % of
//! the interactions' home-level p95 lie. Counts, failures, handoffs and satisfaction add up exactly.

use std::collections::BTreeMap;

use maud::{Markup, html};

use crate::store::TouchRow;

const DAY_MS: u64 = 86_400_000;

/// Latency percentiles, milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Latency {
    /// Median.
    pub p50: u32,
    /// 95th percentile.
    pub p95: u32,
    /// 99th percentile.
    pub p99: u32,
}

/// Totals for one (skill, intent) or for everything.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Totals {
    /// Interactions.
    pub count: u64,
    /// Failed interactions.
    pub failures: u64,
    /// Interactions that ended in a handoff.
    pub handoffs: u64,
    /// Satisfaction questions answered.
    pub satisfaction_asked: u64,
    /// Positive answers.
    pub satisfaction_positive: u64,
    /// Combined latency percentiles.
    pub latency: Latency,
}

impl Totals {
    /// Failures per interaction (0 when there were none).
    pub fn failure_rate(&self) -> f64 {
        ratio(self.failures, self.count)
    }
    /// Handoffs per interaction.
    pub fn handoff_rate(&self) -> f64 {
        ratio(self.handoffs, self.count)
    }
    /// Positive share of satisfaction answers, if any were given.
    pub fn satisfaction(&self) -> Option<f64> {
        (self.satisfaction_asked > 0)
            .then(|| ratio(self.satisfaction_positive, self.satisfaction_asked))
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// One intent's line.
#[derive(Debug, Clone, PartialEq)]
pub struct IntentLine {
    /// The skill, or `None` for built-in intents.
    pub skill: Option<String>,
    /// The intent.
    pub intent: String,
    /// Its totals.
    pub totals: Totals,
}

/// One day of the trend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Day {
    /// Start of the day (UTC), ms since the epoch.
    pub start_ms: u64,
    /// Interactions.
    pub count: u64,
    /// Failures.
    pub failures: u64,
    /// Handoffs.
    pub handoffs: u64,
}

/// A brand's insights.
#[derive(Debug, Clone, PartialEq)]
pub struct Insights {
    /// Reports received.
    pub reports: u64,
    /// Everything together.
    pub overall: Totals,
    /// Per (skill, intent), most interactions first.
    pub intents: Vec<IntentLine>,
    /// Per day (by each report's period start), oldest first.
    pub trend: Vec<Day>,
}

#[derive(Default)]
struct Acc {
    totals: Totals,
    p50: Vec<(u32, u64)>,
    p95: Vec<(u32, u64)>,
    p99: Vec<(u32, u64)>,
}

impl Acc {
    fn add(&mut self, s: &emma_handoff::IntentStats) {
        let t = &mut self.totals;
        t.count += s.count;
        t.failures += s.failures;
        t.handoffs += s.handoffs;
        t.satisfaction_asked += s.satisfaction_asked;
        t.satisfaction_positive += s.satisfaction_positive;
        if s.count > 0 {
            self.p50.push((s.latency_p50_ms, s.count));
            self.p95.push((s.latency_p95_ms, s.count));
            self.p99.push((s.latency_p99_ms, s.count));
        }
    }
    fn finish(mut self) -> Totals {
        self.totals.latency = Latency {
            p50: weighted_percentile(&mut self.p50, 0.50),
            p95: weighted_percentile(&mut self.p95, 0.95),
            p99: weighted_percentile(&mut self.p99, 0.99),
        };
        self.totals
    }
}

/// The smallest value whose cumulative weight reaches `q` of the total (0 when empty).
pub fn weighted_percentile(values: &mut [(u32, u64)], q: f64) -> u32 {
    let total: u64 = values.iter().map(|(_, w)| w).sum();
    if total == 0 {
        return 0;
    }
    values.sort_unstable();
    let target = (q * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (v, w) in values.iter() {
        seen += w;
        if seen >= target {
            return *v;
        }
    }
    values.last().map_or(0, |(v, _)| *v)
}

/// Aggregates a brand's touchpoint rows.
pub fn aggregate(rows: &[TouchRow], reports: u64) -> Insights {
    let mut overall = Acc::default();
    let mut per: BTreeMap<(Option<String>, String), Acc> = BTreeMap::new();
    let mut days: BTreeMap<u64, Day> = BTreeMap::new();
    for r in rows {
        overall.add(&r.stats);
        per.entry((r.stats.skill.clone(), r.stats.intent.clone()))
            .or_default()
            .add(&r.stats);
        let start = r.period_start_ms / DAY_MS * DAY_MS;
        let d = days.entry(start).or_insert(Day {
            start_ms: start,
            count: 0,
            failures: 0,
            handoffs: 0,
        });
        d.count += r.stats.count;
        d.failures += r.stats.failures;
        d.handoffs += r.stats.handoffs;
    }
    let mut intents: Vec<IntentLine> = per
        .into_iter()
        .map(|((skill, intent), acc)| IntentLine {
            skill,
            intent,
            totals: acc.finish(),
        })
        .collect();
    intents.sort_by_key(|l| std::cmp::Reverse(l.totals.count));
    Insights {
        reports,
        overall: overall.finish(),
        intents,
        trend: days.into_values().collect(),
    }
}

/// The daily trend as an SVG bar chart (interactions; failures and handoffs as darker bars inside),
/// rendered on the server.
pub fn trend_chart(trend: &[Day]) -> Markup {
    const W: u64 = 600;
    const H: u64 = 160;
    let max = trend.iter().map(|d| d.count).max().unwrap_or(0).max(1);
    let n = trend.len().max(1) as u64;
    let slot = W / n;
    let bar = (slot * 7 / 10).max(1);
    let height = |v: u64| v * (H - 20) / max;
    html! {
        svg xmlns="http://www.w3.org/2000/svg" width=(W) height=(H) viewBox={"0 0 " (W) " " (H)}
            role="img" aria-label="Interactions per day" class="chart" {
            @for (i, d) in trend.iter().enumerate() {
                @let x = i as u64 * slot + (slot - bar) / 2;
                rect x=(x) y=(H - 14 - height(d.count)) width=(bar) height=(height(d.count)) fill="#8ab4f8" {
                    title { (day_label(d.start_ms)) ": " (d.count) " interactions, " (d.failures) " failed, " (d.handoffs) " handoffs" }
                }
                rect x=(x) y=(H - 14 - height(d.failures)) width=(bar / 2) height=(height(d.failures)) fill="#d93025" {}
                rect x=(x + bar / 2) y=(H - 14 - height(d.handoffs)) width=(bar - bar / 2) height=(height(d.handoffs)) fill="#f9ab00" {}
                text x=(x) y=(H - 2) font-size="10" { (day_label(d.start_ms)) }
            }
        }
    }
}

/// `YYYY-MM-DD` of a UTC day start.
pub fn day_label(ms: u64) -> String {
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = (ms / DAY_MS) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use emma_handoff::IntentStats;

    fn row(
        day: u64,
        intent: &str,
        count: u64,
        failures: u64,
        handoffs: u64,
        p: (u32, u32, u32),
    ) -> TouchRow {
        TouchRow {
            period_start_ms: day * DAY_MS + 1_000,
            stats: IntentStats {
                skill: None,
                intent: intent.into(),
                count,
                failures,
                handoffs,
                latency_p50_ms: p.0,
                latency_p95_ms: p.1,
                latency_p99_ms: p.2,
                satisfaction_asked: 1,
                satisfaction_positive: 1,
            },
        }
    }

    #[test]
    fn sums_rates_percentiles_and_days() {
        let rows = [
            row(0, "HassTurnOn", 10, 1, 0, (100, 200, 300)),
            row(0, "HassTurnOn", 30, 0, 3, (200, 400, 900)),
            row(1, "not-understood", 5, 5, 2, (50, 60, 70)),
        ];
        let i = aggregate(&rows, 2);
        assert_eq!(i.overall.count, 45);
        assert_eq!(i.overall.failures, 6);
        assert_eq!(i.intents[0].intent, "HassTurnOn");
        assert_eq!(i.intents[0].totals.count, 40);
        assert!((i.intents[0].totals.handoff_rate() - 0.075).abs() < 1e-9);
        // 30 of 40 interactions have p50 200: the weighted median is 200; p99 from the heavier row: 900.
        assert_eq!(
            i.intents[0].totals.latency,
            Latency {
                p50: 200,
                p95: 400,
                p99: 900
            }
        );
        assert_eq!(i.trend.len(), 2);
        assert_eq!((i.trend[1].count, i.trend[1].failures), (5, 5));
        assert_eq!(day_label(i.trend[1].start_ms), "1970-01-02");
        assert_eq!(day_label(1_764_633_600_000), "2025-12-02");
    }

    #[test]
    fn empty_is_zero_not_nan() {
        let i = aggregate(&[], 0);
        assert_eq!(i.overall.failure_rate(), 0.0);
        assert_eq!(i.overall.latency, Latency::default());
        assert!(trend_chart(&i.trend).into_string().starts_with("<svg"));
    }
}
