//! A tenant's call statistics over a period, from the journal: calls per hour with
//! their answer-seizure ratio (ASR: answered calls in percent of calls) and talk time,
//! and each line's utilisation (its share of the period spent talking).

use super::db::params;

use super::{Store, TenantId};
use crate::Result;

/// One hour (UTC) of a tenant's finished calls.
#[derive(Debug, Clone, PartialEq)]
pub struct HourStats {
    /// The hour's start, unix milliseconds.
    pub hour: u64,
    pub calls: u64,
    pub answered: u64,
    pub talk_ms: u64,
}

impl HourStats {
    /// Answered calls in percent of calls (0 without calls).
    pub fn asr(&self) -> f64 {
        percent(self.answered, self.calls)
    }
}

/// A line's talk time over the period.
#[derive(Debug, Clone, PartialEq)]
pub struct LineUse {
    pub line: String,
    pub calls: u64,
    pub talk_ms: u64,
    /// Talk time in percent of the period.
    pub utilisation: f64,
}

/// The statistics of `[since, until)`.
#[derive(Debug, Clone, PartialEq)]
pub struct CallStatistics {
    pub since: u64,
    pub until: u64,
    pub calls: u64,
    pub answered: u64,
    pub hours: Vec<HourStats>,
    pub lines: Vec<LineUse>,
}

impl CallStatistics {
    pub fn asr(&self) -> f64 {
        percent(self.answered, self.calls)
    }

    /// The hours as CSV (`hour` as RFC 3339 UTC), one line each, with a header.
    pub fn hours_csv(&self) -> String {
        let mut out = String::from("hour,calls,answered,asr_percent,talk_seconds\n");
        for h in &self.hours {
            let at = chrono::DateTime::from_timestamp_millis(h.hour as i64)
                .map(|t| t.format("%Y-%m-%dT%H:00:00Z").to_string())
                .unwrap_or_default();
            out.push_str(&format!(
                "{at},{},{},{:.1},{}\n",
                h.calls,
                h.answered,
                h.asr(),
                h.talk_ms / 1000
            ));
        }
        out
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

const HOUR_MS: i64 = 3_600_000;

impl Store {
    /// The tenant's finished calls started in `[since, until)` (unix milliseconds).
    pub fn call_statistics(
        &self,
        tenant: TenantId,
        since: u64,
        until: u64,
    ) -> Result<CallStatistics> {
        let (from, to) = (since as i64, until as i64);
        let hours = self
            .conn
            .prepare_cached(
                "SELECT (started_at / ?4) * ?4, COUNT(*), COUNT(answered_at),
                        COALESCE(SUM(duration_ms), 0)
                 FROM calls WHERE tenant_id = ?1 AND started_at >= ?2 AND started_at < ?3
                   AND state <> 'active'
                 GROUP BY 1 ORDER BY 1",
            )?
            .query_map(params![tenant, from, to, HOUR_MS], |r| {
                Ok(HourStats {
                    hour: r.get::<i64>(0)? as u64,
                    calls: r.get::<i64>(1)? as u64,
                    answered: r.get::<i64>(2)? as u64,
                    talk_ms: r.get::<i64>(3)? as u64,
                })
            })?
            .collect::<Result<Vec<_>>>()?;
        let period = until.saturating_sub(since).max(1);
        // A line talks in the calls it placed and in those it answered.
        let lines = self
            .conn
            .prepare_cached(
                "SELECT line, COUNT(*), COALESCE(SUM(d), 0) FROM (
                    SELECT caller_line AS line, duration_ms AS d FROM calls
                    WHERE tenant_id = ?1 AND started_at >= ?2 AND started_at < ?3
                      AND state <> 'active' AND caller_line IS NOT NULL
                    UNION ALL
                    SELECT answered_by, duration_ms FROM calls
                    WHERE tenant_id = ?1 AND started_at >= ?2 AND started_at < ?3
                      AND state <> 'active' AND answered_by IS NOT NULL
                      AND (caller_line IS NULL OR answered_by <> caller_line)) AS used
                 GROUP BY line ORDER BY line",
            )?
            .query_map(params![tenant, from, to], |r| {
                let talk_ms = r.get::<i64>(2)? as u64;
                Ok(LineUse {
                    line: r.get(0)?,
                    calls: r.get::<i64>(1)? as u64,
                    talk_ms,
                    utilisation: talk_ms as f64 * 100.0 / period as f64,
                })
            })?
            .collect::<Result<Vec<_>>>()?;
        Ok(CallStatistics {
            since,
            until,
            calls: hours.iter().map(|h| h.calls).sum(),
            answered: hours.iter().map(|h| h.answered).sum(),
            hours,
            lines,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asr_and_the_csv_of_hours() {
        let s = CallStatistics {
            since: 0,
            until: 2 * 3_600_000,
            calls: 4,
            answered: 3,
            hours: vec![
                HourStats {
                    hour: 0,
                    calls: 1,
                    answered: 0,
                    talk_ms: 0,
                },
                HourStats {
                    hour: 3_600_000,
                    calls: 3,
                    answered: 3,
                    talk_ms: 90_500,
                },
            ],
            lines: Vec::new(),
        };
        assert_eq!(s.asr(), 75.0);
        assert_eq!(
            s.hours_csv(),
            "hour,calls,answered,asr_percent,talk_seconds\n\
             1970-01-01T00:00:00Z,1,0,0.0,0\n\
             1970-01-01T01:00:00Z,3,3,100.0,90\n"
        );
    }

    #[test]
    fn the_journal_gives_hours_and_lines() {
        use crate::proto::events::{
            CallEvent, CallEventKind, CallId, Direction, Disposition, Side,
        };
        let mut s = Store::in_memory().unwrap();
        let t = s.add_tenant("acme", &["acme.test".into()]).unwrap().id;
        let ev = |call, at, kind| CallEvent::new(CallId(call), t, at, kind);
        let mut events = Vec::new();
        for (call, answered) in [(1, true), (2, true), (3, false)] {
            let at = 3_600_000 + call * 1_000;
            events.push(ev(
                call,
                at,
                CallEventKind::CallStarted {
                    from: "201".into(),
                    to: "202".into(),
                    direction: Direction::Internal,
                    caller_line: Some("201".into()),
                },
            ));
            if answered {
                events.push(ev(
                    call,
                    at + 500,
                    CallEventKind::CallAnswered {
                        answered_by: "202".into(),
                    },
                ));
            }
            events.push(ev(
                call,
                at + 10_500,
                CallEventKind::CallEnded {
                    disposition: if answered {
                        Disposition::Answered
                    } else {
                        Disposition::NoAnswer
                    },
                    hangup_side: Side::Caller,
                    code: if answered { 200 } else { 480 },
                    reason: "x".into(),
                },
            ));
        }
        s.record_call_events(&events).unwrap();
        let st = s.call_statistics(t, 0, 2 * 3_600_000).unwrap();
        assert_eq!((st.calls, st.answered), (3, 2));
        assert_eq!(st.hours.len(), 1);
        assert_eq!(
            (st.hours[0].hour, st.hours[0].calls, st.hours[0].talk_ms),
            (3_600_000, 3, 20_000)
        );
        let lines: Vec<(&str, u64, u64)> = st
            .lines
            .iter()
            .map(|l| (l.line.as_str(), l.calls, l.talk_ms))
            .collect();
        assert_eq!(lines, [("201", 3, 20_000), ("202", 2, 20_000)]);
    }
}
