//! `skill.toml`: what a skill is, which intents and events it handles, which
//! permissions it needs and which limits it runs under.
//!
//! Every validation error names the file, line and field.

use crate::permission::{Permission, PermissionSet};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// Upper bounds a manifest may ask for; the host never goes above these.
pub mod ceilings {
    /// Largest linear memory a skill may ask for.
    pub const MEMORY_MIB: u32 = 256;
    /// Longest per-call deadline a skill may ask for.
    pub const TIMEOUT_MS: u32 = 10_000;
    /// Largest key-value store a skill may ask for.
    pub const STORE_KIB: u32 = 16 * 1024;
    /// Largest reply a skill may ask for.
    pub const REPLY_KIB: u32 = 1024;
    /// Largest quantity one order line may ask for.
    pub const ORDER_MAX_QUANTITY: u32 = 1000;
}

/// How many times one call, and all calls in one period, may use each
/// side-effecting capability. Going over is a `quota-exceeded` cap error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Most uses in one call.
    pub per_call: u32,
    /// Most uses in one period (an hour by default) across calls.
    pub per_hour: u32,
}

/// A side-effecting capability with a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Budgeted {
    /// `notify.send`.
    Notify,
    /// `orders.propose`.
    Order,
    /// `handoff.request`.
    Handoff,
    /// `log.write`.
    Log,
    /// `store.set` and `store.delete`.
    StoreWrite,
    /// `devices.control`.
    DeviceControl,
}

impl Budgeted {
    /// Every budgeted capability.
    pub const ALL: [Budgeted; 6] = [
        Budgeted::Notify,
        Budgeted::Order,
        Budgeted::Handoff,
        Budgeted::Log,
        Budgeted::StoreWrite,
        Budgeted::DeviceControl,
    ];

    /// The key prefix in `[limits]`, e.g. `notify` for `notify_per_call`.
    pub fn key(self) -> &'static str {
        match self {
            Budgeted::Notify => "notify",
            Budgeted::Order => "orders",
            Budgeted::Handoff => "handoffs",
            Budgeted::Log => "log",
            Budgeted::StoreWrite => "store_writes",
            Budgeted::DeviceControl => "device_controls",
        }
    }

    /// Index into per-capability arrays.
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// Default budget: enough for every well-behaved example skill.
    pub fn default_budget(self) -> Budget {
        let (per_call, per_hour) = match self {
            Budgeted::Notify => (3, 30),
            Budgeted::Order => (1, 5),
            Budgeted::Handoff => (1, 10),
            Budgeted::Log => (20, 1_000),
            Budgeted::StoreWrite => (100, 10_000),
            Budgeted::DeviceControl => (10, 500),
        };
        Budget { per_call, per_hour }
    }

    /// The host's cap: a manifest may ask for at most this much.
    pub fn ceiling(self) -> Budget {
        let (per_call, per_hour) = match self {
            Budgeted::Notify => (10, 100),
            Budgeted::Order => (5, 20),
            Budgeted::Handoff => (1, 30),
            Budgeted::Log => (100, 10_000),
            Budgeted::StoreWrite => (1_000, 100_000),
            Budgeted::DeviceControl => (50, 5_000),
        };
        Budget { per_call, per_hour }
    }
}

/// Per-skill limits. Defaults are deliberately small.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory cap in MiB.
    pub memory_mib: u32,
    /// Per-call wall-clock deadline in milliseconds.
    pub timeout_ms: u32,
    /// Key-value store quota in KiB.
    pub store_kib: u32,
    /// Largest reply in KiB: the sum of all strings in the reply and in
    /// everything the call produced through capabilities (notifications,
    /// orders, handoffs, log lines).
    pub reply_kib: u32,
    /// Largest quantity on one order line.
    pub order_max_quantity: u32,
    /// Budgets of the side-effecting capabilities, indexed by [`Budgeted`].
    pub budgets: [Budget; 6],
}

impl Limits {
    /// The budget of one capability.
    pub fn budget(&self, what: Budgeted) -> Budget {
        self.budgets[what.index()]
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mib: 64,
            timeout_ms: 1000,
            store_kib: 256,
            reply_kib: 64,
            order_max_quantity: 10,
            budgets: Budgeted::ALL.map(Budgeted::default_budget),
        }
    }
}

/// A validated `skill.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Reverse-DNS id, e.g. `com.example.coffee`.
    pub id: String,
    /// Version, `MAJOR.MINOR.PATCH`.
    pub version: String,
    /// Publisher name, shown to the customer.
    pub publisher: String,
    /// One-line description.
    pub description: String,
    /// Languages with intent templates, e.g. `en`, `de`.
    pub languages: Vec<String>,
    /// Intent names the skill answers.
    pub intents: Vec<String>,
    /// Device event kinds the skill subscribes to.
    pub events: Vec<String>,
    /// Intents of the built-ins or of other skills (e.g. `HassTurnOn`) whose
    /// sentences this skill's sentences deliberately overlap. The assistant
    /// refuses an overlap at install unless the intent is listed here, and
    /// tells the customer about each one it allows.
    pub shadows: Vec<String>,
    /// Declared permissions.
    pub permissions: PermissionSet,
    /// Limits.
    pub limits: Limits,
}

/// A `skill.toml` that is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: field `{field}`: {message}")]
pub struct ManifestError {
    /// File name or origin.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// The field at fault (or `-` for a syntax error).
    pub field: String,
    /// What is wrong and what to do.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    id: Spanned<String>,
    version: Spanned<String>,
    publisher: Spanned<String>,
    #[serde(default)]
    description: Option<Spanned<String>>,
    languages: Spanned<Vec<Spanned<String>>>,
    intents: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    events: Vec<Spanned<String>>,
    #[serde(default)]
    shadows: Vec<Spanned<String>>,
    #[serde(default)]
    permissions: Vec<Spanned<String>>,
    #[serde(default)]
    limits: Option<Spanned<BTreeMap<String, Spanned<i64>>>>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn is_word(s: &str, extra: &[char]) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
}

impl Manifest {
    /// Parses and validates `text`; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Manifest, ManifestError> {
        let fail = |span: std::ops::Range<usize>, field: &str, message: String| ManifestError {
            file: file.to_string(),
            line: line_of(text, span.start),
            field: field.to_string(),
            message,
        };
        let raw: RawManifest = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let msg = e.message().trim().to_string();
            let field = msg
                .split('`')
                .nth(1)
                .filter(|_| msg.contains("field"))
                .unwrap_or("-")
                .to_string();
            fail(span, &field, msg)
        })?;

        let id = raw.id.get_ref();
        if id.len() > 64
            || !is_word(id, &['.', '-'])
            || !id.contains('.')
            || id.starts_with('.')
            || id.ends_with('.')
            || id.contains("..")
            || id.chars().any(|c| c.is_ascii_uppercase())
        {
            return Err(fail(
                raw.id.span(),
                "id",
                format!(
                    "`{id}` is not a reverse-DNS id like `com.example.coffee` (lowercase letters, digits, `.` and `-`, at most 64)"
                ),
            ));
        }
        let version = raw.version.get_ref();
        let parts: Vec<&str> = version.split('.').collect();
        if parts.len() != 3
            || parts
                .iter()
                .any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(fail(
                raw.version.span(),
                "version",
                format!("`{version}` is not MAJOR.MINOR.PATCH, e.g. `0.1.0`"),
            ));
        }
        let publisher = raw.publisher.get_ref().trim();
        if publisher.is_empty() || publisher.len() > 128 {
            return Err(fail(
                raw.publisher.span(),
                "publisher",
                "must be 1 to 128 characters".into(),
            ));
        }
        // Shown to the customer at install and in `emma skill list`: plain text only.
        let plain = |t: &str| emma_untrusted::is_clean(t) && !t.contains('\n');
        if !plain(publisher) {
            return Err(fail(
                raw.publisher.span(),
                "publisher",
                "must be plain text: no control, escape, bidi or invisible characters".into(),
            ));
        }
        if let Some(d) = &raw.description
            && (!plain(d.get_ref()) || d.get_ref().chars().count() > 500)
        {
            return Err(fail(
                d.span(),
                "description",
                "must be one line of plain text (at most 500 characters; no control, escape, bidi or invisible characters)".into(),
            ));
        }
        let mut languages = Vec::new();
        if raw.languages.get_ref().is_empty() {
            return Err(fail(
                raw.languages.span(),
                "languages",
                "list at least one language, e.g. [\"en\"]".into(),
            ));
        }
        for lang in raw.languages.get_ref() {
            let l = lang.get_ref();
            if !(2..=3).contains(&l.len()) || !l.chars().all(|c| c.is_ascii_lowercase()) {
                return Err(fail(
                    lang.span(),
                    "languages",
                    format!("`{l}` is not a 2-3 letter language code like `en`"),
                ));
            }
            languages.push(l.clone());
        }
        let mut intents = Vec::new();
        if raw.intents.get_ref().is_empty() {
            return Err(fail(
                raw.intents.span(),
                "intents",
                "list at least one intent name, e.g. [\"Hello\"]".into(),
            ));
        }
        for intent in raw.intents.get_ref() {
            let i = intent.get_ref();
            if i.len() > 64
                || !is_word(i, &['_'])
                || !i.starts_with(|c: char| c.is_ascii_uppercase())
            {
                return Err(fail(
                    intent.span(),
                    "intents",
                    format!("`{i}` is not an intent name like `OrderDrink`"),
                ));
            }
            intents.push(i.clone());
        }
        let mut events = Vec::new();
        for event in &raw.events {
            let e = event.get_ref();
            if e.len() > 64 || !is_word(e, &['-', '_', '.']) {
                return Err(fail(
                    event.span(),
                    "events",
                    format!("`{e}` is not an event kind like `bean-level`"),
                ));
            }
            events.push(e.clone());
        }
        let mut shadows = Vec::new();
        for shadow in &raw.shadows {
            let i = shadow.get_ref();
            if i.len() > 64
                || !is_word(i, &['_'])
                || !i.starts_with(|c: char| c.is_ascii_uppercase())
            {
                return Err(fail(
                    shadow.span(),
                    "shadows",
                    format!("`{i}` is not an intent name like `HassTurnOn`"),
                ));
            }
            if intents.contains(i) {
                return Err(fail(
                    shadow.span(),
                    "shadows",
                    format!(
                        "`{i}` is this skill's own intent; list intents of the built-ins or of other skills"
                    ),
                ));
            }
            shadows.push(i.clone());
        }
        let mut perms: Vec<Permission> = Vec::new();
        for perm in &raw.permissions {
            let p = perm
                .get_ref()
                .parse::<Permission>()
                .map_err(|e| fail(perm.span(), "permissions", e.to_string()))?;
            perms.push(p);
        }
        let mut limits = Limits::default();
        if let Some(raw_limits) = &raw.limits {
            for (key, value) in raw_limits.get_ref() {
                let budget_key = Budgeted::ALL.iter().find_map(|b| {
                    if key.strip_prefix(b.key()) == Some("_per_call") {
                        Some((*b, true))
                    } else if key.strip_prefix(b.key()) == Some("_per_hour") {
                        Some((*b, false))
                    } else {
                        None
                    }
                });
                let (slot, ceiling) = match key.as_str() {
                    "memory_mib" => (&mut limits.memory_mib, ceilings::MEMORY_MIB),
                    "timeout_ms" => (&mut limits.timeout_ms, ceilings::TIMEOUT_MS),
                    "store_kib" => (&mut limits.store_kib, ceilings::STORE_KIB),
                    "reply_kib" => (&mut limits.reply_kib, ceilings::REPLY_KIB),
                    "order_max_quantity" => {
                        (&mut limits.order_max_quantity, ceilings::ORDER_MAX_QUANTITY)
                    }
                    _ if budget_key.is_some() => {
                        let (b, per_call) = budget_key.expect("checked");
                        let budget = &mut limits.budgets[b.index()];
                        if per_call {
                            (&mut budget.per_call, b.ceiling().per_call)
                        } else {
                            (&mut budget.per_hour, b.ceiling().per_hour)
                        }
                    }
                    other => {
                        return Err(fail(
                            value.span(),
                            &format!("limits.{other}"),
                            "unknown limit; known: memory_mib, timeout_ms, store_kib, reply_kib, order_max_quantity, and {notify,orders,handoffs,log,store_writes,device_controls}_per_{call,hour}"
                                .to_string(),
                        ));
                    }
                };
                let v = *value.get_ref();
                if v < 1 || v > i64::from(ceiling) {
                    return Err(fail(
                        value.span(),
                        &format!("limits.{key}"),
                        format!("{v} is outside 1..={ceiling} (the host's cap)"),
                    ));
                }
                *slot = v as u32;
            }
            for b in Budgeted::ALL {
                let budget = limits.budget(b);
                if budget.per_call > budget.per_hour {
                    return Err(fail(
                        raw_limits.span(),
                        &format!("limits.{}_per_call", b.key()),
                        format!(
                            "{} per call is more than {} per hour; lower it or raise {}_per_hour",
                            budget.per_call,
                            budget.per_hour,
                            b.key()
                        ),
                    ));
                }
            }
        }
        Ok(Manifest {
            id: id.clone(),
            version: version.clone(),
            publisher: publisher.to_string(),
            description: raw.description.map(|d| d.into_inner()).unwrap_or_default(),
            languages,
            intents,
            events,
            shadows,
            permissions: PermissionSet::new(perms),
            limits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"id = "com.example.coffee"
version = "0.1.0"
publisher = "Example Coffee"
description = "Order coffee"
languages = ["en", "de"]
intents = ["OrderDrink"]
events = ["bean-level"]
permissions = ["device:coffee.*:control", "store", "order:propose"]

[limits]
memory_mib = 32
timeout_ms = 500
"#;

    #[test]
    fn parses_a_good_manifest() {
        let m = Manifest::parse(GOOD, "skill.toml").unwrap();
        assert_eq!(m.id, "com.example.coffee");
        assert_eq!(m.limits.memory_mib, 32);
        assert_eq!(m.limits.reply_kib, Limits::default().reply_kib);
        assert_eq!(m.permissions.len(), 3);
    }

    #[test]
    fn errors_name_line_and_field() {
        let bad = GOOD.replace("\"store\"", "\"stroe\"");
        let e = Manifest::parse(&bad, "skill.toml").unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (8, "permissions"));
        assert!(
            e.to_string()
                .starts_with("skill.toml:8: field `permissions`: unknown permission `stroe`"),
            "{e}"
        );

        let bad = GOOD.replace("timeout_ms = 500", "timeout_ms = 999999");
        let e = Manifest::parse(&bad, "skill.toml").unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (12, "limits.timeout_ms"));

        let bad = GOOD.replace("version = \"0.1.0\"", "version = \"one\"");
        assert_eq!(Manifest::parse(&bad, "m").unwrap_err().line, 2);

        let bad = GOOD.replace("id = \"com.example.coffee\"", "id = \"Coffee\"");
        assert_eq!(Manifest::parse(&bad, "m").unwrap_err().field, "id");
    }

    #[test]
    fn shadows_name_other_intents_only() {
        assert!(Manifest::parse(GOOD, "m").unwrap().shadows.is_empty());
        let with = |list: &str| GOOD.replace("events =", &format!("shadows = {list}\nevents ="));
        let m = Manifest::parse(&with("[\"HassTurnOn\"]"), "m").unwrap();
        assert_eq!(m.shadows, ["HassTurnOn"]);
        let e = Manifest::parse(&with("[\"turn on\"]"), "skill.toml").unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (7, "shadows"));
        let e = Manifest::parse(&with("[\"OrderDrink\"]"), "m").unwrap_err();
        assert!(e.message.contains("own intent"), "{e}");
    }

    #[test]
    fn budgets_are_read_and_capped_by_the_host() {
        let m = Manifest::parse(
            &format!("{GOOD}notify_per_call = 2\nnotify_per_hour = 9\norder_max_quantity = 4\n"),
            "m",
        )
        .unwrap();
        assert_eq!(
            m.limits.budget(Budgeted::Notify),
            Budget {
                per_call: 2,
                per_hour: 9
            }
        );
        assert_eq!(m.limits.order_max_quantity, 4);
        assert_eq!(
            m.limits.budget(Budgeted::Log),
            Budgeted::Log.default_budget()
        );
        let e = Manifest::parse(&format!("{GOOD}notify_per_call = 100000\n"), "m").unwrap_err();
        assert_eq!(e.field, "limits.notify_per_call");
        assert!(e.message.contains("1..=10"), "{e}");
        let e =
            Manifest::parse(&format!("{GOOD}order_max_quantity = 4294967295\n"), "m").unwrap_err();
        assert_eq!(e.field, "limits.order_max_quantity");
        let e = Manifest::parse(
            &format!("{GOOD}log_per_call = 50\nlog_per_hour = 10\n"),
            "m",
        )
        .unwrap_err();
        assert_eq!(e.field, "limits.log_per_call");
        let e = Manifest::parse(&format!("{GOOD}notify_per_day = 1\n"), "m").unwrap_err();
        assert_eq!(e.field, "limits.notify_per_day");
    }

    #[test]
    fn publisher_and_description_are_plain_text() {
        let bad = GOOD.replace("Example Coffee\"", "Example \\u001b[2JCoffee\"");
        let e = Manifest::parse(&bad, "skill.toml").unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (3, "publisher"));
        let bad = GOOD.replace("Order coffee", "Order \\u202Eeeffoc");
        let e = Manifest::parse(&bad, "skill.toml").unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (4, "description"));
    }

    #[test]
    fn unknown_and_missing_fields_are_named() {
        let e = Manifest::parse(&format!("{GOOD}\n[extra]\n"), "m").unwrap_err();
        assert!(e.message.contains("extra"), "{e}");
        let e = Manifest::parse(&GOOD.replace("publisher = \"Example Coffee\"\n", ""), "m")
            .unwrap_err();
        assert!(e.to_string().contains("publisher"), "{e}");
        let e = Manifest::parse("id = [", "m").unwrap_err();
        assert_eq!(e.line, 1);
    }
}
