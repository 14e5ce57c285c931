//! Missed-call mail: a person who asked for it (`pbx person set --missed-call-mail
//! on`) gets a mail through the outbox for each call its lines missed, as the
//! journal's attribution rules count them, except for internal calls, callers who
//! hide their number, a caller already mailed about that day (UTC), calls that rang
//! for less than 2 s, and the callers on the person's exclusion list. The mails are
//! queued in the transaction that closes the call's row.

use super::db::{params, Db, OptionalExtension};

use super::{Store, TenantId};
use crate::journal::CallId;
use crate::{Error, Result};

/// Calls that rang for less than this are not mailed about.
pub const MIN_RING_MS: i64 = 2_000;

/// A person's missed-call mail settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MissedCallMail {
    pub on: bool,
    /// Callers never mailed about.
    pub exclude: Vec<String>,
}

impl Store {
    /// Sets person `name`'s missed-call mail (`None` keeps a setting).
    pub fn set_missed_call_mail(
        &self,
        tenant: TenantId,
        name: &str,
        on: Option<bool>,
        exclude: Option<&[String]>,
    ) -> Result<MissedCallMail> {
        let mut m = self
            .missed_call_mail(tenant, name)?
            .ok_or_else(|| Error::Invalid(format!("no person named {name:?}")))?;
        if let Some(on) = on {
            m.on = on;
        }
        if let Some(list) = exclude {
            for n in list {
                if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit() || b == b'+') {
                    return Err(Error::Invalid(format!(
                        "excluded number {n:?}: digits, with a leading + at most"
                    )));
                }
            }
            m.exclude = list.to_vec();
        }
        self.conn.execute(
            "UPDATE users SET missed_call_mail = ?3, missed_call_exclude = ?4
             WHERE tenant_id = ?1 AND name = ?2",
            params![tenant, name, m.on, m.exclude.join(",")],
        )?;
        Ok(m)
    }

    /// Person `name`'s missed-call mail settings, if there is such a person.
    pub fn missed_call_mail(&self, tenant: TenantId, name: &str) -> Result<Option<MissedCallMail>> {
        self.conn
            .query_row(
                "SELECT missed_call_mail, missed_call_exclude FROM users
                 WHERE tenant_id = ?1 AND name = ?2",
                params![tenant, name],
                |r| {
                    Ok(MissedCallMail {
                        on: r.get::<i64>(0)? != 0,
                        exclude: split(&r.get::<String>(1)?),
                    })
                },
            )
            .optional()
    }
}

fn split(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Queues the missed-call mails for `call`, just ended; how many.
pub(super) fn queue(conn: &Db, call: CallId, now: u64) -> Result<usize> {
    let row = conn
        .prepare_cached(
            "SELECT tenant_id, from_number, direction, ring_at, ended_at, missed_by,
                    caller_shown, started_at
             FROM calls WHERE call_id = ?1",
        )?
        .query_row(params![call.0 as i64], |r| {
            Ok((
                r.get::<TenantId>(0)?,
                r.get::<String>(1)?,
                r.get::<String>(2)?,
                r.get::<Option<i64>>(3)?,
                r.get::<Option<i64>>(4)?,
                r.get::<Option<String>>(5)?,
                r.get::<Option<String>>(6)?,
                r.get::<i64>(7)?,
            ))
        })
        .optional()?;
    let Some((tenant, from, direction, ring_at, ended_at, missed_by, shown, started)) = row else {
        return Ok(0);
    };
    let missed = missed_by.as_deref().map(split).unwrap_or_default();
    // The exceptions every person shares: internal, hidden, too short a ring.
    let hidden = from.is_empty()
        || from.eq_ignore_ascii_case("anonymous")
        || shown
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("anonymous"));
    let rang = match (ring_at, ended_at) {
        (Some(r), Some(e)) => e - r,
        _ => 0,
    };
    if missed.is_empty() || direction == "internal" || hidden || rang < MIN_RING_MS {
        return Ok(0);
    }
    let day = chrono::DateTime::from_timestamp_millis(started)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let when = chrono::DateTime::from_timestamp_millis(started)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default();
    let mut queued = 0;
    let mut mailed: Vec<i64> = Vec::new();
    for line in &missed {
        let person = conn
            .prepare_cached(
                "SELECT u.id, u.email, u.missed_call_exclude FROM lines l
                 JOIN users u ON u.id = l.user_id
                 WHERE l.tenant_id = ?1 AND l.ext = ?2 AND u.missed_call_mail = 1
                   AND u.email IS NOT NULL",
            )?
            .query_row(params![tenant, line], |r| {
                Ok((r.get::<i64>(0)?, r.get::<String>(1)?, r.get::<String>(2)?))
            })
            .optional()?;
        let Some((user, email, exclude)) = person else {
            continue;
        };
        // One person with several missed lines gets one mail.
        if mailed.contains(&user) || split(&exclude).contains(&from) {
            continue;
        }
        mailed.push(user);
        let first_today = conn
            .prepare_cached(
                "INSERT INTO missed_call_mails (tenant_id, user_id, caller, day)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            )?
            .execute(params![tenant, user, from, day])?;
        if first_today == 0 {
            continue;
        }
        let subject = format!("Missed call from {from}");
        let body = format!(
            "{from} called {line} at {when} and nobody answered.\r\n\r\nFurther calls from {from} today are not mailed.\r\n"
        );
        conn.prepare_cached(
            "INSERT INTO mail_outbox (tenant_id, recipient, subject, body, next_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![tenant, email, subject, body, now as i64])?;
        queued += 1;
    }
    // Yesterday's record is all "repeated on the same day" needs.
    conn.prepare_cached("DELETE FROM missed_call_mails WHERE day < ?1")?
        .execute(params![yesterday(started)])?;
    Ok(queued)
}

fn yesterday(at_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(at_ms - 86_400_000)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}
