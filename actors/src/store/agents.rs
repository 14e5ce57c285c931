//! Who is logged in to the tenant's hunt groups and queues: every member of the plan
//! is, until it logs out (feature code `*41[N]`, `pbx agent logout`); a row per member
//! logged out of a group, so logins survive a restart.

use std::collections::HashSet;

use super::db::params;

use super::{Store, TenantId};
use crate::{Error, Result};

/// A member's login: the group (or queue) number and the member's extension.
pub type Membership = (String, String);

/// One member of a group or queue and whether it is logged in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentLogin {
    pub group: String,
    /// "hunt group" or "queue".
    pub kind: &'static str,
    pub ext: String,
    pub logged_in: bool,
    /// A queue's agent: what it is doing as the running switch last said ("free",
    /// "ringing", "busy", "wrap-up", "paused", "logged out") and since when (unix
    /// milliseconds). None before its queue's first call, or with no switch running.
    pub live: Option<(String, u64)>,
}

impl Store {
    /// The (group, member) pairs logged out in `tenant`.
    pub fn logged_out(&self, tenant: TenantId) -> Result<HashSet<Membership>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT grp, ext FROM agent_logouts WHERE tenant_id = ?1")?;
        let rows = stmt.query_map(params![tenant], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_>>()
    }

    /// Every member of the tenant's hunt groups and queues, with its login.
    pub fn agent_logins(&self, tenant: TenantId) -> Result<Vec<AgentLogin>> {
        let Some(plan) = self.stored_plan(tenant)? else {
            return Ok(Vec::new());
        };
        let out = self.logged_out(tenant)?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT grp, ext, state, since FROM agent_states WHERE tenant_id = ?1",
        )?;
        let live: std::collections::HashMap<Membership, (String, u64)> = stmt
            .query_map(params![tenant], |r| {
                Ok(((r.get(0)?, r.get(1)?), (r.get(2)?, r.get(3)?)))
            })?
            .collect::<Result<_>>()?;
        let groups = plan
            .groups
            .iter()
            .map(|g| ("hunt group", &g.number, &g.members));
        let queues = plan.queues.iter().map(|q| ("queue", &q.number, &q.members));
        let mut list = Vec::new();
        for (kind, number, members) in groups.chain(queues) {
            for m in members {
                let key = (number.clone(), m.clone());
                list.push(AgentLogin {
                    logged_in: !out.contains(&key),
                    live: live.get(&key).cloned(),
                    group: number.clone(),
                    kind,
                    ext: m.clone(),
                });
            }
        }
        Ok(list)
    }

    /// Keeps what a queue's agent is doing now (`AgentStatus::as_str`), since `at`.
    pub fn set_agent_state(
        &self,
        tenant: TenantId,
        queue: &str,
        ext: &str,
        state: &str,
        at: u64,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO agent_states (tenant_id, grp, ext, state, since, node)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (tenant_id, grp, ext) DO UPDATE SET state = ?4, since = ?5, node = ?6",
            )?
            .execute(params![tenant, queue, ext, state, at as i64, self.node])?;
        Ok(())
    }

    /// Forgets the agents' states this node kept (a switch starting: nothing is
    /// ringing or busy); other nodes sharing the store keep theirs.
    pub fn clear_agent_states(&self) -> Result<()> {
        self.conn.execute(
            "DELETE FROM agent_states WHERE node IS ?1",
            params![self.node],
        )?;
        Ok(())
    }

    /// Logs `ext` in to (or out of) hunt group or queue `group`, or every one it is a
    /// member of (`None`). Returns the groups changed; a line that is no member of
    /// the group (or of any) is refused and nothing changes.
    pub fn set_agent_login(
        &self,
        tenant: TenantId,
        ext: &str,
        group: Option<&str>,
        logged_in: bool,
    ) -> Result<Vec<String>> {
        let of: Vec<String> = self
            .agent_logins(tenant)?
            .into_iter()
            .filter(|a| a.ext == ext && group.is_none_or(|g| a.group == g))
            .map(|a| a.group)
            .collect();
        if of.is_empty() {
            return Err(Error::Invalid(match group {
                Some(g) => format!("{ext} is not a member of hunt group or queue {g}"),
                None => format!("{ext} is a member of no hunt group or queue"),
            }));
        }
        for g in &of {
            if logged_in {
                self.conn.execute(
                    "DELETE FROM agent_logouts WHERE tenant_id = ?1 AND grp = ?2 AND ext = ?3",
                    params![tenant, g, ext],
                )?;
            } else {
                self.conn.execute(
                    "INSERT INTO agent_logouts (tenant_id, grp, ext) VALUES (?1, ?2, ?3)
                     ON CONFLICT DO NOTHING",
                    params![tenant, g, ext],
                )?;
            }
        }
        Ok(of)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_log_out_and_in_and_strangers_are_refused() {
        let mut s = Store::in_memory().unwrap();
        let t = s.add_tenant("acme", &["acme.test".into()]).unwrap();
        s.add_line_range(&t, 100, 105, "secret-pw-1").unwrap();
        s.set_dialplan_json(
            t.id,
            &serde_json::to_string(&dialplan::TenantPlan::demo()).unwrap(),
        )
        .unwrap();
        let logins = s.agent_logins(t.id).unwrap();
        assert!(logins.iter().all(|a| a.logged_in), "{logins:?}");
        // 102 is in group 200 and queue 300: logging out of all leaves both.
        let out = s.set_agent_login(t.id, "102", None, false).unwrap();
        assert_eq!(out, ["200", "300"]);
        assert_eq!(s.logged_out(t.id).unwrap().len(), 2);
        s.set_agent_login(t.id, "102", Some("300"), true).unwrap();
        let out = s.logged_out(t.id).unwrap();
        assert!(out.contains(&("200".to_owned(), "102".to_owned())));
        assert_eq!(out.len(), 1);
        let err = s
            .set_agent_login(t.id, "105", Some("200"), false)
            .unwrap_err();
        assert!(err.to_string().contains("not a member"), "{err}");
        assert!(s.set_agent_login(t.id, "105", None, true).is_err());
    }
}
