//! Administration commands on the data directory: tenants and users.

use std::path::Path;

use actors::store::{NewLine, Store};
use clap::Subcommand;

use super::CliError;

#[derive(Debug, Subcommand)]
pub enum TenantCmd {
    /// Add a tenant with the SIP domains that select it.
    Add {
        name: String,
        /// A domain (or IP address) whose requests belong to this tenant; repeatable.
        #[arg(long = "domain", required = true)]
        domains: Vec<String>,
    },
    /// List tenants with their domains and line counts.
    List,
}

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Add one extension.
    Add {
        #[arg(long)]
        tenant: String,
        /// The extension number (at least 2 digits).
        ext: String,
        #[arg(long)]
        password: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// Add a range of extensions; `{ext}` in the password is replaced by the number.
    AddRange {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        from: u64,
        #[arg(long)]
        to: u64,
        #[arg(long)]
        password: String,
    },
    /// List a tenant's extensions.
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Set a new password.
    Passwd {
        #[arg(long)]
        tenant: String,
        ext: String,
        #[arg(long)]
        password: String,
    },
}

fn open(dir: &Path) -> Result<Store, CliError> {
    Ok(Store::open(dir)?)
}

pub fn tenant(dir: &Path, cmd: TenantCmd) -> Result<(), CliError> {
    let mut store = open(dir)?;
    match cmd {
        TenantCmd::Add { name, domains } => {
            let t = store.add_tenant(&name, &domains)?;
            println!("added tenant {} (domains {})", t.name, t.domains.join(", "));
        }
        TenantCmd::List => {
            for t in store.tenants()? {
                let n = store.lines(t.id)?.len();
                println!("{}\tdomains={}\tlines={n}", t.name, t.domains.join(","));
            }
        }
    }
    Ok(())
}

pub fn user(dir: &Path, cmd: UserCmd) -> Result<(), CliError> {
    let mut store = open(dir)?;
    match cmd {
        UserCmd::Add {
            tenant,
            ext,
            password,
            name,
        } => {
            let t = store.tenant(&tenant)?;
            store.add_line(
                &t,
                &NewLine {
                    ext: ext.clone(),
                    display_name: name,
                    password,
                },
            )?;
            println!("added extension {ext} to tenant {}", t.name);
        }
        UserCmd::AddRange {
            tenant,
            from,
            to,
            password,
        } => {
            let t = store.tenant(&tenant)?;
            let n = store.add_line_range(&t, from, to, &password)?;
            println!("added {n} extensions ({from}-{to}) to tenant {}", t.name);
        }
        UserCmd::List { tenant } => {
            let t = store.tenant(&tenant)?;
            for l in store.lines(t.id)? {
                println!("{}\t{}", l.ext, l.display_name.unwrap_or_default());
            }
        }
        UserCmd::Passwd {
            tenant,
            ext,
            password,
        } => {
            let t = store.tenant(&tenant)?;
            store.set_password(&t, &ext, &password)?;
            println!("password of {ext} changed");
        }
    }
    Ok(())
}
