//! The demo tenant a fresh data directory starts with.

use actors::store::{NewLine, Store};

pub const DEMO_TENANT: &str = "demo";
pub const DEMO_DOMAINS: &[&str] = &["127.0.0.1", "localhost"];

/// Creates the demo tenant when the store has no tenant at all; says what it made.
pub fn ensure(store: &mut Store) -> actors::Result<Option<String>> {
    if !store.tenants()?.is_empty() {
        return Ok(None);
    }
    let domains: Vec<String> = DEMO_DOMAINS.iter().map(|d| d.to_string()).collect();
    let tenant = store.add_tenant(DEMO_TENANT, &domains)?;
    let lines: Vec<NewLine> = (100..=109)
        .map(|n| NewLine {
            ext: n.to_string(),
            display_name: Some(format!("Demo {n}")),
            password: format!("secret{n}"),
        })
        .collect();
    store.add_lines(&tenant, &lines)?;
    let plan = serde_json::to_string(&dialplan::TenantPlan::demo())
        .map_err(|e| actors::Error::Invalid(e.to_string()))?;
    store.set_dialplan_json(tenant.id, &plan)?;
    Ok(Some(format!(
        "created demo tenant {DEMO_TENANT:?} (domains {}) with extensions 100-109, passwords secret100..secret109",
        DEMO_DOMAINS.join(", ")
    )))
}
