//! Registrations, so that they survive a restart.

use super::db::params;
use engine::registrar::{Binding, BindingChange};

use super::{Store, TenantId};
use crate::Result;

/// A binding from a row whose columns from `at` on are `contact, instance, q, call_id,
/// cseq, expires_at, flow, user_agent, account, path`.
fn binding_at(r: &super::db::Row<'_>, at: usize) -> Result<Binding> {
    Ok(Binding {
        contact: r.get(at)?,
        instance: r.get(at + 1)?,
        q: r.get(at + 2)?,
        call_id: r.get(at + 3)?,
        cseq: r.get(at + 4)?,
        expires_at: r.get::<i64>(at + 5)? as u64,
        flow: r.get(at + 6)?,
        user_agent: r.get(at + 7)?,
        account: r.get(at + 8)?,
        path: r.get(at + 9)?,
    })
}

impl Store {
    pub fn bindings(&self, tenant: TenantId, ext: &str) -> Result<Vec<Binding>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT contact, instance, q, call_id, cseq, expires_at, flow, user_agent, account, path
             FROM bindings WHERE tenant_id = ?1 AND ext = ?2 ORDER BY rowid",
        )?;
        let rows = stmt.query_map(params![tenant, ext], |r| binding_at(r, 0))?;
        rows.collect::<Result<_>>()
    }

    /// Applies a batch of changes in one transaction.
    pub fn apply_binding_changes(
        &mut self,
        batch: &[(TenantId, String, BindingChange)],
    ) -> Result<()> {
        let node = self.node.clone();
        let tx = self.conn.transaction()?;
        {
            let mut upsert = tx.prepare_cached(
                // A line removed while its actor still ran writes nothing (and the
                // batch with other lines' bindings is kept).
                "INSERT INTO bindings (tenant_id, ext, contact, instance, q, call_id, cseq, expires_at, flow, user_agent, account, path, node)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13
                 WHERE EXISTS (SELECT 1 FROM lines WHERE tenant_id = ?1 AND ext = ?2)
                 ON CONFLICT (tenant_id, ext, contact) DO UPDATE SET instance = excluded.instance, q = excluded.q,
                   call_id = excluded.call_id, cseq = excluded.cseq, expires_at = excluded.expires_at,
                   flow = excluded.flow, user_agent = excluded.user_agent, account = excluded.account,
                   path = excluded.path, node = excluded.node",
            )?;
            let mut remove = tx.prepare_cached(
                "DELETE FROM bindings WHERE tenant_id = ?1 AND ext = ?2 AND contact = ?3",
            )?;
            for (tenant, ext, change) in batch {
                match change {
                    BindingChange::Upsert(b) => {
                        upsert.execute(params![
                            tenant,
                            ext,
                            b.contact,
                            b.instance,
                            b.q,
                            b.call_id,
                            b.cseq,
                            b.expires_at as i64,
                            b.flow,
                            b.user_agent,
                            b.account,
                            b.path,
                            node
                        ])?;
                    }
                    BindingChange::Remove { contact } => {
                        remove.execute(params![tenant, ext, contact])?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Deletes bindings that ran out before `now_unix`; returns how many.
    pub fn purge_expired_bindings(&mut self, now_unix: u64) -> Result<usize> {
        self.conn.execute(
            "DELETE FROM bindings WHERE expires_at <= ?1",
            params![now_unix as i64],
        )
    }

    /// Every binding of a tenant, by extension (its lines start hibernating).
    pub fn tenant_bindings(
        &self,
        tenant: TenantId,
    ) -> Result<std::collections::HashMap<String, Vec<Binding>>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT ext, contact, instance, q, call_id, cseq, expires_at, flow, user_agent, account, path
             FROM bindings WHERE tenant_id = ?1 ORDER BY rowid",
        )?;
        let rows = stmt.query_map(params![tenant], |r| {
            Ok((r.get::<String>(0)?, binding_at(r, 1)?))
        })?;
        let mut out: std::collections::HashMap<String, Vec<Binding>> = Default::default();
        for row in rows {
            let (ext, b) = row?;
            out.entry(ext).or_default().push(b);
        }
        Ok(out)
    }

    /// Every line that has a live binding: these start hibernating at start.
    pub fn registered_lines(&self) -> Result<Vec<(TenantId, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT tenant_id, ext FROM bindings ORDER BY tenant_id, ext")?;
        let rows = stmt.query_map(params![], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewLine;

    #[test]
    fn bindings_round_trip_and_expire() {
        let mut s = Store::in_memory().unwrap();
        let t = s.add_tenant("demo", &["127.0.0.1".into()]).unwrap();
        s.add_line(
            &t,
            &NewLine {
                ext: "100".into(),
                display_name: None,
                password: "secret100".into(),
            },
        )
        .unwrap();
        let b = Binding {
            contact: "sip:100@127.0.0.1:5062".into(),
            instance: None,
            q: None,
            call_id: "c".into(),
            cseq: 2,
            expires_at: 1_000,
            flow: "udp:127.0.0.1:5062".into(),
            user_agent: Some("ua".into()),
            account: Some("100-desk".into()),
            path: Some("<sip:edge.test;lr>".into()),
        };
        s.apply_binding_changes(&[(t.id, "100".into(), BindingChange::Upsert(b.clone()))])
            .unwrap();
        let mut b2 = b.clone();
        b2.cseq = 3;
        b2.expires_at = 2_000;
        s.apply_binding_changes(&[(t.id, "100".into(), BindingChange::Upsert(b2.clone()))])
            .unwrap();
        assert_eq!(s.bindings(t.id, "100").unwrap(), vec![b2]);
        assert_eq!(
            s.registered_lines().unwrap(),
            vec![(t.id, "100".to_string())]
        );
        assert_eq!(s.purge_expired_bindings(1_999).unwrap(), 0);
        assert_eq!(s.purge_expired_bindings(2_000).unwrap(), 1);
        assert!(s.bindings(t.id, "100").unwrap().is_empty());
    }
}
