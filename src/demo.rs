//! The demo tenant a fresh data directory starts with.

use actors::store::{NewLine, Store};

pub const DEMO_TENANT: &str = "demo";
pub const DEMO_DOMAINS: &[&str] = &["127.0.0.1", "localhost"];

/// Whether `pbx serve` may make the demo tenant (its passwords are published): only
/// when every listening address is loopback, or when asked for with `--demo`.
pub fn wanted(sip_addrs: &[std::net::SocketAddr], asked: bool) -> bool {
    asked || sip_addrs.iter().all(|a| a.ip().is_loopback())
}

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
    // The web admin's sign-ins (`/web/`), published like the lines' passwords.
    let now = actors::clock::unix_millis();
    for (login, role, password) in [
        (
            "operator",
            actors::store::WebRole::Operator,
            "operator-demo",
        ),
        (
            "admin",
            actors::store::WebRole::Admin { tenant: tenant.id },
            "admin-demo",
        ),
    ] {
        let hash = crate::web::hash_password_now(password);
        store.add_web_account(login, &role, &hash, "en", now)?;
    }
    Ok(Some(format!(
        "created demo tenant {DEMO_TENANT:?} (domains {}) with extensions 100-109, passwords secret100..secret109; web sign-ins admin/admin-demo and operator/operator-demo",
        DEMO_DOMAINS.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_is_made_on_loopback_only_unless_asked() {
        let lo: std::net::SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let v6: std::net::SocketAddr = "[::1]:5060".parse().unwrap();
        let any: std::net::SocketAddr = "0.0.0.0:5060".parse().unwrap();
        let public: std::net::SocketAddr = "203.0.113.5:5060".parse().unwrap();
        assert!(wanted(&[lo, v6], false));
        assert!(!wanted(&[lo, any], false));
        assert!(!wanted(&[public], false));
        assert!(wanted(&[public], true));
    }
}
