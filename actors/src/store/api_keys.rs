//! API keys: `pbx_<id>_<secret>`. The secret is 128 random bits shown once when the
//! key is made; only its SHA-256 is kept, and a presented key is checked by its id's
//! row with a constant-time comparison. A key's scope: the switch operator (tenants,
//! no tenant's data), a tenant's administrator (its whole configuration), or a user
//! (one line's own settings and calls).

use super::db::{params, OptionalExtension};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{Store, TenantId};
use crate::{Error, Result};

/// What a key may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiScope {
    Operator,
    Admin { tenant: TenantId },
    User { tenant: TenantId, line: String },
}

impl ApiScope {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Admin { .. } => "admin",
            Self::User { .. } => "user",
        }
    }

    /// The tenant it is confined to (none: the operator).
    pub fn tenant(&self) -> Option<TenantId> {
        match self {
            Self::Operator => None,
            Self::Admin { tenant } | Self::User { tenant, .. } => Some(*tenant),
        }
    }
}

/// A key as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    pub scope: ApiScope,
    /// Unix milliseconds.
    pub created_at: u64,
}

pub(super) fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Equal bytes, in a time that does not depend on where they differ.
pub(super) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn scope_of(scope: &str, tenant: Option<TenantId>, line: Option<String>) -> Option<ApiScope> {
    match (scope, tenant, line) {
        ("operator", None, None) => Some(ApiScope::Operator),
        ("admin", Some(tenant), None) => Some(ApiScope::Admin { tenant }),
        ("user", Some(tenant), Some(line)) => Some(ApiScope::User { tenant, line }),
        _ => None,
    }
}

impl Store {
    /// Makes a key of `scope` named `name`; returns it (the only time its secret is
    /// seen) and its id.
    pub fn add_api_key(&self, scope: &ApiScope, name: &str, now: u64) -> Result<(i64, String)> {
        if name.trim().is_empty() {
            return Err(Error::Invalid("an API key needs a name".into()));
        }
        if let ApiScope::User { tenant, line } = scope {
            if self.line(*tenant, line)?.is_none() {
                return Err(Error::Invalid(format!("no line {line} in this tenant")));
            }
        }
        let mut bytes = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut bytes);
        let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let line = match scope {
            ApiScope::User { line, .. } => Some(line.as_str()),
            _ => None,
        };
        let id: i64 = self
            .conn
            .prepare_cached(
                "INSERT INTO api_keys (tenant_id, scope, line, name, secret_sha256, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
            )?
            .query_row(
                params![
                    scope.tenant(),
                    scope.name(),
                    line,
                    name.trim(),
                    digest(&secret),
                    now as i64
                ],
                |r| r.get(0),
            )?;
        Ok((id, format!("pbx_{id}_{secret}")))
    }

    /// The scope of a presented key, or `None` for any key that is not one.
    pub fn check_api_key(&self, key: &str) -> Result<Option<ApiScope>> {
        let Some((id, secret)) = key
            .strip_prefix("pbx_")
            .and_then(|rest| rest.split_once('_'))
            .and_then(|(id, secret)| Some((id.parse::<i64>().ok()?, secret)))
        else {
            return Ok(None);
        };
        let row = self
            .conn
            .prepare_cached(
                "SELECT scope, tenant_id, line, secret_sha256 FROM api_keys WHERE id = ?1",
            )?
            .query_row(params![id], |r| {
                Ok((
                    r.get::<String>(0)?,
                    r.get::<Option<TenantId>>(1)?,
                    r.get::<Option<String>>(2)?,
                    r.get::<String>(3)?,
                ))
            })
            .optional()?;
        // A missing row costs the same comparison as a wrong secret.
        let (scope, tenant, line, stored) =
            row.unwrap_or_else(|| (String::new(), None, None, "0".repeat(64)));
        if !same(digest(secret).as_bytes(), stored.as_bytes()) {
            return Ok(None);
        }
        Ok(scope_of(&scope, tenant, line))
    }

    /// The keys of `tenant` (or the operator's, with `None`), oldest first.
    pub fn api_keys(&self, tenant: Option<TenantId>) -> Result<Vec<ApiKey>> {
        let rows = self
            .conn
            .prepare_cached(
                "SELECT id, name, scope, tenant_id, line, created_at FROM api_keys
                 WHERE tenant_id IS ?1 ORDER BY id",
            )?
            .query_map(params![tenant], |r| {
                Ok((
                    r.get::<i64>(0)?,
                    r.get::<String>(1)?,
                    r.get::<String>(2)?,
                    r.get::<Option<TenantId>>(3)?,
                    r.get::<Option<String>>(4)?,
                    r.get::<i64>(5)?,
                ))
            })?
            .collect::<Result<Vec<_>>>()?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, name, scope, tenant, line, at)| {
                Some(ApiKey {
                    id,
                    name,
                    scope: scope_of(&scope, tenant, line)?,
                    created_at: at as u64,
                })
            })
            .collect())
    }

    /// Removes key `id` of `tenant` (the operator's with `None`); false when there is
    /// none.
    pub fn remove_api_key(&self, tenant: Option<TenantId>, id: i64) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("DELETE FROM api_keys WHERE id = ?1 AND tenant_id IS ?2")?
            .execute(params![id, tenant])?
            > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_check_by_secret_and_keep_their_scope() {
        let mut store = Store::in_memory().unwrap();
        let t = store.add_tenant("acme", &["acme.test".into()]).unwrap();
        let (id, key) = store
            .add_api_key(&ApiScope::Admin { tenant: t.id }, "web admin", 1)
            .unwrap();
        assert!(key.starts_with(&format!("pbx_{id}_")));
        assert_eq!(
            store.check_api_key(&key).unwrap(),
            Some(ApiScope::Admin { tenant: t.id })
        );
        // Wrong secret, another id, garbage: no key.
        let wrong = format!("{}0", &key[..key.len() - 1]);
        let wrong = if wrong == key {
            format!("{}1", &key[..key.len() - 1])
        } else {
            wrong
        };
        assert_eq!(store.check_api_key(&wrong).unwrap(), None);
        assert_eq!(
            store
                .check_api_key(&key.replacen(&format!("pbx_{id}"), "pbx_99", 1))
                .unwrap(),
            None
        );
        assert_eq!(store.check_api_key("Bearer nonsense").unwrap(), None);
        // A user key needs a line of the tenant.
        assert!(store
            .add_api_key(
                &ApiScope::User {
                    tenant: t.id,
                    line: "100".into()
                },
                "softphone",
                1
            )
            .is_err());
        let (op, _) = store.add_api_key(&ApiScope::Operator, "ops", 1).unwrap();
        assert_eq!(store.api_keys(Some(t.id)).unwrap().len(), 1);
        assert_eq!(store.api_keys(None).unwrap()[0].id, op);
        assert!(
            !store.remove_api_key(Some(t.id), op).unwrap(),
            "not the tenant's"
        );
        assert!(store.remove_api_key(Some(t.id), id).unwrap());
        assert_eq!(store.check_api_key(&key).unwrap(), None);
    }
}
