//! The HTML pages. maud escapes every interpolated value; text from homes is also stripped of control
//! and bidi characters ([`shown`]).

use maud::{DOCTYPE, Markup, html};

use crate::insights::{Insights, trend_chart};
use crate::store::{Agent, AuditEntry, Handoff, Queue, QueueItem, Status};
use crate::suggest::Ranked;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#202124}\
header{background:#1a73e8;color:#fff;padding:.5em 1em;display:flex;gap:1em;align-items:center}\
header a{color:#fff}main{padding:1em;max-width:60em}table{border-collapse:collapse}\
td,th{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:left}\
.customer{color:#174ea6}.emma{color:#5f6368}.agent{color:#137333}.muted{color:#5f6368}\
.notice{background:#e6f4ea;padding:.5em}.error{background:#fce8e6;padding:.5em}\
form.inline{display:inline}textarea{width:100%;min-height:5em}";

/// Text from the network, made safe to show: controls and bidi characters removed (maud escapes HTML).
pub fn shown(s: &str) -> String {
    emma_untrusted::text(s, emma_untrusted::TEXT_CHARS)
}

/// An id (already checked to be `[A-Za-z0-9._-]`) for a URL path; anything else is percent-encoded.
pub fn url_part(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `12 s`, `3 min`, `2 h 5 min`.
pub fn age(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

fn layout(title: &str, agent: Option<(&Agent, &str)>, refresh: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                @if refresh { meta http-equiv="refresh" content="5"; }
                title { (title) " · Emma desk" }
                style { (STYLE) }
            }
            body {
                header {
                    strong { "Emma desk" }
                    @if let Some((a, csrf)) = agent {
                        a href="/" { "Queue" }
                        a href="/insights" { "Insights" }
                        a href="/log" { "Log" }
                        span id="who" { (a.name) " · " (a.brand) }
                        form.inline method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A page with a title and one message.
pub fn message(title: &str, text: &str) -> Markup {
    layout(
        title,
        None,
        false,
        html! { h1 { (title) } p.error { (text) } p { a href="/" { "Back" } } },
    )
}

/// The sign-in page.
pub fn login(csrf: &str, error: Option<&str>) -> Markup {
    layout(
        "Sign in",
        None,
        false,
        html! {
            h1 { "Sign in" }
            @if let Some(e) = error { p.error id="error" { (e) } }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(csrf);
                p { label { "Agent " input type="text" name="agent" id="agent" autocomplete="username" required; } }
                p { label { "Password " input type="password" name="password" id="password" autocomplete="current-password" required; } }
                button type="submit" id="sign-in" { "Sign in" }
            }
        },
    )
}

fn item_row(i: &QueueItem, now: u64) -> Markup {
    html! {
        tr {
            td { a.handoff-link href={"/handoff/" (url_part(&i.id))} data-id=(i.id) { (i.id) } }
            td { (age(now.saturating_sub(i.received_ms))) }
            td { (i.language) }
            td { (i.skill.as_deref().map(shown).unwrap_or_default()) }
            td { (shown(&i.summary)) }
            td { (i.agent.as_deref().unwrap_or("—")) }
        }
    }
}

/// The queue: the agent's handoffs, the waiting queue (with age) and the colleagues' open handoffs.
pub fn queue(agent: &Agent, csrf: &str, queue: &Queue, now: u64, sent: Option<&str>) -> Markup {
    let items = &queue.items;
    let mine: Vec<_> = items
        .iter()
        .filter(|i| i.agent.as_deref() == Some(agent.id.as_str()))
        .collect();
    let waiting: Vec<_> = items
        .iter()
        .filter(|i| i.status == Status::Queued)
        .collect();
    let others: Vec<_> = items
        .iter()
        .filter(|i| i.status == Status::Assigned && i.agent.as_deref() != Some(agent.id.as_str()))
        .collect();
    let table = |rows: &[&QueueItem], id: &str| {
        html! {
            @if rows.is_empty() { p.muted { "None." } } @else {
                table id=(id) {
                    tr { th { "Handoff" } th { "Age" } th { "Language" } th { "Skill" } th { "Summary" } th { "Agent" } }
                    @for i in rows { (item_row(i, now)) }
                }
            }
        }
    };
    layout(
        "Queue",
        Some((agent, csrf)),
        true,
        html! {
            @if let Some(id) = sent { p.notice id="sent" { "Reply to " (id) " sent." } }
            p {
                @if agent.available { "You are available (" (agent.load) " of " (agent.capacity) " open). " }
                @else { "You are away: no handoffs are routed to you. " }
                form.inline method="post" action="/availability" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="available" value=(if agent.available { "off" } else { "on" });
                    button type="submit" id="availability" { (if agent.available { "Step away" } else { "Be available" }) }
                }
            }
            h2 { "Yours" } (table(&mine, "mine"))
            h2 { "Waiting (" (queue.waiting) ")" } (table(&waiting, "waiting"))
            @if queue.waiting > waiting.len() as u64 {
                p.muted { "… and " (queue.waiting - waiting.len() as u64) " more, oldest shown first." }
            }
            h2 { "With colleagues" } (table(&others, "others"))
        },
    )
}

/// One handoff: the conversation, what the home understood, the shared context and the suggested replies.
pub fn handoff(agent: &Agent, csrf: &str, h: &Handoff, ranked: &[Ranked], now: u64) -> Markup {
    let r = &h.request;
    let mine = h.status == Status::Assigned && h.agent.as_deref() == Some(agent.id.as_str());
    let action = format!("/handoff/{}/reply", url_part(&r.id));
    layout(
        &r.id,
        Some((agent, csrf)),
        false,
        html! {
            h1 { "Handoff " (r.id) }
            p {
                "From home " (r.home) " · language " (r.language)
                @if let Some(s) = &r.skill { " · skill " (shown(s)) }
                " · " (format!("{:?}", r.reason).to_lowercase()) " · waiting " (age(now.saturating_sub(h.received_ms)))
            }
            p { em { (shown(&r.summary)) } }
            h2 { "Conversation" }
            ol id="transcript" {
                @for u in &r.transcript {
                    @let (class, who) = match u.speaker {
                        emma_handoff::Speaker::Customer => ("customer", "Customer"),
                        emma_handoff::Speaker::Emma => ("emma", "Emma"),
                        emma_handoff::Speaker::Agent => ("agent", "Agent"),
                    };
                    li class=(class) { strong { (who) ": " } (shown(&u.text)) }
                }
            }
            h2 { "Understood as" }
            @if r.candidates.is_empty() { p.muted { "Nothing." } } @else {
                table id="candidates" {
                    @for c in &r.candidates { tr { td { (shown(&c.intent)) } td { (format!("{:.0} %", c.confidence * 100.0)) } } }
                }
            }
            h2 { "Context the customer shared" }
            @if r.context.is_empty() { p.muted { "Nothing." } } @else {
                table id="context" {
                    @for (k, v) in &r.context { tr { th { (shown(k)) } td { (shown(v)) } } }
                }
            }
            @match h.status {
                Status::Answered => {
                    h2 { "Answered" }
                    p id="answer" { (h.agent.as_deref().unwrap_or("")) ": " (h.reply.as_deref().map(shown).unwrap_or_default()) }
                }
                _ if !mine => {
                    p.muted { "This handoff is " (if h.status == Status::Queued { "waiting in the queue" } else { "with a colleague" }) "; only its agent can answer." }
                }
                _ => {
                    h2 { "Suggested replies" }
                    @if ranked.is_empty() { p.muted { "None; write your own below." } }
                    ol id="suggestions" {
                        @for s in ranked {
                            li {
                                form.inline method="post" action=(action) {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="hidden" name="text" value=(shown(&s.text));
                                    button.suggestion type="submit" { "Send" }
                                }
                                " " (shown(&s.text))
                                @if s.chosen > 0 { " " span.muted { "(chosen " (s.chosen) "×)" } }
                            }
                        }
                    }
                    h2 { "Your reply" }
                    form method="post" action=(action) {
                        input type="hidden" name="csrf" value=(csrf);
                        textarea name="text" id="reply-text" required maxlength="2000" {
                            (ranked.first().map(|s| shown(&s.text)).unwrap_or_default())
                        }
                        p { button type="submit" id="send" { "Send" } }
                    }
                }
            }
        },
    )
}

fn pct(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

/// The brand's touchpoint insights.
pub fn insights(agent: &Agent, csrf: &str, i: &Insights) -> Markup {
    let o = &i.overall;
    layout(
        "Insights",
        Some((agent, csrf)),
        false,
        html! {
            h1 { "Insights for " (agent.brand) }
            p id="summary" {
                (i.reports) " reports · " span id="total" { (o.count) } " interactions · failure rate "
                span id="failure-rate" { (pct(o.failure_rate())) } " · handoff rate "
                span id="handoff-rate" { (pct(o.handoff_rate())) } " · latency p50/p95/p99 "
                span id="latency" { (o.latency.p50) " / " (o.latency.p95) " / " (o.latency.p99) " ms" }
                @if let Some(s) = o.satisfaction() { " · satisfied " (pct(s)) }
            }
            h2 { "Trend" }
            (trend_chart(&i.trend))
            h2 { "Top intents" }
            table id="intents" {
                tr { th { "Intent" } th { "Skill" } th { "Count" } th { "Failures" } th { "Handoffs" } th { "p50" } th { "p95" } th { "p99" } }
                @for l in &i.intents {
                    tr {
                        td { (shown(&l.intent)) } td { (l.skill.as_deref().map(shown).unwrap_or_else(|| "built-in".into())) }
                        td { (l.totals.count) } td { (pct(l.totals.failure_rate())) } td { (pct(l.totals.handoff_rate())) }
                        td { (l.totals.latency.p50) } td { (l.totals.latency.p95) } td { (l.totals.latency.p99) }
                    }
                }
            }
        },
    )
}

/// The brand's audit log.
pub fn audit(agent: &Agent, csrf: &str, entries: &[AuditEntry]) -> Markup {
    layout(
        "Log",
        Some((agent, csrf)),
        false,
        html! {
            h1 { "What happened" }
            table id="log" {
                tr { th { "When (ms)" } th { "Who" } th { "What" } th { "Handoff" } th { "Details" } }
                @for e in entries {
                    tr { td { (e.at_ms) } td { (e.actor) } td { (e.action) } td { (e.handoff) } td { (shown(&e.detail)) } }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_url_parts() {
        assert_eq!(age(5_400), "5 s");
        assert_eq!(age(125_000), "2 min");
        assert_eq!(age(3_900_000), "1 h 5 min");
        assert_eq!(url_part("h-1.a_b"), "h-1.a_b");
        assert_eq!(url_part("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn markup_escapes_and_strips() {
        let m = message("t", "<script>alert(1)</script>\u{202e}x").into_string();
        assert!(!m.contains("<script>alert"), "{m}");
        assert!(m.contains("&lt;script&gt;"), "{m}");
        assert!(
            shown("a\u{202e}b\u{1b}[31m")
                .chars()
                .all(|c| c != '\u{202e}' && c != '\u{1b}')
        );
    }
}
