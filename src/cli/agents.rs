//! `pbx agent`: who is logged in to the tenant's hunt groups and queues.

use std::path::Path;

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
    /// logged in or out.
    List {
        #[arg(long)]
        tenant: String,
    },
}

pub fn agent(dir: &Path, cmd: AgentCmd) -> Result<(), CliError> {
    let store = super::admin::open(dir)?;
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
                let state = if a.logged_in {
                    "logged in"
                } else {
                    "logged out"
                };
                println!("{}\t{}\t{}\t{state}", a.group, a.kind, a.ext);
            }
        }
    }
    Ok(())
}
