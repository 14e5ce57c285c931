//! One actor per line (extension): it owns the line's registrations, answers its
//! REGISTERs through the engine's registrar, persists every change and expires
//! bindings on time.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use engine::auth::{challenge_response, check, AuthFailure, AuthKind, AuthThrottle, Nonces};
use engine::registrar::{Binding, LineCredentials, Policy, Registrar};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::task::JoinHandle;

use crate::clock::unix_now;
use crate::directory::TenantEntry;
use crate::sip::Incoming;
use crate::store::StoreHandle;
use crate::tenant::TenantMsg;

pub enum LineMsg {
    /// A REGISTER for this line, or a new call (INVITE) from it.
    Request(Box<Incoming>),
    /// The earliest binding may have run out.
    Expire,
    Bindings(RpcReplyPort<Vec<Binding>>),
}

impl std::fmt::Debug for LineMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LineMsg::Request(_) => f.write_str("Request"),
            LineMsg::Expire => f.write_str("Expire"),
            LineMsg::Bindings(_) => f.write_str("Bindings"),
        }
    }
}

/// Shared by all lines of a switch.
#[derive(Debug, Clone)]
pub struct LineShared {
    pub store: StoreHandle,
    pub nonces: Arc<Nonces>,
    pub throttle: Arc<Mutex<AuthThrottle>>,
    pub policy: Policy,
    pub out: Arc<crate::sip::SipOut>,
    /// The digest algorithms challenges offer, in order (the first is preferred).
    pub digest_offer: Vec<engine::auth::Algorithm>,
    /// Where calls publish their events (the journal listens).
    pub bus: crate::journal::EventBus,
    /// RTP ports for the calls' media relays.
    pub ports: Arc<crate::media_relay::PortPool>,
    /// Ring time and capacity for calls, shared by every tenant.
    pub calls: Arc<crate::call::CallLimits>,
}

#[derive(Debug, Clone)]
pub struct LineArgs {
    pub tenant: TenantEntry,
    pub ext: String,
    pub shared: LineShared,
}

pub struct LineState {
    args: LineArgs,
    creds: LineCredentials,
    registrar: Registrar,
    expiry_timer: Option<JoinHandle<Result<(), ractor::MessagingErr<LineMsg>>>>,
}

pub struct LineActor;

impl Actor for LineActor {
    type Msg = LineMsg;
    type State = LineState;
    type Arguments = LineArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<LineMsg>,
        args: LineArgs,
    ) -> Result<LineState, ActorProcessingErr> {
        let (tid, ext) = (args.tenant.id, args.ext.clone());
        let (record, bindings) = args
            .shared
            .store
            .call(move |s| Ok((s.line(tid, &ext)?, s.bindings(tid, &ext)?)))
            .await?;
        let record = record.ok_or_else(|| format!("line {} vanished from the store", args.ext))?;
        let creds = LineCredentials {
            username: args.ext.clone(),
            realm: args.tenant.realm.to_string(),
            ha1_md5: record.ha1_md5,
            ha1_sha256: record.ha1_sha256,
            offer: args.shared.digest_offer.clone(),
        };
        let mut state = LineState {
            registrar: Registrar::new(args.shared.policy, bindings),
            args,
            creds,
            expiry_timer: None,
        };
        expire_and_rearm(&myself, &mut state);
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<LineMsg>,
        msg: LineMsg,
        state: &mut LineState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            LineMsg::Request(inc) => {
                #[cfg(debug_assertions)]
                if inc
                    .msg
                    .values_named("X-Pbx-Test")
                    .any(|v| v == "panic-line")
                {
                    panic!("test hook: line {} told to panic", state.args.ext);
                }
                match inc.msg.method() {
                    Some(engine::sip::Method::Register) => register(&myself, state, inc),
                    Some(engine::sip::Method::Invite) => call_from(state, inc),
                    _ => inc.respond(405, "Method Not Allowed"),
                }
            }
            LineMsg::Expire => expire_and_rearm(&myself, state),
            LineMsg::Bindings(reply) => {
                let _ = reply.send(state.registrar.bindings().to_vec());
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _: ActorRef<LineMsg>,
        state: &mut LineState,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(t) = state.expiry_timer.take() {
            t.abort();
        }
        Ok(())
    }
}

fn register(myself: &ActorRef<LineMsg>, state: &mut LineState, inc: Box<Incoming>) {
    let flow = inc.reply.flow();
    let out = state.registrar.handle(
        &inc.msg,
        &state.creds,
        &state.args.shared.nonces,
        &flow,
        unix_now(),
    );
    if !out.changes.is_empty() {
        state
            .args
            .shared
            .store
            .save_bindings(state.args.tenant.id, &state.args.ext, out.changes);
        expire_and_rearm(myself, state);
    }
    answer(
        &state.args.shared.throttle,
        inc,
        out.code,
        out.response,
        out.auth_failed,
    );
}

/// A new call from this line: challenged (407) until its credentials are right, then
/// handed to the tenant, which starts the call.
fn call_from(state: &mut LineState, inc: Box<Incoming>) {
    let now = unix_now();
    let nonces = &state.args.shared.nonces;
    match check(&inc.msg, AuthKind::Proxy, &state.creds, nonces, now) {
        Ok(()) => {
            let ext = state.args.ext.clone();
            if let Err(e) = state
                .args
                .tenant
                .supervisor
                .send_message(TenantMsg::StartCall { caller: ext, inc })
            {
                tracing::warn!(error = %e, "tenant supervisor gone; call dropped");
            }
        }
        Err(AuthFailure::Challenge { stale }) => {
            let tag = format!("{:016x}", rand::random::<u64>());
            let bytes = challenge_response(
                &inc.msg,
                AuthKind::Proxy,
                &state.creds,
                nonces,
                stale,
                &tag,
                now,
            );
            inc.reply.send(407, bytes);
        }
        Err(AuthFailure::Forbidden(reason)) => {
            let bytes = engine::sip::MessageWriter::response_to(&inc.msg, 403, reason, Some("pbx"))
                .finish();
            answer(&state.args.shared.throttle, inc, 403, bytes, true);
        }
    }
}

/// Sends the answer, late when this source keeps failing to authenticate.
fn answer(
    throttle: &Mutex<AuthThrottle>,
    inc: Box<Incoming>,
    code: u16,
    response: Vec<u8>,
    auth_failed: bool,
) {
    let ip: IpAddr = inc.source.ip();
    let now = tokio::time::Instant::now().into_std();
    let delay = {
        let mut t = throttle.lock().unwrap_or_else(|p| p.into_inner());
        if auth_failed {
            t.on_failure(ip, now)
        } else {
            if code == 200 {
                t.on_success(ip);
            }
            Duration::ZERO
        }
    };
    if delay.is_zero() {
        inc.reply.send(code, response);
    } else {
        tracing::info!(%ip, ?delay, "repeated authentication failure: answer delayed");
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            inc.reply.send(code, response);
        });
    }
}

fn expire_and_rearm(myself: &ActorRef<LineMsg>, state: &mut LineState) {
    let now = unix_now();
    let removed = state.registrar.expire(now);
    if !removed.is_empty() {
        tracing::debug!(ext = %state.args.ext, n = removed.len(), "bindings expired");
        state
            .args
            .shared
            .store
            .save_bindings(state.args.tenant.id, &state.args.ext, removed);
    }
    if let Some(t) = state.expiry_timer.take() {
        t.abort();
    }
    if let Some(at) = state.registrar.next_expiry() {
        let wait = Duration::from_secs(at.saturating_sub(now));
        state.expiry_timer = Some(myself.send_after(wait, || LineMsg::Expire));
    }
}
