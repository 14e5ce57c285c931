//! Tenants and the domains that select them.

use super::db::{params, OptionalExtension};

use super::Store;
use crate::{Error, Result};

pub use crate::proto::TenantId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    /// The digest realm; fixed at creation so that stored hashes stay valid.
    pub realm: String,
    pub domains: Vec<String>,
}

/// A tenant's name: letters, digits, `-`, `_` and `.`, not only dots (it names the
/// tenant's folders under the data directory).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.bytes().all(|c| c == b'.')
        && name.len() <= 64
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c))
}

fn valid_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-.:[]".contains(&c))
}

impl Store {
    pub fn add_tenant(&mut self, name: &str, domains: &[String]) -> Result<Tenant> {
        if !valid_name(name) {
            return Err(Error::field(
                "name",
                format!("tenant name {name:?} must be 1-64 letters, digits, '-', '_' or '.'"),
            ));
        }
        if domains.is_empty() {
            return Err(Error::field(
                "domains",
                "a tenant needs at least one domain",
            ));
        }
        let tx = self.conn.transaction()?;
        if tx
            .query_row(
                "SELECT 1 FROM tenants WHERE name = ?1",
                params![name],
                |_| Ok(()),
            )
            .optional()?
            .is_some()
        {
            return Err(Error::field(
                "name",
                format!("tenant {name:?} exists already"),
            ));
        }
        let mut clean = Vec::with_capacity(domains.len());
        for d in domains {
            let d = d.trim().to_ascii_lowercase();
            if !valid_domain(&d) {
                return Err(Error::field(
                    "domains",
                    format!("{d:?} is not a valid domain"),
                ));
            }
            let owner: Option<String> = tx
                .query_row(
                    "SELECT t.name FROM tenant_domains d JOIN tenants t ON t.id = d.tenant_id WHERE d.domain = ?1",
                    params![&d],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(owner) = owner {
                return Err(Error::field(
                    "domains",
                    format!("domain {d:?} belongs to tenant {owner:?} already"),
                ));
            }
            if !clean.contains(&d) {
                clean.push(d);
            }
        }
        let id: TenantId = tx.query_row(
            "INSERT INTO tenants (name, realm, created_at) VALUES (?1, ?1, ?2) RETURNING id",
            params![name, crate::clock::unix_now() as i64],
            |r| r.get(0),
        )?;
        for d in &clean {
            tx.execute(
                "INSERT INTO tenant_domains (domain, tenant_id) VALUES (?1, ?2)",
                params![d, id],
            )?;
        }
        tx.commit()?;
        Ok(Tenant {
            id,
            name: name.to_owned(),
            realm: name.to_owned(),
            domains: clean,
        })
    }

    pub fn tenants(&self) -> Result<Vec<Tenant>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, name, realm FROM tenants ORDER BY name")?;
        let rows = stmt.query_map(params![], |r| {
            Ok(Tenant {
                id: r.get(0)?,
                name: r.get(1)?,
                realm: r.get(2)?,
                domains: Vec::new(),
            })
        })?;
        let mut out = Vec::new();
        for t in rows {
            let mut t = t?;
            t.domains = self.domains_of(t.id)?;
            out.push(t);
        }
        Ok(out)
    }

    fn domains_of(&self, id: TenantId) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT domain FROM tenant_domains WHERE tenant_id = ?1 ORDER BY domain",
        )?;
        let rows = stmt.query_map(params![id], |r| r.get(0))?;
        rows.collect::<Result<_>>()
    }

    /// Finds a tenant by its name or any of its domains.
    pub fn tenant(&self, name_or_domain: &str) -> Result<Tenant> {
        let found: Option<(TenantId, String, String)> = self
            .conn
            .query_row(
                "SELECT id, name, realm FROM tenants WHERE name = ?1
                 UNION SELECT t.id, t.name, t.realm FROM tenant_domains d JOIN tenants t ON t.id = d.tenant_id
                 WHERE d.domain = ?1 COLLATE NOCASE LIMIT 1",
                params![name_or_domain],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let (id, name, realm) =
            found.ok_or_else(|| Error::UnknownTenant(name_or_domain.to_owned()))?;
        Ok(Tenant {
            id,
            name,
            realm,
            domains: self.domains_of(id)?,
        })
    }

    pub fn dialplan_json(&self, tenant: TenantId) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT dialplan FROM tenants WHERE id = ?1",
                params![tenant],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    pub fn set_dialplan_json(&mut self, tenant: TenantId, json: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE tenants SET dialplan = ?2 WHERE id = ?1",
            params![tenant, json],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_and_domains() {
        let mut s = Store::in_memory().unwrap();
        let t = s
            .add_tenant("acme", &["Acme.Example".into(), "10.0.0.1".into()])
            .unwrap();
        assert_eq!(t.domains, vec!["acme.example", "10.0.0.1"]);
        assert_eq!(s.tenant("ACME.example").unwrap().id, t.id);
        assert_eq!(s.tenant("acme").unwrap().id, t.id);
        let e = s.add_tenant("other", &["acme.example".into()]).unwrap_err();
        assert!(e.to_string().contains("belongs to tenant \"acme\""), "{e}");
        assert!(s.add_tenant("acme", &["x.example".into()]).is_err());
        assert!(s.add_tenant("bad name", &["y".into()]).is_err());
        assert!(s.add_tenant("..", &["z".into()]).is_err());
        assert!(matches!(s.tenant("nope"), Err(Error::UnknownTenant(_))));
        // A failed add leaves nothing behind.
        assert_eq!(s.tenants().unwrap().len(), 1);
    }
}
