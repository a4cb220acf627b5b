//! `emma desk`: the brand's agent desk (a thin edge over `emma-desk`).
//!
//! ```text
//! emma desk --broker mqtt://broker:1883 [--listen 127.0.0.1:8640] [--database postgres://…] [--worker desk-1]
//! emma desk agent add --id ann --brand acme --name Ann --languages en,de [--skills '*'] [--capacity 3] < password
//! emma desk agent list [--json]
//! emma desk log [--json]
//! ```

use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use emma_desk::{Desk, DeskConfig, NewAgent, Store};

/// `emma desk`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DeskArgs {
    #[command(subcommand)]
    command: Option<DeskCommand>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum DeskCommand {
    /// Agents: register, list.
    Agent(AgentArgs),
    /// The audit log: every agent action, newest first.
    Log(LogArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address of the agents' web page (loopback by default; put a TLS proxy in front to expose it).
    #[arg(long, default_value_t = emma_desk::web::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// The brand's MQTT broker, `mqtt://[user:password@]host[:port]`.
    #[arg(long)]
    broker: Option<String>,
    #[command(flatten)]
    db: DbArg,
    /// MQTT client id of this worker: unique per worker, the same across its restarts.
    #[arg(long, default_value = "emma-desk-1")]
    worker: String,
    /// Seconds an agent's page may be gone before their handoffs return to the queue.
    #[arg(long, default_value_t = 60)]
    agent_idle: u64,
    /// Mark cookies `Secure` (when agents reach the page over HTTPS).
    #[arg(long)]
    secure_cookies: bool,
}

#[derive(Debug, Args)]
struct DbArg {
    /// SQLite file (default: desk.db in Emma's data directory) or `postgres://…` for several workers.
    #[arg(long)]
    database: Option<String>,
}

impl DbArg {
    fn url(&self) -> anyhow::Result<String> {
        match &self.database {
            Some(d) => Ok(d.clone()),
            None => {
                let home = crate::home::emma_home();
                std::fs::create_dir_all(&home)
                    .with_context(|| format!("cannot create {}", home.display()))?;
                Ok(home.join("desk.db").display().to_string())
            }
        }
    }
}

#[derive(Debug, Args)]
struct AgentArgs {
    #[command(subcommand)]
    command: AgentCommand,
}

#[derive(Debug, Subcommand)]
enum AgentCommand {
    /// Register an agent, or update one; the password is read from stdin (one line).
    Add(AgentAddArgs),
    /// List agents with their availability and load.
    List(AgentListArgs),
}

#[derive(Debug, Args)]
struct AgentAddArgs {
    /// Sign-in name.
    #[arg(long)]
    id: String,
    /// The brand the agent works for.
    #[arg(long)]
    brand: String,
    /// Display name, as customers may hear it.
    #[arg(long)]
    name: String,
    /// Languages spoken, comma-separated (`en,de,pt-BR`).
    #[arg(long, value_delimiter = ',', required = true)]
    languages: Vec<String>,
    /// Skills known, comma-separated (`*` for all).
    #[arg(long, value_delimiter = ',', default_value = "*")]
    skills: Vec<String>,
    /// Most open handoffs at once.
    #[arg(long, default_value_t = 3)]
    capacity: u32,
    #[command(flatten)]
    db: DbArg,
}

#[derive(Debug, Args)]
struct AgentListArgs {
    #[command(flatten)]
    db: DbArg,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct LogArgs {
    #[command(flatten)]
    db: DbArg,
    /// Most entries.
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

/// Runs `emma desk …`.
pub fn run(args: DeskArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        match args.command {
            None => serve(args.serve).await,
            Some(DeskCommand::Agent(a)) => match a.command {
                AgentCommand::Add(a) => agent_add(a).await,
                AgentCommand::List(a) => agent_list(a).await,
            },
            Some(DeskCommand::Log(a)) => log(a).await,
        }
    })
}

async fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let Some(broker) = a.broker else {
        bail!("--broker mqtt://HOST[:PORT] is needed to serve the desk");
    };
    let mut config = DeskConfig::new(broker, a.db.url()?, a.worker);
    config.agent_idle = Duration::from_secs(a.agent_idle.max(5));
    let (desk, _tasks) = Desk::start(config).await?;
    let agents = desk.store().agents(None).await?;
    if agents.is_empty() {
        eprintln!(
            "emma desk: no agents yet; add one with `emma desk agent add …` (handoffs for unknown brands are refused)"
        );
    }
    println!(
        "emma desk: agents' page on http://{} ({} store, {} agents)",
        a.listen,
        desk.store().backend(),
        agents.len()
    );
    tokio::select! {
        r = emma_desk::web::serve(desk, a.listen, a.secure_cookies) => r?,
        _ = tokio::signal::ctrl_c() => println!("emma desk: stopped"),
    }
    Ok(())
}

async fn agent_add(a: AgentAddArgs) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password for {}: ", a.id);
    }
    let mut password = String::new();
    stdin
        .lock()
        .read_line(&mut password)
        .context("cannot read the password from stdin")?;
    let password = password.trim_end_matches(['\r', '\n']).to_owned();
    let store = Store::open(&a.db.url()?).await?;
    let agent = emma_desk::register_agent(
        &store,
        NewAgent {
            id: a.id,
            brand: a.brand,
            name: a.name,
            languages: a.languages,
            skills: a.skills,
            capacity: a.capacity,
            password,
        },
    )
    .await?;
    println!(
        "agent {} ({}) saved for brand {}",
        agent.id, agent.name, agent.brand
    );
    Ok(())
}

async fn agent_list(a: AgentListArgs) -> anyhow::Result<()> {
    let store = Store::open(&a.db.url()?).await?;
    let agents = store.agents(None).await?;
    if a.json {
        let list: Vec<_> = agents
            .iter()
            .map(|g| {
                serde_json::json!({
                    "id": g.id, "brand": g.brand, "name": g.name, "languages": g.languages,
                    "skills": g.skills, "capacity": g.capacity, "available": g.available, "load": g.load,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    if agents.is_empty() {
        println!("no agents");
    }
    for g in agents {
        println!(
            "{:<16} {:<16} {:<20} languages {:<10} skills {:<20} {} {}/{}",
            g.id,
            g.brand,
            g.name,
            g.languages.join(","),
            g.skills.join(","),
            if g.available {
                "available"
            } else {
                "away     "
            },
            g.load,
            g.capacity
        );
    }
    Ok(())
}

async fn log(a: LogArgs) -> anyhow::Result<()> {
    let store = Store::open(&a.db.url()?).await?;
    let entries = store.audit_log(None, a.limit).await?;
    if a.json {
        let list: Vec<_> = entries
            .iter()
            .map(|e| {
                serde_json::json!({
                    "at_ms": e.at_ms, "actor": e.actor, "action": e.action,
                    "handoff": e.handoff, "detail": e.detail,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    for e in entries {
        println!(
            "{} {:<12} {:<14} {:<20} {}",
            e.at_ms,
            e.actor,
            e.action,
            e.handoff,
            emma_untrusted::line(&e.detail, 200)
        );
    }
    Ok(())
}
