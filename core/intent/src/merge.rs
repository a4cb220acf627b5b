//! One engine from several intent sources (built-in home intents, each
//! installed skill's templates, extra files), so that one compiled matcher
//! serves both speech-grammar export and matching.
//!
//! Each source keeps its own `lists:` and `expansion_rules:`: when a source
//! has a namespace, its global list and rule names are renamed to
//! `<namespace>__<name>` and every reference in its templates and rules is
//! rewritten to match (`{size}` becomes `{ns__size:size}`, so the slot keeps
//! its name). Two skills may therefore both define a `size` list without one
//! overwriting the other. Runtime lists (`name`, `area`, `floor`) and lists a
//! source does not define are left alone, so every source shares the home's
//! device names.
//!
//! An intent defined by two sources is refused ([`IntentError::Clash`]): a
//! skill must not shadow a built-in intent or another skill's intent.

use std::collections::{BTreeMap, BTreeSet};

use crate::engine::{IntentEngine, Sources};
use crate::error::{IntentError, Origin};
use crate::yaml::{self, Yaml};

/// One document to merge.
#[derive(Debug, Clone)]
pub struct IntentSource {
    /// Who owns it, for clash errors: `built-in`, a skill id, a file path.
    pub owner: String,
    /// File name (or a description) for error messages.
    pub origin: String,
    /// The document (hassil YAML, Rhino context YAML or Alexa JSON).
    pub text: String,
    /// Prefix for the source's own lists and rules; `None` keeps the names.
    pub namespace: Option<String>,
}

impl IntentSource {
    /// A source whose lists and rules are namespaced by `owner`.
    pub fn namespaced(
        owner: impl Into<String>,
        origin: impl Into<String>,
        text: impl Into<String>,
    ) -> IntentSource {
        let owner = owner.into();
        IntentSource {
            namespace: Some(owner.clone()),
            owner,
            origin: origin.into(),
            text: text.into(),
        }
    }
}

impl IntentSource {
    /// The intents this source defines, in file order. Only parses the
    /// document (nothing is compiled), so callers can check names cheaply
    /// before merging.
    pub fn intent_names(&self, lang: &str) -> Result<Vec<String>, IntentError> {
        let text = crate::foreign::to_hassil(&self.text, &self.origin, lang)?;
        let doc = yaml::parse(&text, &self.origin)?;
        Ok(doc
            .get("intents")
            .map(|i| i.entries().iter().map(|(k, _)| k.clone()).collect())
            .unwrap_or_default())
    }
}

/// Intents by owner, as merged (`intent → owner`).
pub type Owners = BTreeMap<String, String>;

impl IntentEngine {
    /// Compiles every source into one engine for `lang`; returns the engine and
    /// which source owns each intent. Two sources defining the same intent is
    /// an error naming both.
    pub fn from_sources(
        sources: &[IntentSource],
        lang: &str,
    ) -> Result<(IntentEngine, Owners), IntentError> {
        let mut merged = Yaml::Map(vec![("language".into(), Yaml::Str(lang.to_string()))]);
        let mut files = Sources { files: vec![] };
        let mut owners = Owners::new();
        for src in sources {
            let text = crate::foreign::to_hassil(&src.text, &src.origin, lang)?;
            let mut doc = yaml::parse(&text, &src.origin)?;
            if let Some(ns) = &src.namespace {
                namespace(&mut doc, &prefix(ns));
            }
            if let Some(intents) = doc.get("intents") {
                for (name, _) in intents.entries() {
                    if let Some(first) = owners.get(name) {
                        return Err(IntentError::Clash {
                            origin: Origin {
                                file: src.origin.clone(),
                                line: yaml::line_of(&text, name),
                            },
                            intent: name.clone(),
                            first: first.clone(),
                            second: src.owner.clone(),
                        });
                    }
                    owners.insert(name.clone(), src.owner.clone());
                }
            }
            // The document's own language key must not override the engine's.
            if let Yaml::Map(entries) = &mut doc {
                entries.retain(|(k, _)| k != "language");
            }
            merged.merge(doc);
            files.files.push((src.origin.clone(), text));
        }
        let engine = IntentEngine::from_doc(merged, &files, lang)?;
        Ok((engine, owners))
    }
}

/// A namespace as an identifier-safe prefix.
fn prefix(ns: &str) -> String {
    let mut p: String = ns
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    p.push_str("__");
    p
}

/// Renames the document's global lists and rules and rewrites references to them.
fn namespace(doc: &mut Yaml, prefix: &str) {
    let lists: BTreeSet<String> = doc
        .get("lists")
        .map(|l| l.entries().iter().map(|(k, _)| k.clone()).collect())
        .unwrap_or_default();
    let rules: BTreeSet<String> = doc
        .get("expansion_rules")
        .map(|l| l.entries().iter().map(|(k, _)| k.clone()).collect())
        .unwrap_or_default();
    if lists.is_empty() && rules.is_empty() {
        return;
    }
    let names = Names {
        prefix,
        lists: &lists,
        rules: &rules,
    };
    let Yaml::Map(top) = doc else { return };
    for (key, value) in top.iter_mut() {
        match key.as_str() {
            "lists" | "expansion_rules" => {
                let is_lists = key == "lists";
                if let Yaml::Map(entries) = value {
                    for (name, body) in entries.iter_mut() {
                        *name = format!("{prefix}{name}");
                        if !is_lists {
                            names.rewrite_strings(body);
                        }
                    }
                }
            }
            "intents" => {
                if let Yaml::Map(intents) = value {
                    for (_, intent) in intents.iter_mut() {
                        if let Some(Yaml::Seq(blocks)) = get_mut(intent, "data") {
                            for block in blocks {
                                if let Some(sentences) = get_mut(block, "sentences") {
                                    names.rewrite_strings(sentences);
                                }
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

fn get_mut<'a>(y: &'a mut Yaml, key: &str) -> Option<&'a mut Yaml> {
    match y {
        Yaml::Map(entries) => entries.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
        _ => None,
    }
}

struct Names<'a> {
    prefix: &'a str,
    lists: &'a BTreeSet<String>,
    rules: &'a BTreeSet<String>,
}

impl Names<'_> {
    fn rewrite_strings(&self, y: &mut Yaml) {
        match y {
            Yaml::Str(s) => *s = self.rewrite(s),
            Yaml::Seq(items) => items.iter_mut().for_each(|i| self.rewrite_strings(i)),
            _ => {}
        }
    }

    /// Rewrites `{list}`, `{list:slot}` and `<rule>` references in one template.
    fn rewrite(&self, template: &str) -> String {
        let mut out = String::with_capacity(template.len() + 16);
        let mut rest = template;
        while let Some(i) = rest.find(['{', '<']) {
            out.push_str(&rest[..i]);
            let open = rest.as_bytes()[i];
            let close = if open == b'{' { '}' } else { '>' };
            let Some(len) = rest[i + 1..].find(close) else {
                // Unbalanced: leave it for the template parser to report.
                out.push_str(&rest[i..]);
                return out;
            };
            let inner = &rest[i + 1..i + 1 + len];
            if open == b'{' {
                let (list, slot) = match inner.split_once(':') {
                    Some((l, s)) => (l.trim(), s.trim()),
                    None => (inner.trim(), inner.trim()),
                };
                if self.lists.contains(list) {
                    out.push_str(&format!("{{{}{list}:{slot}}}", self.prefix));
                } else {
                    out.push('{');
                    out.push_str(inner);
                    out.push('}');
                }
            } else if self.rules.contains(inner.trim()) {
                out.push_str(&format!("<{}{}>", self.prefix, inner.trim()));
            } else {
                out.push('<');
                out.push_str(inner);
                out.push('>');
            }
            rest = &rest[i + 2 + len..];
        }
        out.push_str(rest);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Context;

    const COFFEE: &str = r#"
language: en
intents:
  OrderDrink:
    data:
      - sentences:
          - "<order> [a] [{size}] {drink}"
lists:
  drink:
    values: [latte, espresso]
  size:
    values: [small, large]
expansion_rules:
  order: "(make me|order)"
"#;

    const SHIRTS: &str = r#"
language: en
intents:
  OrderShirt:
    data:
      - sentences:
          - "buy [a] {size} shirt"
lists:
  size:
    values: [medium, extra large]
"#;

    #[test]
    fn sources_keep_their_own_lists_and_slot_names() {
        let (engine, owners) = IntentEngine::from_sources(
            &[
                IntentSource::namespaced("com.coffee", "coffee/en.yaml", COFFEE),
                IntentSource::namespaced("com.shirts", "shirts/en.yaml", SHIRTS),
            ],
            "en",
        )
        .unwrap();
        assert_eq!(owners["OrderDrink"], "com.coffee");
        assert_eq!(owners["OrderShirt"], "com.shirts");
        assert_eq!(
            IntentSource::namespaced("com.coffee", "coffee/en.yaml", COFFEE)
                .intent_names("en")
                .unwrap(),
            ["OrderDrink"]
        );
        let m = engine
            .recognize("make me a large latte", &Context::new())
            .best
            .unwrap();
        assert_eq!(m.intent, "OrderDrink");
        assert_eq!(m.slots["size"].value.to_string(), "large");
        let m = engine
            .recognize("buy extra large shirt", &Context::new())
            .best
            .unwrap();
        assert_eq!(m.intent, "OrderShirt");
        assert_eq!(m.slots["size"].value.to_string(), "extra large");
        // Each source's sizes stay its own.
        assert!(
            engine
                .recognize("buy a large shirt", &Context::new())
                .best
                .is_none()
        );
    }

    #[test]
    fn an_intent_defined_twice_is_a_clash_naming_both_owners() {
        let err = IntentEngine::from_sources(
            &[
                IntentSource::namespaced("built-in", "built-in en.yaml", COFFEE),
                IntentSource::namespaced("com.evil", "evil/en.yaml", COFFEE),
            ],
            "en",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("OrderDrink"), "{err}");
        assert!(
            err.contains("built-in") && err.contains("com.evil"),
            "{err}"
        );
    }

    #[test]
    fn rewriting_leaves_unknown_references_and_runtime_lists_alone() {
        let lists: BTreeSet<String> = ["size".to_string()].into();
        let rules: BTreeSet<String> = ["order".to_string()].into();
        let n = Names {
            prefix: "p__",
            lists: &lists,
            rules: &rules,
        };
        assert_eq!(
            n.rewrite("<order> {size} {name} <other> {size:s} {area"),
            "<p__order> {p__size:size} {name} <other> {p__size:s} {area"
        );
    }
}
