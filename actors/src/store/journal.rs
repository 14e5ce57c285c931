//! The call journal: one row per call (`calls`) and per leg (`call_legs`), written
//! from call events by the journal actor through the store thread.

use super::db::{params, Db, OptionalExtension, Row};

use super::{Store, TenantId};
use crate::proto::events::{
    CallEvent, CallEventKind, CallId, CallState, Direction, Disposition, LegId, Side, UnixMillis,
};
use crate::Result;

/// One call as the journal holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRecord {
    /// The row's own id.
    pub id: i64,
    pub tenant: TenantId,
    pub call: CallId,
    pub from: String,
    pub to: String,
    pub direction: Direction,
    pub caller_line: Option<String>,
    pub started_at: UnixMillis,
    /// The first time any leg rang.
    pub ring_at: Option<UnixMillis>,
    pub answered_at: Option<UnixMillis>,
    pub ended_at: Option<UnixMillis>,
    /// `None` while active and for unfinished rows (stored as 'unfinished').
    pub disposition: Option<Disposition>,
    pub hangup_side: Option<Side>,
    pub cause_code: Option<u16>,
    pub cause_text: Option<String>,
    /// Answer to end; 0 for an unanswered call; `None` until it ended.
    pub duration_ms: Option<u64>,
    pub answered_by: Option<String>,
    pub transferred_to: Option<String>,
    pub state: CallState,
    /// When a later start found this row left active and marked it unfinished.
    pub repaired_at: Option<UnixMillis>,
    /// The recording made during the call (the last one, when there were several).
    pub recording: Option<String>,
    /// The first line that passed the call on, and why (`store::ForwardReason`).
    pub forwarded_from: Option<String>,
    pub forward_reason: Option<String>,
    /// The line that picked the call up while it rang elsewhere.
    pub picked_up_by: Option<String>,
    /// The number the callees saw, when not the caller's own ("anonymous", or another
    /// of its user's numbers).
    pub caller_shown: Option<String>,
    /// The lines that count the call as missed, in the order it reached them.
    pub missed_by: Vec<String>,
    /// The queue the caller waited in, and since when.
    pub queue: Option<String>,
    pub queued_at: Option<UnixMillis>,
    /// The trunk the call came in or went out on.
    pub trunk: Option<String>,
    /// The caller marked the call private (its number stored as the tenant's
    /// journal rules say).
    pub private: bool,
    /// The project code the call was tagged with.
    pub project: Option<String>,
}

/// One leg of a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegRecord {
    pub call: CallId,
    pub leg: LegId,
    pub target: String,
    pub created_at: UnixMillis,
    pub ring_at: Option<UnixMillis>,
    pub answered_at: Option<UnixMillis>,
    pub answered_by: Option<String>,
    pub ended_at: Option<UnixMillis>,
    pub code: Option<u16>,
    pub reason: Option<String>,
    pub side: Option<Side>,
}

const CALL_COLUMNS: &str = "id, tenant_id, call_id, from_number, to_number, direction, caller_line,
    started_at, ring_at, answered_at, ended_at, disposition, hangup_side, cause_code, cause_text,
    duration_ms, answered_by, transferred_to, state, repaired_at, recording, forwarded_from,
    forward_reason, picked_up_by, caller_shown, missed_by, queue, queued_at, trunk, private, project";

impl Store {
    /// Writes a batch of call events in one transaction, in order. An event that does
    /// not fit (a leg of an unknown call, a second start, an end after the end) is
    /// logged and skipped; the others are written. Returns how many were applied.
    pub fn record_call_events(&mut self, events: &[CallEvent]) -> Result<usize> {
        Ok(self.record_call_events_and_mail(events)?.0)
    }

    /// `record_call_events`, queuing the missed-call mails of the calls that ended
    /// in the same transaction: (events applied, mails queued).
    pub fn record_call_events_and_mail(&mut self, events: &[CallEvent]) -> Result<(usize, usize)> {
        // PostgreSQL aborts a transaction at its first failed statement: the batch is
        // tried whole first (a round trip a statement) and, when a statement fails,
        // again with every event in a savepoint of its own, so that the others are
        // written. SQLite goes on after a failed statement by itself.
        if self.conn.is_postgres() {
            if let Ok(done) = self.write_call_events(events, false) {
                return Ok(done);
            }
        }
        self.write_call_events(events, true)
    }

    /// One transaction of call events; `careful`: an event that fails is skipped
    /// (else the whole transaction fails).
    fn write_call_events(&self, events: &[CallEvent], careful: bool) -> Result<(usize, usize)> {
        let tx = self.conn.transaction()?;
        let node = self.node.as_deref();
        let mut applied = 0;
        let mut mails = 0;
        for e in events {
            let ended = matches!(e.kind, CallEventKind::CallEnded { .. });
            let written = match careful {
                true => tx.recoverable(|| apply(&tx, e, node)),
                false => apply(&tx, e, node),
            };
            match written {
                Ok(true) if ended => {
                    applied += 1;
                    let queued = match careful {
                        true => tx.recoverable(|| super::missed_mail::queue(&tx, e.call, e.at)),
                        false => super::missed_mail::queue(&tx, e.call, e.at),
                    };
                    match queued {
                        Ok(n) => mails += n,
                        Err(err) if !careful => return Err(err),
                        Err(err) => {
                            tracing::warn!(call = %e.call, error = %err, "missed-call mail not queued")
                        }
                    }
                }
                Ok(true) => applied += 1,
                Ok(false) => {
                    tracing::warn!(call = %e.call, kind = e.kind.name(), "journal: event matches no row; skipped");
                }
                Err(err) if !careful => return Err(err),
                Err(err) => {
                    tracing::warn!(call = %e.call, kind = e.kind.name(), error = %err, "journal: event not written");
                }
            }
        }
        tx.commit()?;
        Ok((applied, mails))
    }

    /// Marks rows this node (the store's `node`) left 'active' in a run that
    /// stopped without flushing as 'unfinished' (disposition 'unfinished', `ended_at`
    /// left empty, `repaired_at` = `now`); other nodes' calls in progress are theirs.
    /// Run at the switch's start, before any call; returns how many rows it changed.
    pub fn repair_unfinished_calls(&mut self, now: UnixMillis) -> Result<usize> {
        self.conn.execute(
            "UPDATE calls SET state = 'unfinished', disposition = 'unfinished', repaired_at = ?1
             WHERE state = 'active' AND node IS ?2",
            params![now as i64, self.node],
        )
    }

    /// A tenant's latest calls, newest first.
    pub fn calls(&self, tenant: TenantId, limit: usize) -> Result<Vec<CallRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE tenant_id = ?1
             ORDER BY started_at DESC, id DESC LIMIT ?2"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![tenant, limit], call_record)?;
        rows.collect::<Result<_>>()
    }

    /// A tenant's calls started in `[since, until)` whose number (from, to, caller
    /// line or who answered) contains `number`, of `direction` when given, newest
    /// first, at most `limit`.
    pub fn journal_search(
        &self,
        tenant: TenantId,
        (since, until): (UnixMillis, UnixMillis),
        number: Option<&str>,
        direction: Option<&str>,
        limit: usize,
    ) -> Result<Vec<CallRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {CALL_COLUMNS} FROM calls
             WHERE tenant_id = ?1 AND started_at >= ?2 AND started_at < ?3
               AND (instr(from_number, ?4) > 0 OR instr(to_number, ?4) > 0
                    OR caller_line = ?4 OR answered_by = ?4 OR ?4 IS NULL)
               AND (direction = ?5 OR ?5 IS NULL)
             ORDER BY started_at DESC, id DESC LIMIT ?6"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(
            params![
                tenant,
                since as i64,
                until.min(i64::MAX as u64) as i64,
                number,
                direction,
                limit
            ],
            call_record,
        )?;
        rows.collect::<Result<_>>()
    }

    /// The calls line `line` placed, was called on or answered, newest first (exact
    /// numbers: line 10's calls are not 100's).
    pub fn line_journal(
        &self,
        tenant: TenantId,
        line: &str,
        limit: usize,
    ) -> Result<Vec<CallRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {CALL_COLUMNS} FROM calls
             WHERE tenant_id = ?1 AND (caller_line = ?2 OR answered_by = ?2
                   OR (direction = 'internal' AND (to_number = ?2 OR from_number = ?2)))
             ORDER BY started_at DESC, id DESC LIMIT ?3"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![tenant, line, limit], call_record)?;
        rows.collect::<Result<_>>()
    }

    /// A tenant's calls in progress, oldest first.
    pub fn active_calls(&self, tenant: TenantId) -> Result<Vec<CallRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE state = 'active' AND tenant_id = ?1
             ORDER BY started_at, id"
        ))?;
        let rows = stmt.query_map(params![tenant], call_record)?;
        rows.collect::<Result<_>>()
    }

    /// Finished calls of every tenant by disposition (the journal's counters).
    pub fn call_counts(&self) -> Result<Vec<(String, u64)>> {
        let rows = self
            .conn
            .prepare_cached(
                "SELECT disposition, COUNT(*) FROM calls WHERE state <> 'active'
                 AND disposition IS NOT NULL GROUP BY disposition ORDER BY disposition",
            )?
            .query_map(params![], |r| {
                Ok((r.get::<String>(0)?, r.get::<i64>(1)? as u64))
            })?
            .collect::<Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// One call by its id.
    pub fn call_record(&self, call: CallId) -> Result<Option<CallRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE call_id = ?1"
        ))?;
        stmt.query_row(params![call.to_sql()], call_record)
            .optional()
    }

    /// A call's legs by leg number.
    pub fn call_legs(&self, call: CallId) -> Result<Vec<LegRecord>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT call_id, leg, target, created_at, ring_at, answered_at, answered_by, ended_at,
                    code, reason, side
             FROM call_legs WHERE call_id = ?1 ORDER BY leg",
        )?;
        let rows = stmt.query_map(params![call.to_sql()], |r| {
            Ok(LegRecord {
                call: CallId(r.get::<i64>(0)? as u64),
                leg: r.get(1)?,
                target: r.get(2)?,
                created_at: millis(r, 3)?,
                ring_at: opt_millis(r, 4)?,
                answered_at: opt_millis(r, 5)?,
                answered_by: r.get(6)?,
                ended_at: opt_millis(r, 7)?,
                code: r.get(8)?,
                reason: r.get(9)?,
                side: opt_word(r, 10, Side::from_db)?,
            })
        })?;
        rows.collect::<Result<_>>()
    }
}

/// Applies one event; `Ok(false)` when it matched no row.
fn apply(tx: &Db, e: &CallEvent, node: Option<&str>) -> Result<bool> {
    let (call, at) = (e.call.to_sql(), e.at as i64);
    let changed = match &e.kind {
        CallEventKind::CallStarted {
            from,
            to,
            direction,
            caller_line,
        } => tx.prepare_cached(
            "INSERT INTO calls (tenant_id, call_id, from_number, to_number, direction, caller_line, started_at, state, node)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'active', ?8)",
        )?
        .execute(params![e.tenant, call, from, to, direction.as_str(), caller_line, at, node])?,
        CallEventKind::LegCreated { leg, target } => tx
            .prepare_cached(
                "INSERT INTO call_legs (call_id, leg, target, created_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![call, leg, target, at])?,
        CallEventKind::LegRinging { leg } => {
            tx.prepare_cached(
                "UPDATE calls SET ring_at = COALESCE(ring_at, ?2) WHERE call_id = ?1 AND state = 'active'",
            )?
            .execute(params![call, at])?;
            tx.prepare_cached(
                "UPDATE call_legs SET ring_at = COALESCE(ring_at, ?3) WHERE call_id = ?1 AND leg = ?2",
            )?
            .execute(params![call, leg, at])?
        }
        CallEventKind::LegAnswered { leg, answered_by } => tx
            .prepare_cached(
                "UPDATE call_legs SET answered_at = COALESCE(answered_at, ?3), answered_by = ?4
                 WHERE call_id = ?1 AND leg = ?2",
            )?
            .execute(params![call, leg, at, answered_by])?,
        CallEventKind::LegEnded {
            leg,
            code,
            reason,
            side,
        } => tx
            .prepare_cached(
                "UPDATE call_legs SET ended_at = ?3, code = ?4, reason = ?5, side = ?6
                 WHERE call_id = ?1 AND leg = ?2 AND ended_at IS NULL",
            )?
            .execute(params![call, leg, at, code, reason, side.as_str()])?,
        CallEventKind::CallAnswered { answered_by } => tx
            .prepare_cached(
                "UPDATE calls SET answered_at = COALESCE(answered_at, ?2),
                    answered_by = COALESCE(answered_by, ?3)
                 WHERE call_id = ?1 AND state = 'active'",
            )?
            .execute(params![call, at, answered_by])?,
        CallEventKind::CallTransferred { to } => tx
            .prepare_cached(
                "UPDATE calls SET transferred_to = ?2 WHERE call_id = ?1 AND state = 'active'",
            )?
            .execute(params![call, to])?,
        CallEventKind::CallRecorded { path } => tx
            .prepare_cached(
                "UPDATE calls SET recording = ?2 WHERE call_id = ?1 AND state = 'active'",
            )?
            .execute(params![call, path])?,
        CallEventKind::CallForwarded { from, to: _, reason } => tx
            .prepare_cached(
                "UPDATE calls SET forwarded_from = COALESCE(forwarded_from, ?2),
                    forward_reason = COALESCE(forward_reason, ?3)
                 WHERE call_id = ?1 AND state = 'active'",
            )?
            .execute(params![call, from, reason])?,
        CallEventKind::CallPickedUp { by } => tx
            .prepare_cached(
                "UPDATE calls SET picked_up_by = ?2 WHERE call_id = ?1 AND state = 'active'",
            )?
            .execute(params![call, by])?,
        CallEventKind::CallerShown { number } => tx
            .prepare_cached(
                "UPDATE calls SET caller_shown = ?2 WHERE call_id = ?1 AND state = 'active'",
            )?
            .execute(params![call, number])?,
        CallEventKind::CallTagged { private, project } => tx
            .prepare_cached(
                "UPDATE calls SET private = ?2, project = ?3 WHERE call_id = ?1 AND state = 'active'",
            )?
            .execute(params![call, private, project])?,
        CallEventKind::CallTrunk { trunk, direction } => tx
            .prepare_cached(
                "UPDATE calls SET trunk = ?2, direction = ?3 WHERE call_id = ?1 AND state = 'active'",
            )?
            .execute(params![call, trunk, direction.as_str()])?,
        CallEventKind::CallQueued { queue } => tx
            .prepare_cached(
                "UPDATE calls SET queue = ?2, queued_at = ?3 WHERE call_id = ?1 AND state = 'active'",
            )?
            .execute(params![call, queue, at])?,
        CallEventKind::CallTakenBy { answered_by } => tx
            .prepare_cached(
                "UPDATE calls SET answered_by = ?2 WHERE call_id = ?1 AND state = 'active'",
            )?
            .execute(params![call, answered_by])?,
        CallEventKind::CallMissedBy { lines } => tx
            .prepare_cached(
                "UPDATE calls SET missed_by = ?2 WHERE call_id = ?1 AND state = 'active'",
            )?
            .execute(params![call, lines.join(",")])?,
        CallEventKind::CallEnded {
            disposition,
            hangup_side,
            code,
            reason,
        } => tx
            .prepare_cached(
                "UPDATE calls SET ended_at = ?2, disposition = ?3, hangup_side = ?4, cause_code = ?5,
                    cause_text = ?6, state = 'done',
                    duration_ms = CASE WHEN answered_at IS NULL OR ?2 < answered_at THEN 0 ELSE ?2 - answered_at END
                 WHERE call_id = ?1 AND state = 'active'",
            )?
            .execute(params![
                call,
                at,
                disposition.as_str(),
                hangup_side.as_str(),
                code,
                reason
            ])?,
    };
    Ok(changed > 0)
}

fn call_record(r: &Row<'_>) -> Result<CallRecord> {
    Ok(CallRecord {
        id: r.get(0)?,
        tenant: r.get(1)?,
        call: CallId(r.get::<i64>(2)? as u64),
        from: r.get(3)?,
        to: r.get(4)?,
        direction: word(r, 5, Direction::from_db)?,
        caller_line: r.get(6)?,
        started_at: millis(r, 7)?,
        ring_at: opt_millis(r, 8)?,
        answered_at: opt_millis(r, 9)?,
        ended_at: opt_millis(r, 10)?,
        disposition: r
            .get::<Option<String>>(11)?
            .and_then(|w| Disposition::from_db(&w)),
        hangup_side: opt_word(r, 12, Side::from_db)?,
        cause_code: r.get(13)?,
        cause_text: r.get(14)?,
        duration_ms: opt_millis(r, 15)?,
        answered_by: r.get(16)?,
        transferred_to: r.get(17)?,
        state: word(r, 18, CallState::from_db)?,
        repaired_at: opt_millis(r, 19)?,
        recording: r.get(20)?,
        forwarded_from: r.get(21)?,
        forward_reason: r.get(22)?,
        picked_up_by: r.get(23)?,
        caller_shown: r.get(24)?,
        missed_by: r
            .get::<Option<String>>(25)?
            .map(|l| {
                l.split(',')
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        queue: r.get(26)?,
        queued_at: opt_millis(r, 27)?,
        trunk: r.get(28)?,
        private: r.get::<i64>(29)? != 0,
        project: r.get(30)?,
    })
}

fn millis(r: &Row<'_>, i: usize) -> Result<u64> {
    Ok(r.get::<i64>(i)?.max(0) as u64)
}

fn opt_millis(r: &Row<'_>, i: usize) -> Result<Option<u64>> {
    Ok(r.get::<Option<i64>>(i)?.map(|v| v.max(0) as u64))
}

fn word<T>(r: &Row<'_>, i: usize, parse: fn(&str) -> Option<T>) -> Result<T> {
    let w: String = r.get(i)?;
    parse(&w).ok_or_else(|| crate::Error::Stored(format!("unexpected journal value {w:?}")))
}

fn opt_word<T>(r: &Row<'_>, i: usize, parse: fn(&str) -> Option<T>) -> Result<Option<T>> {
    match r.get::<Option<String>>(i)? {
        None => Ok(None),
        Some(_) => word(r, i, parse).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: TenantId = 3;

    fn ev(call: u64, at: UnixMillis, kind: CallEventKind) -> CallEvent {
        CallEvent::new(CallId(call), T, at, kind)
    }

    fn started(call: u64, at: UnixMillis) -> CallEvent {
        ev(
            call,
            at,
            CallEventKind::CallStarted {
                from: "201".into(),
                to: "202".into(),
                direction: Direction::Internal,
                caller_line: Some("201".into()),
            },
        )
    }

    fn ended(call: u64, at: UnixMillis, disposition: Disposition, code: u16) -> CallEvent {
        ev(
            call,
            at,
            CallEventKind::CallEnded {
                disposition,
                hangup_side: Side::Caller,
                code,
                reason: "x".into(),
            },
        )
    }

    #[test]
    fn migration_2_runs() {
        let store = Store::in_memory().unwrap();
        assert!(store.schema_version().unwrap() >= 2);
    }

    #[test]
    fn a_call_is_inserted_at_start_and_completed_at_end() {
        let mut s = Store::in_memory().unwrap();
        s.record_call_events(&[started(1, 1_000)]).unwrap();
        let row = s.call_record(CallId(1)).unwrap().unwrap();
        assert_eq!(row.state, CallState::Active);
        assert_eq!(row.disposition, None);
        assert_eq!(row.duration_ms, None);
        assert_eq!(row.caller_line.as_deref(), Some("201"));

        let n = s
            .record_call_events(&[
                ev(
                    1,
                    1_100,
                    CallEventKind::LegCreated {
                        leg: 0,
                        target: "sip:202@10.0.0.2".into(),
                    },
                ),
                ev(1, 1_200, CallEventKind::LegRinging { leg: 0 }),
                ev(1, 1_300, CallEventKind::LegRinging { leg: 0 }),
                ev(
                    1,
                    2_000,
                    CallEventKind::CallAnswered {
                        answered_by: "202".into(),
                    },
                ),
                ev(
                    1,
                    3_000,
                    CallEventKind::CallTransferred { to: "203".into() },
                ),
                ended(1, 9_500, Disposition::Answered, 200),
            ])
            .unwrap();
        assert_eq!(n, 6);
        let row = s.call_record(CallId(1)).unwrap().unwrap();
        assert_eq!(row.state, CallState::Done);
        assert_eq!(row.ring_at, Some(1_200), "the first ring counts");
        assert_eq!(row.answered_at, Some(2_000));
        assert_eq!(row.ended_at, Some(9_500));
        assert_eq!(row.duration_ms, Some(7_500));
        assert_eq!(row.disposition, Some(Disposition::Answered));
        assert_eq!(row.hangup_side, Some(Side::Caller));
        assert_eq!(row.cause_code, Some(200));
        assert_eq!(row.answered_by.as_deref(), Some("202"));
        assert_eq!(row.transferred_to.as_deref(), Some("203"));
    }

    #[test]
    fn an_unanswered_call_lasts_zero() {
        let mut s = Store::in_memory().unwrap();
        s.record_call_events(&[
            started(2, 1_000),
            ended(2, 31_000, Disposition::NoAnswer, 480),
        ])
        .unwrap();
        let row = s.call_record(CallId(2)).unwrap().unwrap();
        assert_eq!(row.duration_ms, Some(0));
        assert_eq!(row.disposition, Some(Disposition::NoAnswer));
        assert_eq!(row.answered_at, None);
    }

    #[test]
    fn events_that_fit_no_row_are_skipped_not_fatal() {
        let mut s = Store::in_memory().unwrap();
        let n = s
            .record_call_events(&[
                ev(
                    9,
                    1,
                    CallEventKind::LegCreated {
                        leg: 0,
                        target: "x".into(),
                    },
                ),
                started(1, 10),
                started(1, 11),
                ended(1, 20, Disposition::Cancelled, 487),
                ended(1, 30, Disposition::Failed, 500),
            ])
            .unwrap();
        assert_eq!(n, 2);
        let row = s.call_record(CallId(1)).unwrap().unwrap();
        assert_eq!((row.started_at, row.ended_at), (10, Some(20)));
        assert_eq!(row.disposition, Some(Disposition::Cancelled));
        assert!(s.call_legs(CallId(9)).unwrap().is_empty());
    }

    #[test]
    fn legs_are_recorded() {
        let mut s = Store::in_memory().unwrap();
        s.record_call_events(&[
            started(1, 0),
            ev(
                1,
                5,
                CallEventKind::LegCreated {
                    leg: 1,
                    target: "sip:b@h".into(),
                },
            ),
            ev(
                1,
                5,
                CallEventKind::LegCreated {
                    leg: 0,
                    target: "sip:a@h".into(),
                },
            ),
            ev(1, 7, CallEventKind::LegRinging { leg: 1 }),
            ev(
                1,
                9,
                CallEventKind::LegAnswered {
                    leg: 1,
                    answered_by: "sip:b@h".into(),
                },
            ),
            ev(
                1,
                9,
                CallEventKind::LegEnded {
                    leg: 0,
                    code: 487,
                    reason: "Request Terminated".into(),
                    side: Side::Switch,
                },
            ),
        ])
        .unwrap();
        let legs = s.call_legs(CallId(1)).unwrap();
        assert_eq!(
            legs,
            vec![
                LegRecord {
                    call: CallId(1),
                    leg: 0,
                    target: "sip:a@h".into(),
                    created_at: 5,
                    ring_at: None,
                    answered_at: None,
                    answered_by: None,
                    ended_at: Some(9),
                    code: Some(487),
                    reason: Some("Request Terminated".into()),
                    side: Some(Side::Switch),
                },
                LegRecord {
                    call: CallId(1),
                    leg: 1,
                    target: "sip:b@h".into(),
                    created_at: 5,
                    ring_at: Some(7),
                    answered_at: Some(9),
                    answered_by: Some("sip:b@h".into()),
                    ended_at: None,
                    code: None,
                    reason: None,
                    side: None,
                },
            ]
        );
        assert_eq!(s.call_record(CallId(1)).unwrap().unwrap().ring_at, Some(7));
    }

    #[test]
    fn repair_marks_only_active_rows_unfinished() {
        let mut s = Store::in_memory().unwrap();
        s.record_call_events(&[
            started(1, 10),
            started(2, 20),
            ev(
                2,
                25,
                CallEventKind::CallAnswered {
                    answered_by: "202".into(),
                },
            ),
            started(3, 30),
            ended(3, 40, Disposition::Busy, 486),
        ])
        .unwrap();
        // Another node sharing the store leaves them alone: they are not its calls.
        s.set_node(Some("node-b".into())).unwrap();
        assert_eq!(s.repair_unfinished_calls(98).unwrap(), 0);
        s.set_node(None).unwrap();
        assert_eq!(s.repair_unfinished_calls(99).unwrap(), 2);
        assert_eq!(s.repair_unfinished_calls(100).unwrap(), 0);
        for id in [1, 2] {
            let row = s.call_record(CallId(id)).unwrap().unwrap();
            assert_eq!(row.state, CallState::Unfinished);
            assert_eq!(row.disposition, None);
            assert_eq!(row.ended_at, None);
            assert_eq!(row.duration_ms, None);
            assert_eq!(row.repaired_at, Some(99));
        }
        let done = s.call_record(CallId(3)).unwrap().unwrap();
        assert_eq!((done.state, done.repaired_at), (CallState::Done, None));
        // A late end for a repaired row does not reopen it.
        assert_eq!(
            s.record_call_events(&[ended(1, 50, Disposition::Answered, 200)])
                .unwrap(),
            0
        );
        let disposition: String = s
            .conn
            .query_row(
                "SELECT disposition FROM calls WHERE call_id = 1",
                params![],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(disposition, "unfinished");
    }

    #[test]
    fn calls_lists_a_tenants_calls_newest_first() {
        let mut s = Store::in_memory().unwrap();
        s.record_call_events(&[started(1, 10), started(2, 30), started(3, 20)])
            .unwrap();
        let mut other = started(4, 40);
        other.tenant = T + 1;
        s.record_call_events(&[other]).unwrap();
        let ids: Vec<u64> = s.calls(T, 10).unwrap().iter().map(|c| c.call.0).collect();
        assert_eq!(ids, vec![2, 3, 1]);
        assert_eq!(s.calls(T, 2).unwrap().len(), 2);
        assert_eq!(s.calls(T + 1, 10).unwrap().len(), 1);
    }
}
