//! The journal (filtered by time, number and direction; exported as the CLI's CSV)
//! and statistics (calls per hour and ASR drawn as SVG on the server, talk time and
//! each line's utilisation).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::i18n::Lang;
use super::layout::{duration, page, when, WebError};
use super::session::Session;
use crate::api::ApiState;

#[derive(Deserialize, Default)]
pub struct Filter {
    since: Option<String>,
    until: Option<String>,
    number: Option<String>,
    direction: Option<String>,
    csv: Option<String>,
}

/// A `date` input (or nothing) as unix milliseconds at midnight UTC.
fn day(s: &Option<String>) -> Option<u64> {
    let d = chrono::NaiveDate::parse_from_str(s.as_deref()?.trim(), "%Y-%m-%d").ok()?;
    Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis().max(0) as u64)
}

/// The journal table of `calls`, a row each.
pub fn table(lang: Lang, calls: &[actors::store::CallRecord]) -> Markup {
    html! {
        table #journal {
            thead { tr { th { "" } th { (lang.t("From")) } th { (lang.t("To")) } th { (lang.t("Direction")) }
                         th { (lang.t("Answered")) } th { (lang.t("Status")) } th { (lang.t("Duration")) } } }
            tbody { @for c in calls {
                tr { td { (when(c.started_at)) } td { (c.from) } td { (c.to) } td { (c.direction.as_str()) }
                     td { (c.answered_by.as_deref().unwrap_or("–")) }
                     td { (c.disposition.map_or("in progress", |d| d.as_str())) }
                     td { (c.duration_ms.map(duration).unwrap_or_default()) } }
            } }
        }
    }
}

pub async fn journal(
    State(state): State<Arc<ApiState>>,
    s: Session,
    Query(f): Query<Filter>,
) -> Result<Response, WebError> {
    let tenant = s.admin()?;
    let lang = s.lang();
    let since = day(&f.since).unwrap_or(0);
    // The whole day the filter ends with.
    let until = day(&f.until).map_or(u64::MAX, |u| u + 86_400_000);
    let number = f.number.clone().filter(|n| !n.trim().is_empty());
    let direction = f
        .direction
        .clone()
        .filter(|d| ["internal", "inbound", "outbound"].contains(&d.as_str()));
    let limit = if f.csv.is_some() { 100_000 } else { 500 };
    let (n, d) = (number.clone(), direction.clone());
    let calls = state
        .store
        .call(move |st| {
            st.journal_search(tenant, (since, until), n.as_deref(), d.as_deref(), limit)
        })
        .await?;
    if f.csv.is_some() {
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"journal.csv\"",
                ),
            ],
            crate::cli::journal::csv_of(&calls),
        )
            .into_response());
    }
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    let body = html! {
        form.card method="get" action="/web/journal" {
            label { (lang.t("Since")) input type="date" name="since" value=(opt(&f.since)); }
            label { (lang.t("Until")) input type="date" name="until" value=(opt(&f.until)); }
            label { (lang.t("Number")) input name="number" value=(opt(&f.number)); }
            label { (lang.t("Direction")) select name="direction" {
                option value="" { (lang.t("all")) }
                @for x in ["internal", "inbound", "outbound"] { option selected[direction.as_deref() == Some(x)] { (x) } } } }
            button type="submit" { (lang.t("Filter")) } " "
            button.quiet type="submit" name="csv" value="1" { (lang.t("Export CSV")) }
        }
        (table(lang, &calls))
    };
    Ok(page(&s, "/web/journal", lang.t("Journal"), body).into_response())
}

/// Bars of calls per hour (answered darker), with the ASR line above, as SVG.
fn chart(lang: Lang, hours: &[actors::store::HourStats]) -> Markup {
    let (w, h, pad) = (720.0_f64, 200.0_f64, 24.0_f64);
    let max = hours.iter().map(|x| x.calls).max().unwrap_or(0).max(1) as f64;
    let bar = if hours.is_empty() {
        0.0
    } else {
        (w - pad) / hours.len() as f64
    };
    let y = |v: f64| h - pad - v / max * (h - 2.0 * pad);
    let asr_points: Vec<String> = hours
        .iter()
        .enumerate()
        .map(|(i, x)| {
            format!(
                "{:.1},{:.1}",
                pad + bar * (i as f64 + 0.5),
                h - pad - x.asr() / 100.0 * (h - 2.0 * pad)
            )
        })
        .collect();
    html! {
        svg #chart width=(w) height=(h) viewBox={"0 0 " (w) " " (h)} role="img" aria-label=(lang.t("Calls per hour")) {
            line x1=(pad) y1=(h - pad) x2=(w) y2=(h - pad) stroke="#d8dde3" {}
            @for (i, x) in hours.iter().enumerate() {
                @let bx = pad + bar * i as f64;
                rect x=(format!("{bx:.1}")) y=(format!("{:.1}", y(x.calls as f64))) width=(format!("{:.1}", (bar - 2.0).max(1.0)))
                     height=(format!("{:.1}", h - pad - y(x.calls as f64))) fill="#9cc3ea" { title { (x.calls) " " (lang.t("Calls")) } }
                rect x=(format!("{bx:.1}")) y=(format!("{:.1}", y(x.answered as f64))) width=(format!("{:.1}", (bar - 2.0).max(1.0)))
                     height=(format!("{:.1}", h - pad - y(x.answered as f64))) fill="#0b5cad" {}
                @if i % 4 == 0 { text x=(format!("{bx:.1}")) y=(h - 6.0) { (chrono::DateTime::from_timestamp_millis(x.hour as i64).map(|t| t.format("%H:00").to_string()).unwrap_or_default()) } }
            }
            polyline points=(asr_points.join(" ")) fill="none" stroke="#1b7f3b" stroke-width="2" {}
            text x="4" y="14" { (max as u64) " " (lang.t("Calls")) " · " (lang.t("ASR")) " (green) 0–100 %" }
        }
    }
}

pub async fn statistics(
    State(state): State<Arc<ApiState>>,
    s: Session,
) -> Result<Response, WebError> {
    let tenant = s.admin()?;
    let lang = s.lang();
    let until = actors::clock::unix_millis();
    let since = until.saturating_sub(24 * 3_600_000);
    let st = state
        .store
        .call(move |st| st.call_statistics(tenant, since, until))
        .await?;
    let talk: u64 = st.hours.iter().map(|h| h.talk_ms).sum();
    let body = html! {
        p #totals { (lang.t("Calls")) ": " (st.calls) " · " (lang.t("Answered")) ": " (st.answered)
            " · " (lang.t("ASR")) ": " (format!("{:.1} %", st.asr())) " · " (lang.t("Talk time")) ": " (duration(talk)) }
        (chart(lang, &st.hours))
        h2 { (lang.t("Lines")) }
        table #utilisation {
            thead { tr { th { (lang.t("Line")) } th { (lang.t("Calls")) } th { (lang.t("Talk time")) } th { "%" } } }
            tbody { @for l in &st.lines { tr { td { (l.line) } td { (l.calls) } td { (duration(l.talk_ms)) } td { (format!("{:.1}", l.utilisation)) } } } }
        }
    };
    Ok(page(&s, "/web/statistics", lang.t("Statistics"), body).into_response())
}
