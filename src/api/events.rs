//! Live events over WebSocket: `GET /api/v1/events` (the key in `Authorization`, or
//! `?key=` for browsers, which cannot set headers on a WebSocket). One JSON text
//! message per event, in the order the switch published them:
//! - `{"type": "call", "event": "started" | "ringing" | "answered" | "forwarded" |
//!   "transferred" | "queued" | "trunk" | "ended" | …, "call": ID, "at": MS, …}`;
//! - `{"type": "agent", "queue", "agent", "status", "at"}`;
//! - `{"type": "trunk", "trunk", "status", "reason", "at"}`;
//! - `{"type": "line", "line", "at", "event": "calls", "state": "free" | "ringing" |
//!   "in call" | "held"}`, `{… "event": "settings", "dnd", "forwarding"}` and
//!   `{… "event": "mailbox", "new", "old"}` (a user's key: its own line's).
//!
//! A tenant administrator's key gets all of its tenant's; a user's key the calls its
//! line places, is called on or answers. Events are handed over through an unbounded
//! channel per socket (the buses never wait for a listener); a socket that closes
//! unsubscribes itself.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use actors::journal::{CallEvent, CallEventKind};
use actors::proto::events::{LineEvent, LineEventKind};
use actors::store::ApiScope;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::{ApiError, ApiState};

#[derive(Deserialize)]
pub struct KeyQuery {
    key: Option<String>,
}

/// A call event as JSON.
pub fn call_json(e: &CallEvent) -> Value {
    let mut v = json!({"type": "call", "call": e.call.0, "at": e.at});
    let (name, fields) = match &e.kind {
        CallEventKind::CallStarted {
            from,
            to,
            direction,
            caller_line,
        } => (
            "started",
            json!({"from": from, "to": to, "direction": direction.as_str(), "caller_line": caller_line}),
        ),
        CallEventKind::LegRinging { .. } => ("ringing", json!({})),
        CallEventKind::CallAnswered { answered_by } => {
            ("answered", json!({"answered_by": answered_by}))
        }
        CallEventKind::CallForwarded { from, to, reason } => (
            "forwarded",
            json!({"from": from, "to": to, "reason": reason}),
        ),
        CallEventKind::CallTransferred { to } => ("transferred", json!({"to": to})),
        CallEventKind::CallPickedUp { by } => ("picked_up", json!({"by": by})),
        CallEventKind::CallQueued { queue } => ("queued", json!({"queue": queue})),
        CallEventKind::CallTakenBy { answered_by } => {
            ("taken", json!({"answered_by": answered_by}))
        }
        CallEventKind::CallTrunk { trunk, direction } => (
            "trunk",
            json!({"trunk": trunk, "direction": direction.as_str()}),
        ),
        CallEventKind::CallRecorded { path } => ("recorded", json!({"path": path})),
        CallEventKind::CallEnded {
            disposition,
            hangup_side,
            code,
            reason,
        } => (
            "ended",
            json!({"disposition": disposition.as_str(), "side": hangup_side.as_str(), "code": code, "reason": reason}),
        ),
        // Per-leg detail and journal bookkeeping are not live events.
        _ => return Value::Null,
    };
    v["event"] = json!(name);
    if let (Some(v), Some(f)) = (v.as_object_mut(), fields.as_object()) {
        v.extend(f.clone());
    }
    v
}

/// A line event as JSON.
fn line_json(e: &LineEvent) -> Value {
    let mut v = json!({"type": "line", "line": e.line, "at": e.at});
    let fields = match &e.kind {
        LineEventKind::Calls(state) => json!({"event": "calls", "state": state}),
        LineEventKind::Settings { dnd, forwarding } => {
            json!({"event": "settings", "dnd": dnd, "forwarding": forwarding})
        }
        LineEventKind::Mailbox { new, old } => json!({"event": "mailbox", "new": new, "old": old}),
    };
    if let (Some(v), Some(f)) = (v.as_object_mut(), fields.as_object()) {
        v.extend(f.clone());
    }
    v
}

/// The calls a user's line is in: a call joins with an event naming the line, and
/// leaves when it ends.
#[derive(Default)]
struct LineCalls(Mutex<HashSet<u64>>);

impl LineCalls {
    fn concerns(&self, e: &CallEvent, line: &str) -> bool {
        let mut calls = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let named = match &e.kind {
            CallEventKind::CallStarted {
                from,
                to,
                caller_line,
                ..
            } => from == line || to == line || caller_line.as_deref() == Some(line),
            CallEventKind::CallAnswered { answered_by } => answered_by == line,
            CallEventKind::CallForwarded { from, to, .. } => from == line || to == line,
            CallEventKind::CallPickedUp { by } => by == line,
            _ => false,
        };
        if named {
            calls.insert(e.call.0);
        }
        let ours = calls.contains(&e.call.0);
        if matches!(e.kind, CallEventKind::CallEnded { .. }) {
            calls.remove(&e.call.0);
        }
        ours
    }
}

pub async fn events(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    mut headers: HeaderMap,
    Query(q): Query<KeyQuery>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    if let Some(k) = q.key {
        if let Ok(v) = format!("Bearer {k}").parse() {
            headers.insert(axum::http::header::AUTHORIZATION, v);
        }
    }
    let scope = state.principal(&headers, from).await?;
    let ws = ws.map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::UPGRADE_REQUIRED,
            "live events are a WebSocket: Upgrade: websocket",
        )
    })?;
    let admin = matches!(scope, ApiScope::Admin { .. });
    let (tenant, line) = match scope {
        ApiScope::Admin { tenant } => (tenant, None),
        ApiScope::User { tenant, line } => (tenant, Some(line)),
        ApiScope::Operator => {
            return Err(ApiError::forbidden(
                "live events are a tenant's: use its key",
            ))
        }
    };
    let Some(buses) = state.events.clone() else {
        return Err(ApiError::not_found("no live events here"));
    };
    let rx = subscribe(&buses, tenant, line, admin);
    Ok(ws.on_upgrade(move |socket| pump(socket, rx)))
}

/// The events of `tenant` (those of line `line` only, when given; agents' and
/// trunks' too for its administrator) as JSON texts, as the switch publishes them.
pub fn subscribe(
    buses: &actors::switch::SwitchEvents,
    tenant: actors::store::TenantId,
    line: Option<String>,
    admin: bool,
) -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel::<String>();
    let calls = Arc::new(LineCalls::default());
    let own = line.clone();
    let call_tx = tx.clone();
    buses.calls.subscribe_with(move |e| {
        if e.tenant != tenant {
            return !call_tx.is_closed();
        }
        if let Some(l) = &line {
            if !calls.concerns(e, l) {
                return !call_tx.is_closed();
            }
        }
        let v = call_json(e);
        v.is_null() || call_tx.send(v.to_string()).is_ok()
    });
    let line_tx = tx.clone();
    buses.lines.subscribe_with(move |e| {
        if e.tenant != tenant || own.as_ref().is_some_and(|l| *l != e.line) {
            return !line_tx.is_closed();
        }
        line_tx.send(line_json(e).to_string()).is_ok()
    });
    if admin {
        let agent_tx = tx.clone();
        buses.agents.subscribe_with(move |e| {
            if e.tenant != tenant {
                return !agent_tx.is_closed();
            }
            let v = json!({"type": "agent", "queue": e.queue, "agent": e.agent, "status": e.status.as_str(), "at": e.at});
            agent_tx.send(v.to_string()).is_ok()
        });
        let trunk_tx = tx;
        buses.trunks.subscribe_with(move |e| {
            if e.tenant != tenant {
                return !trunk_tx.is_closed();
            }
            let v = json!({"type": "trunk", "trunk": e.trunk, "status": e.status.as_str(), "reason": e.reason, "at": e.at});
            trunk_tx.send(v.to_string()).is_ok()
        });
    }
    rx
}

/// Sends the events to the socket until either side ends.
pub async fn pump(mut socket: WebSocket, mut rx: mpsc::UnboundedReceiver<String>) {
    loop {
        tokio::select! {
            e = rx.recv() => match e {
                Some(text) => {
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                None => return,
            },
            m = socket.recv() => match m {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
