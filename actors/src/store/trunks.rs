//! SIP trunks: where a tenant's carriers are (host, port, transport), the account a
//! registration trunk registers with, its keep-alive interval and call cap; and the
//! state the switch last saw of each (`pbx trunk list|show` read it). The plan names
//! trunks for routing (`dialplan::route::outbound::Trunk`: the number format); this
//! table says how to reach them. A running switch picks up changes within seconds.

use super::db::{params, OptionalExtension, Row};

use super::{Store, TenantId};
use crate::{Error, Result};

/// How to reach one trunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkConfig {
    pub name: String,
    /// The carrier's host (an IP address or a name resolved when the trunk starts).
    pub host: String,
    pub port: u16,
    /// "udp", "tcp" or "tls".
    pub transport: String,
    /// The account (registration trunks, and the carrier's challenges to INVITEs).
    pub username: Option<String>,
    pub password: Option<String>,
    /// The carrier's SIP domain (From, To and the REGISTER's Request-URI); the host
    /// when not set.
    pub domain: Option<String>,
    /// The switch registers with the carrier (else: a fixed-IP trunk kept alive by
    /// OPTIONS).
    pub register: bool,
    /// Registration time asked for, in seconds.
    pub expires: u32,
    /// Keep-alive interval in seconds (OPTIONS; CRLF for registration trunks).
    pub keepalive: u32,
    /// Calls at once on this trunk (none: no cap).
    pub max_calls: Option<u32>,
}

impl TrunkConfig {
    /// The carrier's domain: `domain`, else the host.
    pub fn domain(&self) -> &str {
        self.domain.as_deref().unwrap_or(&self.host)
    }
}

/// What the switch last saw of a trunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkState {
    pub name: String,
    /// "up", "down" or "starting".
    pub status: String,
    pub reason: String,
    /// Unix milliseconds of the last change of status.
    pub since: u64,
    /// Registration trunks: unix milliseconds the registration runs until.
    pub registered_until: Option<u64>,
    /// Registrations the carrier accepted since the switch started.
    pub registrations: u32,
}

fn check(t: &TrunkConfig) -> Result<()> {
    let bad = |why: String| Err(Error::Invalid(why));
    let name_ok = !t.name.is_empty()
        && t.name.len() <= 64
        && t.name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !name_ok {
        return bad(format!(
            "trunk name {:?}: letters, digits, '-', '_' and '.' only",
            t.name
        ));
    }
    if t.host.is_empty() || t.host.contains(|c: char| c.is_whitespace() || c == '@') {
        return bad(format!(
            "trunk host {:?} is not a host name or address",
            t.host
        ));
    }
    if t.port == 0 {
        return bad("trunk port 0".into());
    }
    if !["udp", "tcp", "tls"].contains(&t.transport.as_str()) {
        return bad(format!("transport {:?}: udp, tcp or tls", t.transport));
    }
    if t.register && (t.username.is_none() || t.password.is_none()) {
        return bad("a registration trunk needs --user and --password".into());
    }
    if t.register && !(60..=86_400).contains(&t.expires) {
        return bad(format!("expires {}: 60 to 86400 seconds", t.expires));
    }
    if !(1..=3_600).contains(&t.keepalive) {
        return bad(format!("keepalive {}: 1 to 3600 seconds", t.keepalive));
    }
    if t.max_calls == Some(0) {
        return bad("max calls 0 would refuse every call: leave it out for no cap".into());
    }
    Ok(())
}

/// A trunk from a row of `COLUMNS`.
fn config(r: &Row<'_>) -> Result<TrunkConfig> {
    Ok(TrunkConfig {
        name: r.get(0)?,
        host: r.get(1)?,
        port: r.get(2)?,
        transport: r.get(3)?,
        username: r.get(4)?,
        password: r.get(5)?,
        domain: r.get(6)?,
        register: r.get(7)?,
        expires: r.get(8)?,
        keepalive: r.get(9)?,
        max_calls: r.get(10)?,
    })
}

const COLUMNS: &str =
    "name, host, port, transport, username, password, domain, register, expires, keepalive, max_calls";

impl Store {
    /// Adds trunk `t` to `tenant`, or changes the one of that name.
    pub fn set_trunk(&self, tenant: TenantId, t: &TrunkConfig) -> Result<()> {
        check(t)?;
        self.conn
            .prepare_cached(
                "INSERT INTO trunks (tenant_id, name, host, port, transport, username, password,
                   domain, register, expires, keepalive, max_calls)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT (tenant_id, name) DO UPDATE SET host = ?3, port = ?4,
                   transport = ?5, username = ?6, password = ?7, domain = ?8, register = ?9,
                   expires = ?10, keepalive = ?11, max_calls = ?12",
            )?
            .execute(params![
                tenant,
                t.name,
                t.host,
                t.port,
                t.transport,
                t.username,
                t.password,
                t.domain,
                t.register,
                t.expires,
                t.keepalive,
                t.max_calls
            ])?;
        Ok(())
    }

    /// Removes trunk `name`; false when the tenant has none of that name.
    pub fn remove_trunk(&self, tenant: TenantId, name: &str) -> Result<bool> {
        self.conn
            .prepare_cached("DELETE FROM trunk_states WHERE tenant_id = ?1 AND name = ?2")?
            .execute(params![tenant, name])?;
        Ok(self
            .conn
            .prepare_cached("DELETE FROM trunks WHERE tenant_id = ?1 AND name = ?2")?
            .execute(params![tenant, name])?
            > 0)
    }

    /// The tenant's trunks by name.
    pub fn trunks(&self, tenant: TenantId) -> Result<Vec<TrunkConfig>> {
        let sql = format!("SELECT {COLUMNS} FROM trunks WHERE tenant_id = ?1 ORDER BY name");
        let rows = self
            .conn
            .prepare_cached(&sql)?
            .query_map(params![tenant], config)?
            .collect::<Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Keeps the state the switch sees of trunk `name` now.
    pub fn set_trunk_state(&self, tenant: TenantId, s: &TrunkState) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO trunk_states (tenant_id, name, status, reason, since,
                   registered_until, registrations)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (tenant_id, name) DO UPDATE SET status = ?3, reason = ?4,
                   since = ?5, registered_until = ?6, registrations = ?7",
            )?
            .execute(params![
                tenant,
                s.name,
                s.status,
                s.reason,
                s.since as i64,
                s.registered_until.map(|u| u as i64),
                s.registrations
            ])?;
        Ok(())
    }

    /// The state the switch last saw of trunk `name`, if it ran.
    pub fn trunk_state(&self, tenant: TenantId, name: &str) -> Result<Option<TrunkState>> {
        self.conn
            .prepare_cached(
                "SELECT name, status, reason, since, registered_until, registrations
                 FROM trunk_states WHERE tenant_id = ?1 AND name = ?2",
            )?
            .query_row(params![tenant, name], |r| {
                Ok(TrunkState {
                    name: r.get(0)?,
                    status: r.get(1)?,
                    reason: r.get(2)?,
                    since: r.get::<i64>(3)? as u64,
                    registered_until: r.get::<Option<i64>>(4)?.map(|u| u as u64),
                    registrations: r.get(5)?,
                })
            })
            .optional()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trunk(name: &str) -> TrunkConfig {
        TrunkConfig {
            name: name.into(),
            host: "127.0.0.1".into(),
            port: 5070,
            transport: "udp".into(),
            username: None,
            password: None,
            domain: None,
            register: false,
            expires: 3600,
            keepalive: 30,
            max_calls: None,
        }
    }

    #[test]
    fn trunks_are_kept_checked_and_removed() {
        let mut store = Store::in_memory().unwrap();
        let t = store.add_tenant("acme", &["acme.test".into()]).unwrap().id;
        store.set_trunk(t, &trunk("carrier")).unwrap();
        let mut reg = trunk("provider");
        reg.register = true;
        assert!(store.set_trunk(t, &reg).is_err(), "no account");
        reg.username = Some("acme".into());
        reg.password = Some("secret".into());
        store.set_trunk(t, &reg).unwrap();
        let mut bad = trunk("bad name");
        assert!(store.set_trunk(t, &bad).is_err());
        bad.name = "sctp".into();
        bad.transport = "sctp".into();
        assert!(store.set_trunk(t, &bad).is_err());
        let names: Vec<String> = store
            .trunks(t)
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, ["carrier", "provider"]);
        // A change keeps one row.
        reg.port = 5080;
        store.set_trunk(t, &reg).unwrap();
        assert_eq!(store.trunks(t).unwrap().len(), 2);
        let state = TrunkState {
            name: "provider".into(),
            status: "up".into(),
            reason: "registered".into(),
            since: 1,
            registered_until: Some(2),
            registrations: 1,
        };
        store.set_trunk_state(t, &state).unwrap();
        assert_eq!(store.trunk_state(t, "provider").unwrap(), Some(state));
        assert!(store.remove_trunk(t, "provider").unwrap());
        assert!(!store.remove_trunk(t, "provider").unwrap());
        assert_eq!(store.trunk_state(t, "provider").unwrap(), None);
    }
}
