//! The live monitor: every line's state (free, ringing, in call, held; DND and
//! forwarding marked), the calls in progress with their duration, the queues'
//! wallboard (callers waiting, the longest wait, agents by state, today's service
//! level) and the trunks' status. The page is drawn from the switch's state, then
//! kept current by the API's live events over a WebSocket on the session's cookie
//! (`/web/monitor/events`); the script applies events in batches, once a frame, so
//! a thousand lines changing every second cost a thousand small DOM updates.

use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::{html, PreEscaped};

use super::layout::{page, WebError};
use super::session::Session;
use crate::api::ApiState;

const SCRIPT: &str = include_str!("assets/monitor.js");

/// A queue on the wallboard: its number, each waiting caller's call and when it
/// joined, its agents by state.
type QueueRow = (String, Vec<(u64, u64)>, Vec<(String, usize)>);

pub async fn monitor(State(state): State<Arc<ApiState>>, s: Session) -> Result<Response, WebError> {
    let tenant = s.admin()?;
    let lang = s.lang();
    let (lines, features, calls, agents, trunks, stats) = state
        .store
        .call(move |st| {
            let mut trunks = Vec::new();
            for t in st.trunks(tenant)? {
                let state = st.trunk_state(tenant, &t.name)?;
                trunks.push((t.name, state.map_or("starting".to_owned(), |x| x.status)));
            }
            Ok((
                st.lines(tenant)?,
                st.all_line_features(tenant)?,
                st.active_calls(tenant)?,
                st.agent_logins(tenant)?,
                trunks,
                st.queue_stats(tenant, None, 20)?,
            ))
        })
        .await?;
    let states = super::users::line_states(&state, tenant).await;
    let now = actors::clock::unix_millis();
    // Queues: callers waiting now (queued, not answered), agents by state.
    let mut queues: Vec<String> = agents
        .iter()
        .filter(|a| a.kind == "queue")
        .map(|a| a.group.clone())
        .collect();
    queues.dedup();
    let wall: Vec<QueueRow> = queues
        .iter()
        .map(|q| {
            let waiting = calls
                .iter()
                .filter(|c| c.queue.as_deref() == Some(q) && c.answered_at.is_none())
                .map(|c| (c.call.0, c.queued_at.unwrap_or(c.started_at)))
                .collect();
            let mut by_state: Vec<(String, usize)> = Vec::new();
            for a in agents.iter().filter(|a| a.group == *q) {
                let st = if a.logged_in {
                    a.live.as_ref().map_or("free", |(s, _)| s.as_str())
                } else {
                    "logged out"
                };
                match by_state.iter_mut().find(|(s, _)| s == st) {
                    Some((_, n)) => *n += 1,
                    None => by_state.push((st.to_owned(), 1)),
                }
            }
            (q.clone(), waiting, by_state)
        })
        .collect();
    let body = html! {
        section.card #wallboard {
            h2 { (lang.t("Queues")) }
            table {
                thead { tr { th { (lang.t("Number")) } th { (lang.t("Waiting")) } th { (lang.t("Longest wait")) } th { (lang.t("Agents")) } th { (lang.t("Service level")) } } }
                tbody { @for (q, w, by_state) in &wall {
                    tr data-queue=(q) {
                        td { (q) }
                        td.waiting data-calls=(w.iter().map(|(c, at)| format!("{c}:{at}")).collect::<Vec<_>>().join(",")) { (w.len()) }
                        td.longest data-oldest=(w.iter().map(|(_, at)| *at).min().unwrap_or(0)) { }
                        td.agents { @for (st, n) in by_state { span { (st) ": " (n) " " } } }
                        td { (stats.iter().find(|x| x.queue == *q).map(|x| format!("{:.0} %", x.service_level)).unwrap_or_else(|| "–".into())) }
                    }
                } }
            }
        }
        section.card #trunk-status {
            h2 { (lang.t("Trunks")) }
            @for (name, status) in &trunks { span.tile data-trunk=(name) { (name) ": " span.status { (status) } } " " }
        }
        section.card {
            h2 { (lang.t("Active calls")) }
            table #calls {
                thead { tr { th { (lang.t("From")) } th { (lang.t("To")) } th { (lang.t("State")) } th { (lang.t("Duration")) } } }
                tbody { @for c in &calls {
                    tr id={"call-" (c.call.0)} data-since=(c.answered_at.unwrap_or(c.started_at)) {
                        td { (c.from) } td { (c.to) }
                        td.callstate { (if c.answered_at.is_some() { lang.t("in call") } else { lang.t("ringing") }) }
                        td.duration { }
                    }
                } }
            }
        }
        section.card {
            h2 { (lang.t("Lines")) }
            div.grid #lines {
                @for l in &lines {
                    @let st = states.get(&l.ext).copied().unwrap_or("free");
                    @let f = features.get(&l.ext);
                    div.tile id={"line-" (l.ext)} data-state=(st) {
                        strong { (l.ext) } " "
                        span class={"state state-" (st.replace(' ', "-"))} { (lang.t(st)) }
                        span.dnd hidden[!f.is_some_and(|f| f.dnd)] { " · " (lang.t("DND")) }
                        span.fwd hidden[!f.is_some_and(|f| f.forwards.always.is_some() || f.admin_forward.is_some())] { " · " (lang.t("forwarding")) }
                    }
                }
            }
        }
        script #texts type="application/json" {
            (PreEscaped(serde_json::json!({
                "free": lang.t("free"), "ringing": lang.t("ringing"), "in call": lang.t("in call"), "held": lang.t("held"),
                "now": now,
            }).to_string().replace("</", "<\\/")))
        }
        script { (PreEscaped(SCRIPT)) }
    };
    Ok(page(&s, "/web/monitor", lang.t("Live monitor"), body).into_response())
}

/// The tenant's live events for the monitor, on the session's cookie.
pub async fn events(
    State(state): State<Arc<ApiState>>,
    s: Session,
    ws: WebSocketUpgrade,
) -> Result<Response, WebError> {
    let tenant = s.admin()?;
    let Some(buses) = state.events.clone() else {
        return Err(WebError::NotFound(s.lang()));
    };
    let rx = crate::api::events::subscribe(&buses, tenant, None, true);
    Ok(ws.on_upgrade(move |socket| crate::api::events::pump(socket, rx)))
}
