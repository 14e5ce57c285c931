//! `pbx api-key`: the keys of the HTTP control API. A key is printed once, when it is
//! made; the store keeps only a hash of its secret.

use actors::store::StoreAt;

use actors::store::ApiScope;
use clap::Subcommand;

use super::CliError;

#[derive(Debug, Subcommand)]
pub enum ApiKeyCmd {
    /// Make a key: the operator's (`--operator`: tenants and metrics), a tenant
    /// administrator's (`--tenant T`), or a user's (`--tenant T --line EXT`).
    Add {
        #[arg(long, conflicts_with = "tenant")]
        operator: bool,
        #[arg(long, required_unless_present = "operator")]
        tenant: Option<String>,
        /// A user's key: the line it may act for.
        #[arg(long, requires = "tenant")]
        line: Option<String>,
        /// What the key is for (a name to recognise it by).
        #[arg(long)]
        name: String,
    },
    /// The keys of a tenant (or the operator's): id, scope, name, when made.
    List {
        #[arg(long, conflicts_with = "tenant")]
        operator: bool,
        #[arg(long, required_unless_present = "operator")]
        tenant: Option<String>,
    },
    /// Remove a key by id; requests with it fail from then on.
    Remove {
        #[arg(long, conflicts_with = "tenant")]
        operator: bool,
        #[arg(long, required_unless_present = "operator")]
        tenant: Option<String>,
        id: i64,
    },
}

pub fn api_key(at: &StoreAt, cmd: ApiKeyCmd) -> Result<(), CliError> {
    let store = super::admin::open(at)?;
    let tenant_id = |t: &Option<String>| -> Result<Option<i64>, CliError> {
        match t {
            Some(t) => Ok(Some(store.tenant(t)?.id)),
            None => Ok(None),
        }
    };
    match cmd {
        ApiKeyCmd::Add {
            tenant, line, name, ..
        } => {
            let scope = match (tenant_id(&tenant)?, line) {
                (None, _) => ApiScope::Operator,
                (Some(tenant), None) => ApiScope::Admin { tenant },
                (Some(tenant), Some(line)) => ApiScope::User { tenant, line },
            };
            let (id, key) = store.add_api_key(&scope, &name, actors::clock::unix_millis())?;
            eprintln!(
                "API key {id} ({}) made; it is shown this once:",
                scope.name()
            );
            println!("{key}");
        }
        ApiKeyCmd::List { tenant, .. } => {
            for k in store.api_keys(tenant_id(&tenant)?)? {
                let scope = match &k.scope {
                    ApiScope::User { line, .. } => format!("user of line {line}"),
                    s => s.name().to_owned(),
                };
                let made = chrono::DateTime::from_timestamp_millis(k.created_at as i64)
                    .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default();
                println!("{}\t{scope}\t{}\t{made}", k.id, k.name);
            }
        }
        ApiKeyCmd::Remove { tenant, id, .. } => {
            if !store.remove_api_key(tenant_id(&tenant)?, id)? {
                return Err(CliError::Usage(format!(
                    "no API key {id} there (pbx api-key list)"
                )));
            }
            println!("API key {id} removed");
        }
    }
    Ok(())
}
