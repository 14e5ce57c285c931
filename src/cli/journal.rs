//! `pbx journal`: a tenant's calls from the journal, newest first, as a table or CSV.

use actors::store::StoreAt;

use actors::store::CallRecord;
use chrono::{DateTime, NaiveDate};

use super::CliError;

/// `--since`/`--until`: an RFC 3339 time, or a date (midnight UTC).
fn since_millis(s: &str) -> Result<u64, CliError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(t.timestamp_millis().max(0) as u64);
    }
    let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
        CliError::Usage(format!(
            "--since {s:?}: a date (2026-11-30) or a time (2026-11-30T08:00:00+01:00)"
        ))
    })?;
    let t = d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    Ok(t.timestamp_millis().max(0) as u64)
}

fn when(ms: u64) -> String {
    DateTime::from_timestamp_millis(ms as i64)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

/// A CSV field: quoted when it holds a comma, a quote or a line break.
fn field(s: &str) -> String {
    // A number from outside starting like a formula is never run by a spreadsheet.
    let s = if s.starts_with(['=', '+', '-', '@']) && !s[1..].bytes().all(|b| b.is_ascii_digit()) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

const HEADER: &str =
    "id,started_at,from,to,direction,caller_line,trunk,answered_by,disposition,cause_code,duration_ms,private,project";

fn row(c: &CallRecord) -> String {
    let opt = |v: Option<&str>| v.map(field).unwrap_or_default();
    [
        c.id.to_string(),
        when(c.started_at),
        field(&c.from),
        field(&c.to),
        c.direction.as_str().to_owned(),
        opt(c.caller_line.as_deref()),
        opt(c.trunk.as_deref()),
        opt(c.answered_by.as_deref()),
        c.disposition
            .map(|d| d.as_str().to_owned())
            .unwrap_or_default(),
        c.cause_code.map(|x| x.to_string()).unwrap_or_default(),
        c.duration_ms.map(|x| x.to_string()).unwrap_or_default(),
        u8::from(c.private).to_string(),
        opt(c.project.as_deref()),
    ]
    .join(",")
}

/// The calls as CSV, a header first (`pbx journal --csv`, the web admin's export).
pub fn csv_of(calls: &[CallRecord]) -> String {
    let mut out = String::from(HEADER);
    out.push('\n');
    for c in calls {
        out.push_str(&row(c));
        out.push('\n');
    }
    out
}

pub fn journal(
    at: &StoreAt,
    tenant: &str,
    since: Option<&str>,
    limit: usize,
    csv: bool,
) -> Result<(), CliError> {
    let store = super::admin::open(at)?;
    let t = store.tenant(tenant)?;
    let since = since.map(since_millis).transpose()?;
    let fetch = if since.is_some() { 100_000 } else { limit };
    let calls: Vec<CallRecord> = store
        .calls(t.id, fetch)?
        .into_iter()
        .filter(|c| since.is_none_or(|s| c.started_at >= s))
        .take(limit)
        .collect();
    let mut out = String::new();
    if csv {
        out = csv_of(&calls);
    } else {
        for c in &calls {
            let outcome = match (c.disposition, c.cause_code) {
                (Some(d), Some(code)) => format!("{} ({code})", d.as_str()),
                (Some(d), None) => d.as_str().to_owned(),
                _ => "in progress".to_owned(),
            };
            let trunk = c
                .trunk
                .as_deref()
                .map(|t| format!(" via {t}"))
                .unwrap_or_default();
            out.push_str(&format!(
                "{}  {} → {}  {}{trunk}  {outcome}{}\n",
                when(c.started_at),
                c.from,
                c.to,
                c.direction.as_str(),
                c.answered_by
                    .as_deref()
                    .map(|a| format!(", answered by {a}"))
                    .unwrap_or_default()
            ));
        }
    }
    super::print_out(&out);
    Ok(())
}

/// `pbx journal --stats`: calls per hour, ASR and each line's utilisation over
/// `[since, until)` (the last 24 hours by default); with `csv`, the hours as CSV.
pub fn statistics(
    at: &StoreAt,
    tenant: &str,
    (since, until): (Option<&str>, Option<&str>),
    csv: bool,
) -> Result<(), CliError> {
    let store = super::admin::open(at)?;
    let t = store.tenant(tenant)?;
    let until = match until {
        Some(u) => since_millis(u)?,
        None => actors::clock::unix_millis(),
    };
    let since = match since {
        Some(s) => since_millis(s)?,
        None => until.saturating_sub(24 * 3_600_000),
    };
    if since >= until {
        return Err(CliError::Usage("--since must be before --until".into()));
    }
    let s = store.call_statistics(t.id, since, until)?;
    if csv {
        super::print_out(&s.hours_csv());
        return Ok(());
    }
    let mut out = format!(
        "{} to {}: {} calls, {} answered, ASR {:.1} %\n",
        when(since),
        when(until),
        s.calls,
        s.answered,
        s.asr()
    );
    for h in &s.hours {
        out.push_str(&format!(
            "  {}  {} calls, ASR {:.1} %, {} s talking\n",
            when(h.hour),
            h.calls,
            h.asr(),
            h.talk_ms / 1000
        ));
    }
    for l in &s.lines {
        out.push_str(&format!(
            "  line {}: {} calls, {} s, {:.2} % of the time\n",
            l.line,
            l.calls,
            l.talk_ms / 1000,
            l.utilisation
        ));
    }
    super::print_out(&out);
    Ok(())
}
