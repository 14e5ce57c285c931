//! Queue statistics from the journal (SPEC F-QUEUE): per queue the calls offered,
//! answered, abandoned and sent on (overflow, exit key), waiting and talk time
//! percentiles and the service level; per agent the calls taken and talk time.

use std::collections::BTreeMap;

use super::db::params;

use super::{Store, TenantId};
use crate::Result;

/// Nearest-rank percentiles of some durations, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Percentiles {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
}

impl Percentiles {
    fn of(mut v: Vec<u64>) -> Percentiles {
        if v.is_empty() {
            return Percentiles::default();
        }
        v.sort_unstable();
        let at = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Percentiles {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: v[v.len() - 1],
        }
    }
}

/// One agent's part of a queue's calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentStats {
    pub agent: String,
    pub answered: u64,
    pub talk_ms: u64,
}

/// A queue's figures over its finished calls.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueStats {
    pub queue: String,
    pub offered: u64,
    pub answered: u64,
    /// The caller hung up while waiting.
    pub abandoned: u64,
    /// Sent on by the queue: full, waited its longest, or left by the exit key.
    pub overflowed: u64,
    /// From joining to an agent's answer (answered calls).
    pub wait_ms: Percentiles,
    /// From joining to hanging up (abandoned calls).
    pub abandon_ms: Percentiles,
    pub talk_ms: Percentiles,
    /// The seconds of the service level, and the share of calls offered that an
    /// agent answered within them.
    pub service_secs: u32,
    pub service_level: f64,
    pub agents: Vec<AgentStats>,
}

impl Store {
    /// The figures of `tenant`'s queues (only `queue`, when given), over the finished
    /// calls that waited in them; the service level counts answers within
    /// `service_secs`.
    pub fn queue_stats(
        &self,
        tenant: TenantId,
        queue: Option<&str>,
        service_secs: u32,
    ) -> Result<Vec<QueueStats>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT queue, queued_at, answered_at, ended_at, answered_by, forward_reason
             FROM calls WHERE tenant_id = ?1 AND queue IS NOT NULL AND state = 'done'
                AND (queue = ?2 OR ?2 IS NULL)",
        )?;
        type Row = (
            String,
            i64,
            Option<i64>,
            Option<i64>,
            Option<String>,
            Option<String>,
        );
        let rows = stmt.query_map(params![tenant, queue], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?;
        let mut by_queue: BTreeMap<String, Vec<Row>> = BTreeMap::new();
        for row in rows {
            let row: Row = row?;
            by_queue.entry(row.0.clone()).or_default().push(row);
        }
        let ms = |from: i64, to: Option<i64>| to.map_or(0, |to| (to - from).max(0) as u64);
        Ok(by_queue
            .into_iter()
            .map(|(queue, rows)| {
                let mut s = QueueStats {
                    queue,
                    service_secs,
                    ..Default::default()
                };
                let (mut waits, mut abandons, mut talks) = (Vec::new(), Vec::new(), Vec::new());
                let mut agents: BTreeMap<String, AgentStats> = BTreeMap::new();
                let mut in_time = 0u64;
                for (_, queued, answered, ended, by, reason) in rows {
                    s.offered += 1;
                    match (answered, reason.as_deref()) {
                        (_, Some("overflow" | "exit")) => s.overflowed += 1,
                        (Some(a), _) => {
                            s.answered += 1;
                            let wait = ms(queued, Some(a));
                            if wait <= u64::from(service_secs) * 1000 {
                                in_time += 1;
                            }
                            waits.push(wait);
                            let talk = ms(a, ended);
                            talks.push(talk);
                            let agent = by.unwrap_or_default();
                            let e = agents.entry(agent.clone()).or_insert_with(|| AgentStats {
                                agent,
                                ..Default::default()
                            });
                            e.answered += 1;
                            e.talk_ms += talk;
                        }
                        (None, _) => {
                            s.abandoned += 1;
                            abandons.push(ms(queued, ended));
                        }
                    }
                }
                s.wait_ms = Percentiles::of(waits);
                s.abandon_ms = Percentiles::of(abandons);
                s.talk_ms = Percentiles::of(talks);
                s.service_level = in_time as f64 / s.offered.max(1) as f64;
                s.agents = agents.into_values().collect();
                s
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::events::{CallEvent, CallEventKind, CallId, Direction, Disposition, Side};

    fn call(s: &mut Store, id: u64, t0: u64, answered: Option<(u64, &str)>, end: u64) {
        let ev = |at, kind| CallEvent::new(CallId(id), 1, at, kind);
        let mut events = vec![
            ev(
                t0,
                CallEventKind::CallStarted {
                    from: "100".into(),
                    to: "310".into(),
                    direction: Direction::Internal,
                    caller_line: Some("100".into()),
                },
            ),
            ev(
                t0,
                CallEventKind::CallQueued {
                    queue: "310".into(),
                },
            ),
        ];
        if let Some((at, by)) = answered {
            events.push(ev(
                at,
                CallEventKind::CallAnswered {
                    answered_by: by.into(),
                },
            ));
        }
        events.push(ev(
            end,
            CallEventKind::CallEnded {
                disposition: Disposition::Answered,
                hangup_side: Side::Caller,
                code: 200,
                reason: "BYE".into(),
            },
        ));
        s.record_call_events(&events).unwrap();
    }

    #[test]
    fn figures_follow_the_calls() {
        let mut s = Store::in_memory().unwrap();
        call(&mut s, 1, 0, Some((5_000, "101")), 65_000);
        call(&mut s, 2, 0, Some((30_000, "102")), 90_000);
        call(&mut s, 3, 0, None, 12_000);
        let stats = s.queue_stats(1, None, 20).unwrap();
        assert_eq!(stats.len(), 1);
        let q = &stats[0];
        assert_eq!((q.offered, q.answered, q.abandoned), (3, 2, 1));
        assert_eq!(q.wait_ms.p50, 5_000);
        assert_eq!(q.wait_ms.max, 30_000);
        assert_eq!(q.abandon_ms.p50, 12_000);
        assert_eq!(q.talk_ms.p50, 60_000);
        assert!((q.service_level - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(q.agents.len(), 2);
        assert_eq!(q.agents[0].agent, "101");
        assert!(s.queue_stats(1, Some("311"), 20).unwrap().is_empty());
    }
}
