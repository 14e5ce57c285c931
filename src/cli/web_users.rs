//! `pbx web-user`: who signs in to the web admin (`http://<http-addr>/web/`): the
//! operator (`--operator`), a tenant's administrator (`--tenant T`) or a line's user
//! (`--tenant T --line EXT`). The password is hashed with argon2id; it is never kept.

use actors::store::StoreAt;

use actors::store::WebRole;
use clap::Subcommand;

use super::CliError;

#[derive(Debug, Subcommand)]
pub enum WebUserCmd {
    /// Add a sign-in.
    Add {
        #[arg(long, conflicts_with = "tenant")]
        operator: bool,
        #[arg(long, required_unless_present = "operator")]
        tenant: Option<String>,
        /// A user's sign-in: the line whose settings, voicemail and calls it reaches.
        #[arg(long, requires = "tenant")]
        line: Option<String>,
        #[arg(long)]
        login: String,
        /// At least 8 characters.
        #[arg(long)]
        password: String,
        /// en or de.
        #[arg(long, default_value = "en")]
        language: String,
    },
    /// The sign-ins of a tenant (or the operator's).
    List {
        #[arg(long, conflicts_with = "tenant")]
        operator: bool,
        #[arg(long, required_unless_present = "operator")]
        tenant: Option<String>,
    },
    /// Remove a sign-in; its sessions end.
    Remove { login: String },
}

pub fn web_user(at: &StoreAt, cmd: WebUserCmd) -> Result<(), CliError> {
    let mut store = super::admin::open(at)?;
    match cmd {
        WebUserCmd::Add {
            tenant,
            line,
            login,
            password,
            language,
            ..
        } => {
            if password.len() < 8 {
                return Err(CliError::Usage("--password: at least 8 characters".into()));
            }
            let role = match (tenant, line) {
                (None, _) => WebRole::Operator,
                (Some(t), None) => WebRole::Admin {
                    tenant: store.tenant(&t)?.id,
                },
                (Some(t), Some(line)) => WebRole::User {
                    tenant: store.tenant(&t)?.id,
                    line,
                },
            };
            let hash = crate::web::hash_password_now(&password);
            store.add_web_account(
                &login,
                &role,
                &hash,
                &language,
                actors::clock::unix_millis(),
            )?;
            println!("added web sign-in {login}");
        }
        WebUserCmd::List { tenant, .. } => {
            let id = tenant.map(|t| store.tenant(&t)).transpose()?.map(|t| t.id);
            for a in store.web_accounts(id)? {
                let role = match &a.role {
                    WebRole::Operator => "operator".to_owned(),
                    WebRole::Admin { .. } => "administrator".to_owned(),
                    WebRole::User { line, .. } => format!("user of line {line}"),
                };
                println!("{}\t{role}\t{}", a.login, a.language);
            }
        }
        WebUserCmd::Remove { login } => {
            if !store.remove_web_account(&login)? {
                return Err(CliError::Usage(format!("no web sign-in {login:?}")));
            }
            println!("removed web sign-in {login}");
        }
    }
    Ok(())
}
