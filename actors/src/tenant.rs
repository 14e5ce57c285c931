//! One supervisor per tenant: it starts line actors when their first request comes
//! (or at start when they have stored registrations) and restarts a line that fails,
//! from the store, so its registrations survive.

use std::collections::HashMap;

use ractor::{
    Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent,
};
use std::sync::Arc;

use crate::call::{CallActor, CallArgs, CallPermit, CallTarget, SharedRecord};
use crate::directory::{Directory, TenantEntry};
use crate::line::{LineActor, LineArgs, LineMsg, LineShared};
use crate::sip::Flow;
use crate::sip::Incoming;
use crate::store::TenantId;

pub enum TenantMsg {
    /// A request for a line that may not have an actor yet.
    RouteNew(String, Box<Incoming>),
    /// A request whose line actor was just gone.
    Route(Box<Incoming>),
    /// Start the actors of lines with stored registrations.
    StartRegistered(Vec<String>),
    /// Filled in by the switch once the supervisor's own entry exists.
    SetEntry(TenantEntry),
    /// An authenticated INVITE from `caller`: find the callee and start the call.
    StartCall { caller: String, inc: Box<Incoming> },
    /// The registered devices of extension `ext` (a call transferring to it), or the
    /// status code and reason to fail with.
    Targets {
        ext: String,
        reply: RpcReplyPort<Result<Vec<CallTarget>, (u16, &'static str)>>,
    },
}

impl std::fmt::Debug for TenantMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TenantMsg::RouteNew(..) => "RouteNew",
            TenantMsg::Route(_) => "Route",
            TenantMsg::StartRegistered(_) => "StartRegistered",
            TenantMsg::SetEntry(_) => "SetEntry",
            TenantMsg::StartCall { .. } => "StartCall",
            TenantMsg::Targets { .. } => "Targets",
        })
    }
}

#[derive(Debug, Clone)]
pub struct TenantArgs {
    pub id: TenantId,
    pub directory: Arc<Directory>,
    pub shared: LineShared,
}

pub struct TenantState {
    args: TenantArgs,
    entry: Option<TenantEntry>,
    by_actor: HashMap<ActorId, String>,
    restarts: HashMap<String, u32>,
    /// The calls this supervisor started, by actor.
    calls: HashMap<ActorId, CallEntry>,
}

/// What the supervisor keeps of a running call: its place in the switch's capacity,
/// given back when the call's actor ends (however it ends), and the record it ends
/// the call from if the actor fails.
struct CallEntry {
    _permit: CallPermit,
    record: SharedRecord,
}

pub struct TenantSupervisor;

impl TenantSupervisor {
    async fn ensure_line(
        myself: &ActorRef<TenantMsg>,
        state: &mut TenantState,
        ext: &str,
    ) -> Option<ActorRef<LineMsg>> {
        let entry = state.entry.clone()?;
        if let Some(l) = state.args.directory.line(entry.id, ext) {
            return Some(l);
        }
        let (tid, e) = (entry.id, ext.to_owned());
        let exists = state
            .args
            .shared
            .store
            .call(move |s| Ok(s.line(tid, &e)?.is_some()))
            .await
            .ok()?;
        if !exists {
            return None;
        }
        Self::spawn_line(myself, state, entry, ext).await
    }

    async fn spawn_line(
        myself: &ActorRef<TenantMsg>,
        state: &mut TenantState,
        entry: TenantEntry,
        ext: &str,
    ) -> Option<ActorRef<LineMsg>> {
        let args = LineArgs {
            tenant: entry.clone(),
            ext: ext.to_owned(),
            shared: state.args.shared.clone(),
        };
        match Actor::spawn_linked(None, LineActor, args, myself.get_cell()).await {
            Ok((actor, _)) => {
                state.by_actor.insert(actor.get_id(), ext.to_owned());
                state.args.directory.set_line(entry.id, ext, actor.clone());
                Some(actor)
            }
            Err(e) => {
                tracing::error!(ext, error = %e, "line actor failed to start");
                None
            }
        }
    }
}

impl TenantSupervisor {
    /// The registered devices of extension `ext`: 404 when there is no such line, 480
    /// when it has no device.
    async fn targets(
        myself: &ActorRef<TenantMsg>,
        state: &mut TenantState,
        ext: &str,
    ) -> Result<Vec<CallTarget>, (u16, &'static str)> {
        let Some(line) = Self::ensure_line(myself, state, ext).await else {
            return Err((404, "Not Found"));
        };
        let bindings = ractor::call!(line, LineMsg::Bindings).unwrap_or_default();
        let targets: Vec<CallTarget> = bindings
            .into_iter()
            .filter_map(|b| {
                Some(CallTarget {
                    flow: Flow::parse(&b.flow)?,
                    contact: b.contact,
                })
            })
            .collect();
        if targets.is_empty() {
            return Err((480, "Temporarily Unavailable"));
        }
        Ok(targets)
    }

    /// Routes a call to an extension of this tenant: every registered contact rings.
    async fn start_call(
        myself: &ActorRef<TenantMsg>,
        state: &mut TenantState,
        caller: String,
        inc: Box<Incoming>,
    ) {
        let Some(entry) = state.entry.clone() else {
            return inc.respond(503, "Service Unavailable");
        };
        // An INVITE with Replaces (RFC 3891) goes to the call owning that dialog.
        if let Some(replaces) = inc.msg.replaces() {
            let call = replaces
                .ok()
                .and_then(|r| state.args.directory.call(&r.call_id));
            let Some(call) = call else {
                return inc.respond(481, "Call/Transaction Does Not Exist");
            };
            if let Err(ractor::MessagingErr::SendErr(crate::call::CallMsg::Replace(_, inc))) =
                call.send_message(crate::call::CallMsg::Replace(entry.id, inc))
            {
                inc.respond(481, "Call/Transaction Does Not Exist");
            }
            return;
        }
        let calls = state.args.shared.calls.clone();
        let permit = match calls.admit(tokio::time::Instant::now()) {
            Ok(p) => p,
            Err(refusal) => {
                tracing::warn!(tenant = %entry.name, active = calls.active(), "call refused: switch at capacity");
                let mut w = engine::sip::MessageWriter::response_to(
                    &inc.msg,
                    503,
                    "Service Unavailable",
                    Some("pbx"),
                );
                w.header_fmt("Retry-After", refusal.retry_after);
                return inc.reply.send(503, w.finish());
            }
        };
        let Some(callee) = inc
            .msg
            .uri()
            .and_then(|u| u.user_unescaped().map(|u| u.into_owned()))
        else {
            return inc.respond(404, "Not Found");
        };
        let targets = match Self::targets(myself, state, &callee).await {
            Ok(t) => t,
            Err((code, reason)) => return inc.respond(code, reason),
        };
        let record = SharedRecord::default();
        let args = CallArgs {
            bus: state.args.shared.bus.clone(),
            ports: state.args.shared.ports.clone(),
            tenant: entry,
            caller,
            callee,
            inc,
            targets,
            out: state.args.shared.out.clone(),
            directory: state.args.directory.clone(),
            ring_timeout: calls.ring_timeout,
            record: record.clone(),
        };
        match Actor::spawn_linked(None, CallActor, args, myself.get_cell()).await {
            Ok((call, _)) => {
                state.calls.insert(
                    call.get_id(),
                    CallEntry {
                        _permit: permit,
                        record,
                    },
                );
            }
            Err(e) => tracing::error!(error = %e, "call actor failed to start"),
        }
    }
}

impl Actor for TenantSupervisor {
    type Msg = TenantMsg;
    type State = TenantState;
    type Arguments = TenantArgs;

    async fn pre_start(
        &self,
        _: ActorRef<TenantMsg>,
        args: TenantArgs,
    ) -> Result<TenantState, ActorProcessingErr> {
        Ok(TenantState {
            args,
            entry: None,
            by_actor: HashMap::new(),
            restarts: HashMap::new(),
            calls: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<TenantMsg>,
        msg: TenantMsg,
        state: &mut TenantState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            TenantMsg::SetEntry(e) => state.entry = Some(e),
            TenantMsg::RouteNew(ext, inc) => match Self::ensure_line(&myself, state, &ext).await {
                Some(line) => {
                    let _ = line.send_message(LineMsg::Request(inc));
                }
                None => inc.respond(404, "Not Found"),
            },
            TenantMsg::Route(inc) => {
                let ext = inc
                    .msg
                    .to()
                    .and_then(|t| t.uri.user_unescaped().map(|u| u.into_owned()));
                match ext {
                    Some(ext) => {
                        let _ = myself.send_message(TenantMsg::RouteNew(ext, inc));
                    }
                    None => inc.respond(404, "Not Found"),
                }
            }
            TenantMsg::StartCall { caller, inc } => {
                Self::start_call(&myself, state, caller, inc).await
            }
            TenantMsg::Targets { ext, reply } => {
                let _ = reply.send(Self::targets(&myself, state, &ext).await);
            }
            TenantMsg::StartRegistered(exts) => {
                if let Some(entry) = state.entry.clone() {
                    for ext in exts {
                        Self::spawn_line(&myself, state, entry.clone(), &ext).await;
                    }
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<TenantMsg>,
        evt: SupervisionEvent,
        state: &mut TenantState,
    ) -> Result<(), ActorProcessingErr> {
        match evt {
            SupervisionEvent::ActorFailed(cell, err)
                if state.calls.contains_key(&cell.get_id()) =>
            {
                if let Some(call) = state.calls.remove(&cell.get_id()) {
                    tracing::error!(error = %err, "call actor failed; ending its call");
                    let shared = &state.args.shared;
                    crate::call::supervision::end_failed_call(
                        &call.record,
                        &shared.out,
                        &state.args.directory,
                        &shared.bus,
                    );
                }
            }
            SupervisionEvent::ActorTerminated(cell, ..)
                if state.calls.contains_key(&cell.get_id()) =>
            {
                state.calls.remove(&cell.get_id());
            }
            SupervisionEvent::ActorFailed(cell, err) => {
                let Some(ext) = state.by_actor.remove(&cell.get_id()) else {
                    return Ok(());
                };
                let Some(entry) = state.entry.clone() else {
                    return Ok(());
                };
                state.args.directory.remove_line(entry.id, &ext);
                let n = state.restarts.entry(ext.clone()).or_insert(0);
                *n += 1;
                tracing::error!(tenant = %entry.name, %ext, error = %err, restarts = *n, "line actor failed; restarting from the store");
                Self::spawn_line(&myself, state, entry, &ext).await;
            }
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                if let (Some(ext), Some(entry)) =
                    (state.by_actor.remove(&cell.get_id()), &state.entry)
                {
                    state.args.directory.remove_line(entry.id, &ext);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The cell of a tenant supervisor, for linking.
pub fn cell(r: &ActorRef<TenantMsg>) -> ActorCell {
    r.get_cell()
}
