//! Journal retention: a tenant keeps its internal calls and its external ones (in or
//! out on a trunk) for so many days, each or both for ever. The switch deletes what is
//! older once a day (`purge_journal`, run at start and every 24 hours), the calls'
//! legs with them.

use super::db::{params, OptionalExtension};

use super::{Store, TenantId};
use crate::Result;

/// A day in milliseconds.
const DAY_MS: u64 = 86_400_000;

/// How long a tenant's journal keeps calls (`None`: for ever).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    pub internal_days: Option<u32>,
    pub external_days: Option<u32>,
}

impl std::fmt::Display for Retention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let days = |d: Option<u32>| d.map_or("for ever".to_owned(), |d| format!("{d} days"));
        write!(
            f,
            "internal calls kept {}, external calls kept {}",
            days(self.internal_days),
            days(self.external_days)
        )
    }
}

impl Store {
    pub fn journal_retention(&self, tenant: TenantId) -> Result<Retention> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT internal_days, external_days FROM journal_retention WHERE tenant_id = ?1",
            )?
            .query_row(params![tenant], |r| {
                Ok(Retention {
                    internal_days: r.get(0)?,
                    external_days: r.get(1)?,
                })
            })
            .optional()?
            .unwrap_or_default())
    }

    /// Sets how long the tenant's journal keeps calls.
    pub fn set_journal_retention(&self, tenant: TenantId, r: Retention) -> Result<()> {
        if r.internal_days == Some(0) || r.external_days == Some(0) {
            return Err(crate::Error::Invalid(
                "keep calls at least 1 day (or for ever: none)".into(),
            ));
        }
        self.conn
            .prepare_cached(
                "INSERT INTO journal_retention (tenant_id, internal_days, external_days)
                 VALUES (?1, ?2, ?3)
                 ON CONFLICT (tenant_id) DO UPDATE SET internal_days = ?2, external_days = ?3",
            )?
            .execute(params![tenant, r.internal_days, r.external_days])?;
        Ok(())
    }

    /// Deletes the calls every tenant's retention no longer keeps (finished calls
    /// started before its limit), with their legs; returns how many.
    pub fn purge_journal(&mut self, now: u64) -> Result<usize> {
        let rules: Vec<(TenantId, Option<u32>, Option<u32>)> = self
            .conn
            .prepare_cached(
                "SELECT tenant_id, internal_days, external_days FROM journal_retention",
            )?
            .query_map(params![], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_>>()?;
        let tx = self.conn.transaction()?;
        let mut gone = 0;
        for (tenant, internal, external) in rules {
            let before = |days: u32| now.saturating_sub(u64::from(days) * DAY_MS) as i64;
            if let Some(d) = internal {
                gone += tx.execute(
                    "DELETE FROM calls WHERE tenant_id = ?1 AND direction = 'internal'
                       AND state <> 'active' AND started_at < ?2",
                    params![tenant, before(d)],
                )?;
            }
            if let Some(d) = external {
                gone += tx.execute(
                    "DELETE FROM calls WHERE tenant_id = ?1 AND direction IN ('inbound', 'outbound')
                       AND state <> 'active' AND started_at < ?2",
                    params![tenant, before(d)],
                )?;
            }
        }
        tx.commit()?;
        Ok(gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{CallEvent, CallEventKind, CallId, Direction, Disposition, Side};

    fn call(s: &mut Store, tenant: TenantId, id: u64, at: u64, direction: Direction) {
        let ev = |kind| CallEvent::new(CallId(id), tenant, at, kind);
        s.record_call_events(&[
            ev(CallEventKind::CallStarted {
                from: "100".into(),
                to: "101".into(),
                direction,
                caller_line: Some("100".into()),
            }),
            ev(CallEventKind::CallEnded {
                disposition: Disposition::Answered,
                hangup_side: Side::Caller,
                code: 200,
                reason: "OK".into(),
            }),
        ])
        .unwrap();
    }

    #[test]
    fn old_calls_go_by_their_kind() {
        let mut s = Store::in_memory().unwrap();
        let t = s.add_tenant("acme", &["acme.test".into()]).unwrap().id;
        let now = 100 * DAY_MS;
        call(&mut s, t, 1, now - 40 * DAY_MS, Direction::Internal);
        call(&mut s, t, 2, now - 10 * DAY_MS, Direction::Internal);
        call(&mut s, t, 3, now - 40 * DAY_MS, Direction::Inbound);
        call(&mut s, t, 4, now - 100 * DAY_MS, Direction::Outbound);
        assert_eq!(s.purge_journal(now).unwrap(), 0, "kept for ever by default");
        assert!(s
            .set_journal_retention(
                t,
                Retention {
                    internal_days: Some(0),
                    external_days: None
                }
            )
            .is_err());
        s.set_journal_retention(
            t,
            Retention {
                internal_days: Some(30),
                external_days: Some(90),
            },
        )
        .unwrap();
        assert_eq!(s.purge_journal(now).unwrap(), 2);
        let left: Vec<u64> = s.calls(t, 10).unwrap().iter().map(|c| c.call.0).collect();
        assert_eq!(left, [2, 3]);
    }
}
