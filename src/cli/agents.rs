//! `pbx agent`: who is logged in to the tenant's hunt groups and queues; `pbx queue
//! stats`: the queues' figures from the journal.

use actors::store::StoreAt;

use clap::Subcommand;

use super::CliError;

#[derive(Debug, Subcommand)]
pub enum AgentCmd {
    /// Log a member in to a hunt group or queue (every one it is a member of, without
    /// `--group`); a running switch offers it calls within two seconds.
    Login {
        #[arg(long)]
        tenant: String,
        ext: String,
        /// The group's or queue's number.
        #[arg(long)]
        group: Option<String>,
    },
    /// Log a member out (it gets no group or queue calls until it logs in again).
    Logout {
        #[arg(long)]
        tenant: String,
        ext: String,
        #[arg(long)]
        group: Option<String>,
    },
    /// Every member of the tenant's hunt groups and queues: group, kind, member,
    /// logged in or out, and for a queue's agent what it is doing (free, ringing,
    /// busy, wrap-up, paused) since when, as the running switch last said.
    List {
        #[arg(long)]
        tenant: String,
    },
}

pub fn agent(at: &StoreAt, cmd: AgentCmd) -> Result<(), CliError> {
    let store = super::admin::open(at)?;
    match cmd {
        AgentCmd::Login { tenant, ext, group } => {
            let t = store.tenant(&tenant)?;
            let groups = store.set_agent_login(t.id, &ext, group.as_deref(), true)?;
            println!("{ext} logged in to {}", groups.join(", "));
        }
        AgentCmd::Logout { tenant, ext, group } => {
            let t = store.tenant(&tenant)?;
            let groups = store.set_agent_login(t.id, &ext, group.as_deref(), false)?;
            println!("{ext} logged out of {}", groups.join(", "));
        }
        AgentCmd::List { tenant } => {
            let t = store.tenant(&tenant)?;
            for a in store.agent_logins(t.id)? {
                let login = if a.logged_in {
                    "logged in"
                } else {
                    "logged out"
                };
                match a.live {
                    Some((state, since)) => println!(
                        "{}\t{}\t{}\t{login}\t{state} since {}",
                        a.group,
                        a.kind,
                        a.ext,
                        since_text(since)
                    ),
                    None => println!("{}\t{}\t{}\t{login}", a.group, a.kind, a.ext),
                }
            }
        }
    }
    Ok(())
}

/// Unix milliseconds as a UTC date and time ("2026-11-30 14:03:27 UTC").
fn since_text(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| ms.to_string())
}

#[derive(Debug, Subcommand)]
pub enum QueueCmd {
    /// Figures of the tenant's queues over their finished calls: offered, answered,
    /// abandoned, sent on; waiting and talk time percentiles; the service level; and
    /// per agent the calls taken and talk time.
    Stats {
        #[arg(long)]
        tenant: String,
        /// One queue's number.
        #[arg(long)]
        queue: Option<String>,
        /// The service level counts answers within this many seconds.
        #[arg(long, default_value_t = 20)]
        service_secs: u32,
        #[arg(long)]
        json: bool,
    },
}

pub fn queue(at: &StoreAt, cmd: QueueCmd) -> Result<(), CliError> {
    let store = super::admin::open(at)?;
    let QueueCmd::Stats {
        tenant,
        queue,
        service_secs,
        json,
    } = cmd;
    let t = store.tenant(&tenant)?;
    let stats = store.queue_stats(t.id, queue.as_deref(), service_secs)?;
    let secs = |ms: u64| format!("{:.1}", ms as f64 / 1000.0);
    if json {
        let list: Vec<serde_json::Value> = stats
            .iter()
            .map(|q| {
                let p = |p: &actors::store::Percentiles| {
                    serde_json::json!({"p50": p.p50, "p90": p.p90, "p99": p.p99, "max": p.max})
                };
                serde_json::json!({
                    "queue": q.queue, "offered": q.offered, "answered": q.answered,
                    "abandoned": q.abandoned, "overflowed": q.overflowed,
                    "wait_ms": p(&q.wait_ms), "abandon_ms": p(&q.abandon_ms),
                    "talk_ms": p(&q.talk_ms), "service_secs": q.service_secs,
                    "service_level": q.service_level,
                    "agents": q.agents.iter().map(|a| serde_json::json!({
                        "agent": a.agent, "answered": a.answered, "talk_ms": a.talk_ms,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let text =
            serde_json::to_string_pretty(&list).map_err(|e| CliError::Failed(e.to_string()))?;
        super::print_out(&text);
        return Ok(());
    }
    for q in &stats {
        println!(
            "queue {}: offered {} answered {} abandoned {} sent on {}; service level {:.0} % within {} s",
            q.queue,
            q.offered,
            q.answered,
            q.abandoned,
            q.overflowed,
            q.service_level * 100.0,
            q.service_secs
        );
        println!(
            "  wait s p50 {} p90 {} p99 {} max {}; talk s p50 {} p90 {}",
            secs(q.wait_ms.p50),
            secs(q.wait_ms.p90),
            secs(q.wait_ms.p99),
            secs(q.wait_ms.max),
            secs(q.talk_ms.p50),
            secs(q.talk_ms.p90)
        );
        for a in &q.agents {
            println!(
                "  agent {}: answered {} talk {} s",
                a.agent,
                a.answered,
                secs(a.talk_ms)
            );
        }
    }
    Ok(())
}
