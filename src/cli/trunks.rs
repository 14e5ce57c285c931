//! `pbx trunk`: a tenant's SIP trunks (how the switch reaches its carriers) and the
//! status the running switch last saw of each. Routing names trunks in the plan
//! (`trunks`, `outbound`, `emergency`); this says where they are.

use actors::store::StoreAt;

use actors::store::{TrunkConfig, TrunkState};
use clap::Subcommand;

use super::CliError;

#[derive(Debug, Subcommand)]
pub enum TrunkCmd {
    /// Add a trunk, or change the one of that name. A running switch starts (or
    /// restarts) it within seconds.
    Add {
        #[arg(long)]
        tenant: String,
        /// The name the plan's routes and emergency settings use.
        name: String,
        /// The carrier's host (IP address or name).
        #[arg(long)]
        host: String,
        #[arg(long, default_value_t = 5060)]
        port: u16,
        /// udp, tcp or tls (tls needs the switch's --tls-cert and --tls-key).
        #[arg(long, default_value = "udp")]
        transport: String,
        /// Register with the carrier (a registration trunk); without it the trunk
        /// is a fixed-IP trunk kept alive with OPTIONS.
        #[arg(long)]
        register: bool,
        /// The account (registration, and the carrier's challenges to calls).
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        password: Option<String>,
        /// The carrier's SIP domain (default: the host).
        #[arg(long)]
        domain: Option<String>,
        /// Registration time to ask for, in seconds.
        #[arg(long, default_value_t = 3600)]
        expires: u32,
        /// Keep-alive interval in seconds (OPTIONS, or CRLF when registered).
        #[arg(long, default_value_t = 30)]
        keepalive: u32,
        /// Calls at once on the trunk (default: no cap).
        #[arg(long)]
        max_calls: Option<u32>,
    },
    /// The tenant's trunks: name, address, kind, status and why.
    List {
        #[arg(long)]
        tenant: String,
    },
    /// One trunk in full, with its status.
    Show {
        #[arg(long)]
        tenant: String,
        name: String,
    },
    /// Remove a trunk (a running switch stops it within seconds).
    Remove {
        #[arg(long)]
        tenant: String,
        name: String,
    },
}

fn when(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| ms.to_string())
}

fn status(state: Option<&TrunkState>) -> String {
    match state {
        Some(s) => format!("{} ({})", s.status, s.reason),
        None => "not started".into(),
    }
}

fn kind(t: &TrunkConfig) -> String {
    match t.register {
        true => format!(
            "registers as {}@{}",
            t.username.as_deref().unwrap_or(""),
            t.domain()
        ),
        false => "fixed IP".into(),
    }
}

pub fn trunk(at: &StoreAt, cmd: TrunkCmd) -> Result<(), CliError> {
    let store = super::admin::open(at)?;
    match cmd {
        TrunkCmd::Add {
            tenant,
            name,
            host,
            port,
            transport,
            register,
            user,
            password,
            domain,
            expires,
            keepalive,
            max_calls,
        } => {
            let t = store.tenant(&tenant)?;
            let config = TrunkConfig {
                name,
                host,
                port,
                transport,
                username: user,
                password,
                domain,
                register,
                expires,
                keepalive,
                max_calls,
            };
            store.set_trunk(t.id, &config)?;
            let used = store
                .tenant_plan(t.id)?
                .is_some_and(|p| p.trunks.iter().any(|x| x.name == config.name));
            println!(
                "trunk {} of tenant {tenant}: {}:{} ({}), {}",
                config.name,
                config.host,
                config.port,
                config.transport,
                kind(&config)
            );
            if !used {
                println!(
                    "note: the plan names no trunk {:?} yet (its `trunks` list, routes and emergency trunk)",
                    config.name
                );
            }
        }
        TrunkCmd::List { tenant } => {
            let t = store.tenant(&tenant)?;
            for c in store.trunks(t.id)? {
                let s = store.trunk_state(t.id, &c.name)?;
                println!(
                    "{}\t{}:{}\t{}\t{}",
                    c.name,
                    c.host,
                    c.port,
                    kind(&c),
                    status(s.as_ref())
                );
            }
        }
        TrunkCmd::Show { tenant, name } => {
            let t = store.tenant(&tenant)?;
            let Some(c) = store.trunks(t.id)?.into_iter().find(|c| c.name == name) else {
                return Err(CliError::Usage(format!(
                    "tenant {tenant} has no trunk {name:?} (pbx trunk list)"
                )));
            };
            let s = store.trunk_state(t.id, &name)?;
            println!("trunk:        {}", c.name);
            println!("address:      {}:{} ({})", c.host, c.port, c.transport);
            println!("kind:         {}", kind(&c));
            if c.register {
                println!("expires:      {} s asked", c.expires);
            }
            println!("keep-alive:   every {} s", c.keepalive);
            match c.max_calls {
                Some(n) => println!("max calls:    {n}"),
                None => println!("max calls:    no cap"),
            }
            println!("status:       {}", status(s.as_ref()));
            if let Some(s) = s {
                println!("as of:        {}", when(s.since));
                if c.register {
                    match s.registered_until {
                        Some(u) => println!("registered:   until {}", when(u)),
                        None => println!("registered:   no"),
                    }
                    println!("registrations: {}", s.registrations);
                }
            }
        }
        TrunkCmd::Remove { tenant, name } => {
            let t = store.tenant(&tenant)?;
            if !store.remove_trunk(t.id, &name)? {
                return Err(CliError::Usage(format!(
                    "tenant {tenant} has no trunk {name:?} (pbx trunk list)"
                )));
            }
            println!("trunk {name} of tenant {tenant} removed");
        }
    }
    Ok(())
}
