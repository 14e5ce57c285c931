//! Per-tenant quotas (SECURITY.md): how many calls a tenant and each of its lines may
//! have at once and start per second, so that one tenant's users (or one stolen
//! account) cannot take the switch's capacity and RTP ports from the others. A call
//! takes two RTP port pairs, so the tenant's call limit bounds its ports too.

use super::db::{params, OptionalExtension};

use super::{Store, TenantId};
use crate::Result;

/// A tenant's quotas; `None` is no limit of that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantLimits {
    pub max_calls: Option<u32>,
    pub max_cps: Option<u32>,
    pub line_max_calls: Option<u32>,
    pub line_max_cps: Option<u32>,
}

impl Default for TenantLimits {
    /// No tenant-wide limit until the administrator sets one; a line may be in 64
    /// calls at once and start 20 a second, more than any phone does.
    fn default() -> Self {
        TenantLimits {
            max_calls: None,
            max_cps: None,
            line_max_calls: Some(64),
            line_max_cps: Some(20),
        }
    }
}

/// A change to some limits: `Some(None)` removes a limit, `None` keeps it.
#[derive(Debug, Clone, Copy, Default)]
pub struct LimitsChange {
    pub max_calls: Option<Option<u32>>,
    pub max_cps: Option<Option<u32>>,
    pub line_max_calls: Option<Option<u32>>,
    pub line_max_cps: Option<Option<u32>>,
}

impl LimitsChange {
    pub fn is_empty(&self) -> bool {
        self.max_calls.is_none()
            && self.max_cps.is_none()
            && self.line_max_calls.is_none()
            && self.line_max_cps.is_none()
    }
}

impl std::fmt::Display for TenantLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = |x: Option<u32>| x.map_or("none".to_owned(), |n| n.to_string());
        write!(
            f,
            "max-calls={} max-cps={} line-max-calls={} line-max-cps={}",
            v(self.max_calls),
            v(self.max_cps),
            v(self.line_max_calls),
            v(self.line_max_cps)
        )
    }
}

impl Store {
    /// The tenant's limits (the defaults when none were ever set).
    pub fn tenant_limits(&self, tenant: TenantId) -> Result<TenantLimits> {
        Ok(self
            .conn
            .query_row(
                "SELECT max_calls, max_cps, line_max_calls, line_max_cps FROM tenant_limits WHERE tenant_id = ?1",
                params![tenant],
                |r| {
                    Ok(TenantLimits {
                        max_calls: r.get(0)?,
                        max_cps: r.get(1)?,
                        line_max_calls: r.get(2)?,
                        line_max_cps: r.get(3)?,
                    })
                },
            )
            .optional()?
            .unwrap_or_default())
    }

    /// Applies `change` and returns the limits now in force.
    pub fn set_tenant_limits(
        &mut self,
        tenant: TenantId,
        change: &LimitsChange,
    ) -> Result<TenantLimits> {
        let mut l = self.tenant_limits(tenant)?;
        let apply = |slot: &mut Option<u32>, c: Option<Option<u32>>| {
            if let Some(v) = c {
                *slot = v;
            }
        };
        apply(&mut l.max_calls, change.max_calls);
        apply(&mut l.max_cps, change.max_cps);
        apply(&mut l.line_max_calls, change.line_max_calls);
        apply(&mut l.line_max_cps, change.line_max_cps);
        self.conn.execute(
            "INSERT INTO tenant_limits (tenant_id, max_calls, max_cps, line_max_calls, line_max_cps)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (tenant_id) DO UPDATE SET max_calls = ?2, max_cps = ?3,
             line_max_calls = ?4, line_max_cps = ?5",
            params![
                tenant,
                l.max_calls,
                l.max_cps,
                l.line_max_calls,
                l.line_max_cps
            ],
        )?;
        Ok(l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_changes_and_removal() {
        let mut s = Store::in_memory().unwrap();
        let t = s.add_tenant("acme", &["acme.example".into()]).unwrap();
        assert_eq!(s.tenant_limits(t.id).unwrap(), TenantLimits::default());
        let l = s
            .set_tenant_limits(
                t.id,
                &LimitsChange {
                    max_calls: Some(Some(10)),
                    line_max_cps: Some(None),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(l.max_calls, Some(10));
        assert_eq!(l.line_max_cps, None);
        assert_eq!(l.line_max_calls, Some(64));
        assert_eq!(s.tenant_limits(t.id).unwrap(), l);
        assert_eq!(
            l.to_string(),
            "max-calls=10 max-cps=none line-max-calls=64 line-max-cps=none"
        );
    }
}
