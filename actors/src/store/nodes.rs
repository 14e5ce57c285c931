//! The switch nodes that share this store, as what they wrote shows: their live
//! registrations and their recent calls (`bindings.node`, `calls.node`).

use super::db::params;
use super::Store;
use crate::Result;

/// One node as the store sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSeen {
    /// Its id (`--node-id`); `None` for what a node without an id wrote.
    pub node: Option<String>,
    /// Registrations it took that have not expired.
    pub live_bindings: u64,
    /// Calls it started since `since`.
    pub recent_calls: u64,
}

impl Store {
    /// Every node with a live registration (at `now_unix`) or a call started since
    /// `since_ms`, ordered by id.
    pub fn nodes_seen(&self, now_unix: u64, since_ms: u64) -> Result<Vec<NodeSeen>> {
        let mut stmt = self.conn.prepare(
            "SELECT node, SUM(b), SUM(c) FROM (
                 SELECT node, 1 AS b, 0 AS c FROM bindings WHERE expires_at > ?1
                 UNION ALL
                 SELECT node, 0, 1 FROM calls WHERE started_at >= ?2
             ) AS seen GROUP BY node ORDER BY node",
        )?;
        let rows = stmt.query_map(params![now_unix as i64, since_ms as i64], |r| {
            Ok(NodeSeen {
                node: r.get(0)?,
                live_bindings: r.get::<i64>(1)? as u64,
                recent_calls: r.get::<i64>(2)? as u64,
            })
        })?;
        rows.collect::<Result<_>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewLine;
    use engine::registrar::{Binding, BindingChange};

    #[test]
    fn nodes_are_seen_by_their_live_registrations_and_recent_calls() {
        let mut s = Store::in_memory().unwrap();
        let t = s.add_tenant("t", &["t.test".into()]).unwrap();
        for ext in ["100", "101"] {
            s.add_line(
                &t,
                &NewLine {
                    ext: ext.into(),
                    display_name: None,
                    password: "secret-pw".into(),
                },
            )
            .unwrap();
        }
        let binding = |contact: &str, expires_at| Binding {
            contact: contact.into(),
            instance: None,
            q: None,
            call_id: "c".into(),
            cseq: 1,
            expires_at,
            flow: "udp:127.0.0.1:5062".into(),
            user_agent: None,
            account: None,
            path: None,
        };
        s.set_node(Some("node-a".into())).unwrap();
        let live = BindingChange::Upsert(binding("sip:100@h", 2_000));
        s.apply_binding_changes(&[(t.id, "100".into(), live)])
            .unwrap();
        s.set_node(Some("node-b".into())).unwrap();
        let expired = BindingChange::Upsert(binding("sip:101@h", 500));
        s.apply_binding_changes(&[(t.id, "101".into(), expired)])
            .unwrap();
        let seen = s.nodes_seen(1_000, 0).unwrap();
        assert_eq!(
            seen,
            vec![NodeSeen {
                node: Some("node-a".into()),
                live_bindings: 1,
                recent_calls: 0,
            }]
        );
    }
}
