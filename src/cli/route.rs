//! `pbx route` (how a number is detected, formatted and routed) and `pbx plan`
//! (setting and showing a tenant's dialplan).

use actors::store::StoreAt;
use std::path::{Path, PathBuf};

use actors::store::{Store, Tenant};
use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use clap::{Args, Subcommand};
use dialplan::TenantPlan;

use super::CliError;

#[derive(Debug, Args)]
pub struct RouteArgs {
    /// The tenant, by name or any of its domains.
    #[arg(long)]
    tenant: String,
    /// The caller: an extension of the tenant, or an external number (then the call
    /// is treated as coming in over a trunk).
    #[arg(long)]
    from: String,
    /// The number dialled.
    #[arg(long)]
    to: String,
    /// When the call happens (RFC 3339); default: now, in the tenant's time zone.
    #[arg(long)]
    at: Option<String>,
    /// Print the explanation as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum PlanCmd {
    /// Replace a tenant's dialplan with a JSON file (validated first).
    Set {
        #[arg(long)]
        tenant: String,
        file: PathBuf,
    },
    /// Print a tenant's dialplan as JSON.
    Show {
        #[arg(long)]
        tenant: String,
    },
}

/// The tenant's dialplan with every stored line present as an extension (the very
/// plan the running switch routes on).
pub fn load_plan(store: &Store, tenant: &Tenant) -> Result<TenantPlan, CliError> {
    store.tenant_plan(tenant.id)?.ok_or_else(|| {
        CliError::Usage(format!(
            "tenant {:?} has no dialplan yet; set one with `pbx plan set --tenant {} FILE.json`",
            tenant.name, tenant.name
        ))
    })
}

fn parse_at(at: Option<&str>, plan: &TenantPlan) -> Result<DateTime<FixedOffset>, CliError> {
    match at {
        Some(s) => DateTime::parse_from_rfc3339(s).map_err(|e| {
            CliError::Usage(format!(
                "--at {s:?} is not an RFC 3339 time ({e}), e.g. 2026-11-23T18:30:00+01:00"
            ))
        }),
        None => {
            let tz: chrono_tz::Tz = plan.time_zone.parse().map_err(|_| {
                CliError::Failed(format!(
                    "unknown time zone {:?} in the dialplan",
                    plan.time_zone
                ))
            })?;
            let now = tz.from_utc_datetime(&Utc::now().naive_utc());
            Ok(now.fixed_offset())
        }
    }
}

pub fn route(at: &StoreAt, args: RouteArgs) -> Result<(), CliError> {
    let store = Store::open_at(at)?;
    let tenant = store.tenant(&args.tenant)?;
    let text = explain(
        &store,
        &tenant,
        (&args.from, &args.to),
        args.at.as_deref(),
        args.json,
    )?;
    super::print_out(&text);
    Ok(())
}

/// What happens to a call from `from` to `to` at `at` (now when `None`) as `pbx
/// route` tells it (text, or JSON with `json`): the plan's decision, and what the
/// lines it rings do on their own (forwarding, do not disturb). The web admin's
/// preview says the same.
pub fn explain(
    store: &Store,
    tenant: &actors::store::Tenant,
    (from, to): (&str, &str),
    at: Option<&str>,
    json: bool,
) -> Result<String, CliError> {
    let plan = load_plan(store, tenant)?;
    let router = dialplan::Router::new(&plan).map_err(|e| CliError::Usage(e.to_string()))?;
    explain_on(store, tenant, (&plan, &router), (from, to), (at, json))
}

/// `explain` on the tenant's plan compiled already (the web admin keeps it while
/// the plan is unchanged).
pub fn explain_on(
    store: &Store,
    tenant: &actors::store::Tenant,
    (plan, router): (&TenantPlan, &dialplan::Router),
    (from, to): (&str, &str),
    (at, json): (Option<&str>, bool),
) -> Result<String, CliError> {
    let at = parse_at(at, plan)?;
    let explanation = dialplan::explain_on(plan, router, (from, to), at)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    // The lines the decision rings may forward or refuse on their own (`pbx line
    // set`, feature codes): a real call follows that too.
    let mut features = serde_json::Map::new();
    let mut notes = Vec::new();
    // What the callees see of the caller (a per-call code is in the decision).
    if store.line(tenant.id, from)?.is_some() {
        let f = store.line_features(tenant.id, from)?;
        if f.anonymous {
            notes.push(format!("caller {from}: anonymous (caller ID withheld)"));
        } else if let (Some(n), None) = (&f.caller_id, &explanation.decision.caller_id) {
            notes.push(format!("caller {from}: shows {n} as the caller"));
        }
    }
    for target in &explanation.decision.targets {
        let dialplan::Target::Extension { number, .. } = target else {
            continue;
        };
        let f = store.line_features(tenant.id, number)?;
        if f == actors::store::LineFeatures::default() {
            continue;
        }
        let mut says = Vec::new();
        if let Some(admin) = &f.admin_forward {
            says.push(format!("the administrator forwards every call to {admin}"));
        }
        if f.dnd {
            says.push("do not disturb (busy)".to_owned());
        }
        let fw = f.forwards(actors::store::CallerKind::Internal);
        for (when, to) in [
            ("always", &fw.always),
            ("when busy", &fw.busy),
            ("when offline", &fw.unregistered),
            ("on no answer", &fw.no_answer),
        ] {
            if let Some(to) = to {
                says.push(format!("forwards {when} to {to}"));
            }
        }
        notes.push(format!("line {number}: {}", says.join(", ")));
        features.insert(
            number.clone(),
            serde_json::json!({
                "dnd": f.dnd, "always": fw.always, "busy": fw.busy,
                "unregistered": fw.unregistered, "no_answer": fw.no_answer,
                "no_answer_secs": f.no_answer_secs, "admin_forward": f.admin_forward,
            }),
        );
    }
    if json {
        let mut value =
            serde_json::to_value(&explanation).map_err(|e| CliError::Failed(e.to_string()))?;
        if let Some(obj) = value.as_object_mut() {
            obj.insert("line_features".into(), features.into());
        }
        serde_json::to_string_pretty(&value).map_err(|e| CliError::Failed(e.to_string()))
    } else {
        let mut text = explanation.to_string();
        for n in notes {
            text.push_str(&format!("\nnote: {n}"));
        }
        Ok(text)
    }
}

pub fn plan(at: &StoreAt, files: &Path, cmd: PlanCmd) -> Result<(), CliError> {
    let mut store = Store::open_at(at)?;
    match cmd {
        PlanCmd::Set { tenant, file } => {
            let t = store.tenant(&tenant)?;
            let text = std::fs::read_to_string(&file)
                .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))?;
            store.set_plan(&t, &text, files).map_err(|e| match e {
                actors::Error::Invalid(why) => {
                    CliError::Usage(format!("{}: {why}", file.display()))
                }
                other => other.into(),
            })?;
            println!("dialplan of tenant {} set", t.name);
        }
        PlanCmd::Show { tenant } => {
            let t = store.tenant(&tenant)?;
            let plan = load_plan(&store, &t)?;
            let text =
                serde_json::to_string_pretty(&plan).map_err(|e| CliError::Failed(e.to_string()))?;
            super::print_out(&text);
        }
    }
    Ok(())
}
