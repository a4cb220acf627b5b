//! `emma privacy …`: the customer's view of and control over their data —
//! consents, the ledger, export and erase — in Emma's data directory.
//!
//! Only argument parsing and printing live here; the work is in `emma-privacy`.
//! Times (`--since`, `--expires`) are a date (`2026-12-31`), an RFC 3339 time
//! (`2026-12-31T18:00:00Z`), or a span (`30m`, `12h`, `7d`, `2w`): before now
//! for `--since`, after now for `--expires`.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use emma_core::privacy::{
    CATEGORY_NAMES, Category, Entry, Filter, Privacy, Verification, bench, now_ms,
};
use std::path::PathBuf;

/// Arguments of `emma privacy`.
#[derive(Debug, Args)]
pub struct PrivacyArgs {
    #[command(subcommand)]
    what: PrivacyCommand,
}

#[derive(Debug, Subcommand)]
enum PrivacyCommand {
    /// What was stored about the customer and shared with whom, newest last.
    Ledger {
        /// Only entries for this skill (or party: `emma`, `customer`, `mqtt:<topic>`).
        #[arg(long)]
        skill: Option<String>,
        /// Only entries since WHEN (a date, an RFC 3339 time or a span such as `7d`).
        #[arg(long)]
        since: Option<String>,
        /// At most N entries (the newest).
        #[arg(long)]
        limit: Option<usize>,
        /// Check the hash chain instead of listing; exit 1 when it is broken.
        #[arg(long)]
        verify: bool,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// List, grant or revoke consents per skill and data category.
    Consent {
        #[command(subcommand)]
        what: ConsentCommand,
    },
    /// Write all of the customer's data from every store to FILE as one JSON document.
    Export {
        /// Output file (written atomically; an existing file is replaced only on success).
        file: PathBuf,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show how long transcripts, audio, device usage and touchpoints are kept, or set one (`transcripts 14d`).
    Retention {
        /// transcripts, audio, device-usage or touchpoints.
        category: Option<String>,
        /// How long to keep it: a span such as `14d`, `12h`, `2w`.
        keep: Option<String>,
    },
    /// Erase the customer's data from every store, skills' stores included (stop Emma first).
    Erase {
        /// Really erase (there is no undo).
        #[arg(long)]
        yes: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ConsentCommand {
    /// Every consent given, with its status.
    List {
        /// Only this skill's.
        #[arg(long)]
        skill: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Allow SKILL to use CATEGORY.
    Grant {
        /// Installed skill id, or `emma` for Emma itself (e.g. `emma audio` keeps recordings).
        skill: String,
        /// profile:<field>, orders, device-usage, device-names, transcripts, audio, touchpoints or proactive.
        category: String,
        /// What the data is used for.
        #[arg(long, default_value = "consent given on the command line")]
        purpose: String,
        /// When the consent lapses (a date, an RFC 3339 time or a span such as `30d`).
        #[arg(long)]
        expires: Option<String>,
    },
    /// Withdraw SKILL's consent for CATEGORY (`all`: every category); applies to the next call.
    Revoke {
        /// Skill id.
        skill: String,
        /// A category, or `all`.
        category: String,
    },
}

/// Settings of `emma bench privacy`.
#[derive(Debug, Args)]
pub struct BenchPrivacyArgs {
    /// Ledger entries in the benchmark home.
    #[arg(long, default_value_t = 10_000)]
    entries: usize,
    /// Order proposals in the benchmark home.
    #[arg(long, default_value_t = 1_000)]
    orders: usize,
    /// Timed ledger appends.
    #[arg(long, default_value_t = 1_000)]
    appends: usize,
    /// Scratch directory on the disk to measure (default: a temporary directory).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

fn open() -> anyhow::Result<Privacy> {
    let home = crate::home::emma_home();
    Privacy::open_dir(&home)
        .with_context(|| format!("opening the privacy stores in {}", home.display()))
}

fn category(s: &str) -> anyhow::Result<Category> {
    s.parse::<Category>()
        .with_context(|| format!("category argument `{s}`"))
}

/// Parses WHEN: a date, an RFC 3339 time, or a span before (`past`) or after now.
fn when(s: &str, past: bool, what: &str) -> anyhow::Result<u64> {
    use time::format_description::well_known::Rfc3339;
    let now = now_ms();
    let s = s.trim();
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Ok((t.unix_timestamp_nanos() / 1_000_000).max(0) as u64);
    }
    if let Ok(d) = time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")) {
        return Ok((d.midnight().assume_utc().unix_timestamp().max(0) as u64) * 1000);
    }
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => 0,
    };
    match n.parse::<u64>() {
        Ok(n) if secs > 0 => {
            let span = n.saturating_mul(secs).saturating_mul(1000);
            Ok(if past {
                now.saturating_sub(span)
            } else {
                now.saturating_add(span)
            })
        }
        _ => bail!(
            "{what} `{s}`: expected a date (2026-12-31), an RFC 3339 time (2026-12-31T18:00:00Z) or a span (30m, 12h, 7d, 2w)"
        ),
    }
}

fn fmt_ms(ms: u64) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp((ms / 1000) as i64)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("{ms} ms"))
}

fn entry_line(e: &Entry) -> String {
    let what = match &e.field {
        Some(f) => format!("{}:{f}", e.category),
        None => e.category.clone(),
    };
    let consent = e
        .consent
        .map(|c| format!(", consent {c}"))
        .unwrap_or_default();
    format!(
        "{:>6}  {}  {:<7} {:<28} {:<16} ({}{consent})",
        e.seq,
        fmt_ms(e.at_ms),
        e.action,
        what,
        e.party,
        e.reason
    )
}

fn spinner(msg: &str) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}

/// Runs `emma privacy`.
pub fn run(args: PrivacyArgs) -> anyhow::Result<()> {
    match args.what {
        PrivacyCommand::Ledger {
            skill,
            since,
            limit,
            verify,
            json,
        } => {
            let p = open()?;
            if verify {
                let v = p.ledger().verify()?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&v)?);
                }
                return match v {
                    Verification::Intact { entries, head } => {
                        if !json {
                            println!("ledger intact: {entries} entries, head {head}");
                        }
                        Ok(())
                    }
                    Verification::Broken { seq, problem } => {
                        bail!(
                            "ledger {} is tampered at entry {seq}: {problem}",
                            p.ledger().path().display()
                        )
                    }
                };
            }
            let filter = Filter {
                party: skill,
                since_ms: since.map(|s| when(&s, true, "--since")).transpose()?,
                limit,
            };
            let entries = p.ledger().entries(&filter)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&entries)?);
            } else if entries.is_empty() {
                println!("no ledger entries match");
            } else {
                for e in &entries {
                    println!("{}", entry_line(e));
                }
            }
            Ok(())
        }
        PrivacyCommand::Consent { what } => consent(what),
        PrivacyCommand::Retention {
            category: cat,
            keep,
        } => {
            let p = open()?;
            match (cat, keep) {
                (Some(cat), Some(keep)) => {
                    let cat = category(&cat)?;
                    let now = now_ms();
                    let until = when(&keep, false, "retention")?;
                    let secs = until.saturating_sub(now) / 1000;
                    if secs == 0 {
                        bail!("retention `{keep}`: give a span such as 14d, 12h or 2w");
                    }
                    p.customer().set_retention(&cat, secs)?;
                    let expired = p.expire(now)?;
                    println!(
                        "{cat} kept for {secs} s; {} rows expired now",
                        expired.total()
                    );
                }
                (None, None) => {
                    for kind in ["transcripts", "audio", "device-usage", "touchpoints"] {
                        let secs = p.customer().retention_secs(&category(kind)?)?.unwrap_or(0);
                        println!("{kind:<13} {:>5} days ({secs} s)", secs / 86_400);
                    }
                }
                _ => bail!(
                    "give both a category and a span (`emma privacy retention transcripts 14d`), or neither to list"
                ),
            }
            Ok(())
        }
        PrivacyCommand::Export { file, json } => {
            let p = open()?;
            let pb = spinner("exporting");
            let summary = p.export(&file, now_ms());
            pb.finish_and_clear();
            let summary = summary?;
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                let counts: Vec<String> = summary
                    .counts
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect();
                println!(
                    "exported to {} ({} bytes): {}",
                    summary.path.display(),
                    summary.bytes,
                    counts.join(", ")
                );
            }
            Ok(())
        }
        PrivacyCommand::Erase { yes, json } => {
            if !yes {
                bail!(
                    "erase removes the customer's profile, transcripts, audio, device usage, orders, skills' stores and devices from {} for good; run `emma privacy erase --yes` (consents and the ledger are kept)",
                    crate::home::emma_home().display()
                );
            }
            let p = open()?;
            let pb = spinner("erasing");
            let report = p.erase(now_ms());
            pb.finish_and_clear();
            let report = report?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                for s in &report.stores {
                    println!(
                        "{}: {} rows erased, {} → {} bytes",
                        s.path.display(),
                        s.rows,
                        s.bytes_before,
                        s.bytes_after
                    );
                }
                println!(
                    "erased {} rows in {} stores",
                    report.rows(),
                    report.stores.len()
                );
            }
            Ok(())
        }
    }
}

fn consent(what: ConsentCommand) -> anyhow::Result<()> {
    let p = open()?;
    let now = now_ms();
    match what {
        ConsentCommand::List { skill, json } => {
            let all = p.customer().consents(skill.as_deref())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else if all.is_empty() {
                println!(
                    "no consents given; grant one with `emma privacy consent grant SKILL CATEGORY --purpose …`"
                );
            } else {
                for c in &all {
                    let expires = c
                        .expires_ms
                        .map(|e| format!(", until {}", fmt_ms(e)))
                        .unwrap_or_default();
                    println!(
                        "{:>4}  {:<8} {:<12} {:<22} since {}{expires}  \"{}\"",
                        c.id,
                        c.status(now),
                        c.skill,
                        c.category,
                        fmt_ms(c.granted_ms),
                        c.purpose
                    );
                }
            }
        }
        ConsentCommand::Grant {
            skill,
            category: cat,
            purpose,
            expires,
        } => {
            let cat = category(&cat)?;
            let expires = expires.map(|e| when(&e, false, "--expires")).transpose()?;
            let c = p.grant(&skill, &cat, &purpose, expires, now)?;
            println!(
                "consent {}: {} may use {} for \"{}\"",
                c.id, c.skill, c.category, c.purpose
            );
        }
        ConsentCommand::Revoke {
            skill,
            category: cat,
        } => {
            let cat = if cat == "all" {
                None
            } else {
                Some(category(&cat).with_context(|| format!("expected {CATEGORY_NAMES}, or all"))?)
            };
            let revoked = p.revoke(&skill, cat.as_ref(), now)?;
            for c in revoked {
                println!(
                    "revoked consent {}: {} may no longer use {}",
                    c.id, c.skill, c.category
                );
            }
        }
    }
    Ok(())
}

/// Runs `emma bench privacy`.
pub fn bench(args: BenchPrivacyArgs) -> anyhow::Result<()> {
    let tmp;
    let dir = match args.dir {
        Some(d) => {
            std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
            d
        }
        None => {
            tmp = tempfile::tempdir().context("creating a scratch directory")?;
            tmp.path().to_path_buf()
        }
    };
    let cfg = bench::BenchConfig {
        ledger_entries: args.entries,
        orders: args.orders,
        appends: args.appends.max(10),
    };
    let pb = spinner("benchmarking privacy (ledger, export, erase)");
    let report = bench::run(&dir, cfg);
    pb.finish_and_clear();
    let report = report?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    Ok(())
}
