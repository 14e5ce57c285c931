//! One actor per line (extension): it owns the line's registrations, answers its
//! REGISTERs through the engine's registrar, persists every change and expires
//! bindings on time. Its device accounts (`store/people.rs`) register and place
//! calls here under their own credentials, as the line.

use std::time::Duration;

use engine::auth::{
    challenge_response, check, AuthFailure, AuthKind, AuthRequest, NonceCounts, Nonces,
};
use engine::registrar::{LineCredentials, Registrar};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::task::JoinHandle;

use crate::clock::unix_now;
use crate::proto::{BindingsView, Incoming, LineMsg, TenantEntry, TenantMsg};
use crate::services::Services;

#[derive(Debug, Clone)]
pub struct LineArgs {
    pub tenant: TenantEntry,
    pub ext: String,
    pub shared: Services,
    /// Where the line publishes its bindings for calls to read.
    pub view: BindingsView,
}

/// The reason a line actor is stopped with when its line is removed (its bindings
/// go too); a line that stops for any other reason hibernates: the tenant keeps its
/// bindings and wakes it for its next request or expiry.
pub const REMOVED: &str = "line removed";

/// How long a line must have had no request before it may hibernate: longer than a
/// nonce lives, so every nonce it counted (replay protection, in memory) has run out
/// before it forgets the counts.
fn hibernate_after(shared: &crate::services::Services) -> Duration {
    Duration::from_secs(shared.nonces.lifetime_secs() + 10)
}

pub struct LineState {
    args: LineArgs,
    /// When the line last had a request or a message.
    active_at: tokio::time::Instant,
    creds: LineCredentials,
    /// The line's device accounts, by username.
    devices: std::collections::HashMap<String, LineCredentials>,
    registrar: Registrar,
    expiry_timer: Option<JoinHandle<Result<(), ractor::MessagingErr<LineMsg>>>>,
    /// Phones subscribed to the line's mailbox, and its counts as last read.
    mwi: crate::mwi::Mwi,
    counts: (u32, u32),
    /// The one timer for the next subscription to run out.
    mwi_timer: Option<JoinHandle<Result<(), ractor::MessagingErr<LineMsg>>>>,
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
        let (record, bindings, devices) = args
            .shared
            .store
            .call(move |s| {
                Ok((
                    s.line(tid, &ext)?,
                    s.bindings(tid, &ext)?,
                    s.devices(tid, Some(&ext))?,
                ))
            })
            .await?;
        let record = record.ok_or_else(|| format!("line {} vanished from the store", args.ext))?;
        let creds = LineCredentials {
            username: args.ext.clone(),
            realm: args.tenant.realm.to_string(),
            ha1_md5: record.ha1_md5,
            ha1_sha256: record.ha1_sha256,
            offer: args.shared.digest_offer.clone(),
        };
        let devices = device_credentials(&args, devices);
        let mut registrar = Registrar::new(args.shared.policy, bindings);
        // Devices removed while the line hibernated: what they registered ends now.
        let gone = registrar.drop_accounts(|a| a != &*args.ext && !devices.contains_key(a));
        args.shared
            .store
            .save_bindings(args.tenant.id, &args.ext, gone);
        args.view.publish(registrar.bindings());
        let mut state = LineState {
            active_at: tokio::time::Instant::now(),
            registrar,
            args,
            creds,
            devices,
            expiry_timer: None,
            mwi: crate::mwi::Mwi::default(),
            counts: (0, 0),
            mwi_timer: None,
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
        if !matches!(msg, LineMsg::Expire) {
            state.active_at = tokio::time::Instant::now();
        }
        match msg {
            LineMsg::Request(inc) => {
                #[cfg(feature = "test-hooks")]
                if inc
                    .msg
                    .values_named("X-Pbx-Test")
                    .any(|v| v == "panic-line")
                {
                    panic!("test hook: line {} told to panic", state.args.ext);
                }
                let Some(device) = account_of(state, &inc.msg).await else {
                    let shared = &state.args.shared;
                    let user = request_user(&inc.msg).unwrap_or_default();
                    let phantom = format!("{:032x}", rand::random::<u128>());
                    answer_stranger(shared, &state.args.tenant, &user, &phantom, inc);
                    return Ok(());
                };
                match inc.msg.method() {
                    Some(engine::sip::Method::Register) => {
                        register(&myself, state, device.as_deref(), inc)
                    }
                    Some(engine::sip::Method::Invite) => call_from(state, device.as_deref(), inc),
                    Some(engine::sip::Method::Subscribe) => {
                        subscribe(&myself, state, device.as_deref(), inc).await
                    }
                    _ => inc.respond(405, "Method Not Allowed"),
                }
            }
            LineMsg::Expire => expire_and_rearm(&myself, state),
            LineMsg::MailboxChanged if !state.mwi.is_empty() => read_counts(&myself, state),
            LineMsg::MailboxChanged => {}
            LineMsg::MailboxCounts(new, old) => {
                if state.counts != (new, old) {
                    state
                        .args
                        .shared
                        .line_bus
                        .publish(crate::proto::events::LineEvent {
                            tenant: state.args.tenant.id,
                            line: state.args.ext.clone(),
                            kind: crate::proto::events::LineEventKind::Mailbox { new, old },
                            at: crate::clock::unix_millis(),
                        });
                }
                state.counts = (new, old);
                let now = tokio::time::Instant::now();
                let ext = state.args.ext.clone();
                state
                    .mwi
                    .notify_all(&state.args.shared.out, &ext, (new, old), now);
            }
            LineMsg::MwiExpire => {
                let now = tokio::time::Instant::now();
                let ext = state.args.ext.clone();
                for sub in state.mwi.expired(now) {
                    notify_last(state, sub, &ext, now);
                }
                arm_mwi(&myself, state, now);
            }
            LineMsg::BindingsChanged => {
                let (tid, ext) = (state.args.tenant.id, state.args.ext.clone());
                let stored = state
                    .args
                    .shared
                    .store
                    .call(move |s| s.bindings(tid, &ext))
                    .await;
                match stored {
                    Ok(bindings) => {
                        state.registrar.replace_bindings(bindings);
                        state.args.view.publish(state.registrar.bindings());
                        expire_and_rearm(&myself, state);
                    }
                    Err(e) => {
                        tracing::warn!(ext = %state.args.ext, error = %e, "bindings not read again")
                    }
                }
            }
            LineMsg::DevicesChanged => {
                // Read again, the line's own password too; what removed devices
                // registered ends now.
                let (tid, ext) = (state.args.tenant.id, state.args.ext.clone());
                let found = state
                    .args
                    .shared
                    .store
                    .call(move |s| Ok((s.line(tid, &ext)?, s.devices(tid, Some(&ext))?)))
                    .await;
                match found {
                    Ok((record, found)) => {
                        if let Some(record) = record {
                            state.creds.ha1_md5 = record.ha1_md5;
                            state.creds.ha1_sha256 = record.ha1_sha256;
                        }
                        state.devices = device_credentials(&state.args, found);
                    }
                    Err(_) => state.devices.clear(),
                }
                let (own, devices) = (&state.args.ext, &state.devices);
                let gone = state
                    .registrar
                    .drop_accounts(|a| a != &**own && !devices.contains_key(a));
                if !gone.is_empty() {
                    state.args.view.publish(state.registrar.bindings());
                    let shared = &state.args.shared;
                    shared.store.save_bindings(state.args.tenant.id, own, gone);
                }
            }
            LineMsg::Watched(ext, view) => {
                let now = tokio::time::Instant::now();
                state
                    .mwi
                    .notify_watchers(&state.args.shared.out, &ext, &view, now);
            }
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
        if let Some(t) = state.mwi_timer.take() {
            t.abort();
        }
        Ok(())
    }
}

/// The user a request is from: the To of a REGISTER, the From of a call.
fn request_user(msg: &engine::sip::Message) -> Option<String> {
    let addr = match msg.method() {
        Some(engine::sip::Method::Register) => msg.to(),
        _ => msg.from(),
    }?;
    addr.uri.user_unescaped().map(|u| u.into_owned())
}

/// Which account of the line a request uses: `Some(None)` the line's own, `Some(Some
/// (username))` a device's (read again from the store when not known yet, so a
/// device added while the line runs is found), `None` neither.
async fn account_of(state: &mut LineState, msg: &engine::sip::Message) -> Option<Option<String>> {
    let addr = match msg.method() {
        Some(engine::sip::Method::Register) => msg.to(),
        _ => msg.from(),
    }?;
    let user = addr.uri.user_unescaped()?;
    if *user == *state.args.ext {
        return Some(None);
    }
    let user = user.into_owned();
    if !state.devices.contains_key(&user) {
        let (tid, ext) = (state.args.tenant.id, state.args.ext.clone());
        let found = state
            .args
            .shared
            .store
            .call(move |s| s.devices(tid, Some(&ext)))
            .await
            .ok()?;
        state.devices = device_credentials(&state.args, found);
    }
    state.devices.contains_key(&user).then_some(Some(user))
}

fn device_credentials(
    args: &LineArgs,
    devices: Vec<crate::store::DeviceRecord>,
) -> std::collections::HashMap<String, LineCredentials> {
    devices
        .into_iter()
        .map(|d| {
            let creds = LineCredentials {
                username: d.username.clone(),
                realm: args.tenant.realm.to_string(),
                ha1_md5: d.ha1_md5,
                ha1_sha256: d.ha1_sha256,
                offer: args.shared.digest_offer.clone(),
            };
            (d.username, creds)
        })
        .collect()
}

fn register(
    myself: &ActorRef<LineMsg>,
    state: &mut LineState,
    device: Option<&str>,
    inc: Box<Incoming>,
) {
    // Dropped here too: guesses queued before the penalty began are not checked.
    if state.args.shared.guard.refuses(&inc) {
        return inc.reply.forget();
    }
    let flow = inc.reply.flow();
    let reliable = matches!(inc.reply, crate::proto::Replier::Tcp { .. });
    let top_via = inc.msg.top_via();
    // Relayed by a trusted edge: the device is reached through the edge, along the
    // Path it recorded.
    let path = state.args.shared.edges.path(&inc);
    // To the Contact unless a NAT is in between (or it asks for its flow).
    let flow_for = |c: &engine::sip::Contact<'_>| match engine::registrar::contact_address(
        c,
        top_via.as_ref(),
        inc.source,
        reliable,
    ) {
        Some(addr) if path.is_none() => format!("udp:{addr}"),
        _ => flow.clone(),
    };
    let creds = match device.and_then(|d| state.devices.get(d)) {
        Some(c) => c,
        None => &state.creds,
    };
    let out = state.registrar.handle(
        &inc.msg,
        creds,
        &state.args.shared.nonces,
        inc.source.ip(),
        &flow_for,
        path.as_deref(),
        unix_now(),
    );
    let account = device.unwrap_or(&state.args.ext);
    if out.auth_failed {
        state.args.shared.guard.failure_of(&inc);
        let refused = &state.args.shared.refused;
        refused.refused(state.args.tenant.id, account, unix_now() * 1000);
    } else if out.code == 200 {
        let refused = &state.args.shared.refused;
        refused.accepted(state.args.tenant.id, account);
    }
    if out.changes.is_empty() {
        return inc.reply.send(out.code, out.response);
    }
    state.args.view.publish(state.registrar.bindings());
    // The 200 goes out once the binding is committed: a switch killed right after
    // has kept every registration it confirmed.
    let (code, response, reply) = (out.code, out.response, inc.reply);
    state.args.shared.store.save_bindings_then(
        state.args.tenant.id,
        &state.args.ext,
        out.changes,
        Box::new(move || reply.send(code, response)),
    );
    expire_and_rearm(myself, state);
}

/// A new call from this line: challenged (407) until its credentials are right, then
/// handed to the tenant, which starts the call.
fn call_from(state: &mut LineState, device: Option<&str>, inc: Box<Incoming>) {
    let shared = &state.args.shared;
    if shared.guard.refuses(&inc) {
        return inc.reply.forget();
    }
    let creds = match device.and_then(|d| state.devices.get(d)) {
        Some(c) => c,
        None => &state.creds,
    };
    let authenticated = authenticate(
        &inc,
        creds,
        &shared.nonces,
        &shared.guard,
        &mut state.registrar.counts,
    );
    if authenticated.is_ok() {
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
}

/// A SUBSCRIBE from one of the line's phones (authenticated as its calls are): a
/// subscription to its mailbox's messages (`mwi`), NOTIFYed once the counts are read,
/// or to another line's calls (busy-lamp field, `blf`), NOTIFYed with them at once.
async fn subscribe(
    myself: &ActorRef<LineMsg>,
    state: &mut LineState,
    device: Option<&str>,
    inc: Box<Incoming>,
) {
    let shared = &state.args.shared;
    if shared.guard.refuses(&inc) {
        return inc.reply.forget();
    }
    let creds = match device.and_then(|d| state.devices.get(d)) {
        Some(c) => c,
        None => &state.creds,
    };
    if authenticate(
        &inc,
        creds,
        &shared.nonces,
        &shared.guard,
        &mut state.registrar.counts,
    )
    .is_err()
    {
        return;
    }
    let Some(event) = crate::mwi::Mwi::event_of(&inc) else {
        return;
    };
    let ext = state.args.ext.clone();
    // A busy-lamp field watches the line the Request-URI names, of this tenant only.
    let (watched, view) = if crate::blf::watches_a_line(event) {
        let Some(watched) = inc
            .msg
            .uri()
            .and_then(|u| u.user_unescaped().map(|u| u.into_owned()))
        else {
            return inc.respond(404, "Not Found");
        };
        let tenant = state.args.tenant.supervisor.clone();
        let asked = tenant
            .call(
                |reply| TenantMsg::Watch {
                    watched: watched.clone(),
                    watcher: myself.clone(),
                    reply,
                },
                None,
            )
            .await;
        match asked {
            Ok(ractor::rpc::CallResult::Success(Some(view))) => (watched, Some(view)),
            _ => return inc.respond(404, "Not Found"),
        }
    } else {
        (ext.clone(), None)
    };
    let now = tokio::time::Instant::now();
    match state.mwi.subscribe(&inc, &watched, event, now) {
        crate::mwi::Subscribed::Active => {
            match view {
                Some(view) => {
                    state
                        .mwi
                        .notify_watchers(&state.args.shared.out, &watched, &view, now)
                }
                None => read_counts(myself, state),
            }
            arm_mwi(myself, state, now);
        }
        crate::mwi::Subscribed::Ended(sub) => notify_last(state, *sub, &ext, now),
        crate::mwi::Subscribed::Refused => {}
    }
}

/// The last NOTIFY of a subscription that ended (terminated), with the counts.
fn notify_last(
    state: &LineState,
    mut sub: crate::mwi::Subscription,
    ext: &str,
    now: tokio::time::Instant,
) {
    crate::mwi::notify(
        &state.args.shared.out,
        &mut sub,
        ext,
        state.counts,
        now,
        true,
    );
}

/// Sets the one timer for the next subscription to run out (none left: no timer).
fn arm_mwi(myself: &ActorRef<LineMsg>, state: &mut LineState, now: tokio::time::Instant) {
    if let Some(t) = state.mwi_timer.take() {
        t.abort();
    }
    state.mwi_timer = state
        .mwi
        .next_expiry()
        .map(|at| myself.send_after(at.saturating_duration_since(now), || LineMsg::MwiExpire));
}

/// Reads the mailbox's counts; they come back as `LineMsg::MailboxCounts`.
fn read_counts(myself: &ActorRef<LineMsg>, state: &LineState) {
    let (store, tenant, ext) = (
        state.args.shared.store.clone(),
        state.args.tenant.id,
        state.args.ext.clone(),
    );
    let me = myself.clone();
    tokio::spawn(async move {
        match store.call(move |s| s.voicemail_counts(tenant, &ext)).await {
            Ok((new, old)) => {
                let _ = me.send_message(LineMsg::MailboxCounts(new, old));
            }
            Err(e) => tracing::warn!(error = %e, "mailbox counts not read"),
        }
    });
}

/// Checks a call's Proxy-Authorization for `creds`: `Ok` when right; otherwise the
/// request has been answered (407 challenge, or 403 counted against its source).
pub(crate) fn authenticate(
    inc: &Incoming,
    creds: &LineCredentials,
    nonces: &Nonces,
    guard: &crate::auth_guard::AuthGuard,
    counts: &mut NonceCounts,
) -> Result<(), ()> {
    let req = AuthRequest {
        msg: &inc.msg,
        kind: AuthKind::Proxy,
        source: inc.source.ip(),
        now_unix: unix_now(),
    };
    match check(&req, creds, nonces, counts) {
        Ok(()) => Ok(()),
        Err(AuthFailure::Challenge { stale }) => {
            let tag = format!("{:016x}", rand::random::<u64>());
            inc.reply
                .send(407, challenge_response(&req, creds, nonces, stale, &tag));
            Err(())
        }
        Err(AuthFailure::Forbidden(reason)) => {
            guard.failure_of(inc);
            inc.respond(403, reason);
            Err(())
        }
        Err(AuthFailure::Refused(reason)) => {
            inc.respond(403, reason);
            Err(())
        }
    }
}

/// A REGISTER, INVITE or SUBSCRIBE naming a user the tenant does not have. It gets exactly what
/// a known user with a wrong password gets (a challenge, then 403 counted against the
/// source), so that extensions cannot be listed by their answers. `phantom` stands in
/// for the HA1s of a line that does not exist.
pub(crate) fn answer_stranger(
    shared: &Services,
    tenant: &TenantEntry,
    user: &str,
    phantom: &str,
    inc: Box<Incoming>,
) {
    let creds = LineCredentials {
        username: user.to_owned(),
        realm: tenant.realm.to_string(),
        ha1_md5: phantom.to_owned(),
        ha1_sha256: phantom.to_owned(),
        offer: shared.digest_offer.clone(),
    };
    let mut counts = NonceCounts::default();
    match inc.msg.method() {
        Some(engine::sip::Method::Register) => {
            let mut registrar = Registrar::new(shared.policy, Vec::new());
            let flow = inc.reply.flow();
            let out = registrar.handle(
                &inc.msg,
                &creds,
                &shared.nonces,
                inc.source.ip(),
                &|_| flow.clone(),
                None,
                unix_now(),
            );
            if out.auth_failed {
                shared.guard.failure_of(&inc);
            }
            inc.reply.send(out.code, out.response);
        }
        Some(engine::sip::Method::Invite) => {
            // A call from nobody the tenant knows (no line, no trunk's address).
            let n = shared
                .strangers
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::debug!(source = %inc.source, %user, refused = n + 1, "call from an unknown source");
            let _ = authenticate(&inc, &creds, &shared.nonces, &shared.guard, &mut counts);
        }
        // A subscription (BLF, MWI) by nobody the tenant knows, new or a refresh:
        // challenged as a line's (a known line's refresh is challenged before its
        // dialog is looked at, so a 481 here would tell the two apart). A removed
        // line's phone refreshing with its old password is counted against its
        // source, as its REGISTERs are.
        Some(engine::sip::Method::Subscribe) => {
            let _ = authenticate(&inc, &creds, &shared.nonces, &shared.guard, &mut counts);
        }
        _ => inc.respond(404, "Not Found"),
    }
}

fn expire_and_rearm(myself: &ActorRef<LineMsg>, state: &mut LineState) {
    let now = unix_now();
    let removed = state.registrar.expire(now);
    if !removed.is_empty() {
        state.args.view.publish(state.registrar.bindings());
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
    // An idle line without subscriptions needs no actor: its bindings stay with the
    // tenant, which wakes it for its next request or expiry.
    let idle_until = state.active_at + hibernate_after(&state.args.shared);
    let idle_left = idle_until.saturating_duration_since(tokio::time::Instant::now());
    let may_sleep = state.args.shared.hibernate_lines;
    let idle_left = if may_sleep { idle_left } else { Duration::MAX };
    if may_sleep && idle_left.is_zero() && state.mwi.is_empty() && state.mwi_timer.is_none() {
        // Drained, not stopped: what is queued already is handled first, and what
        // comes after is refused to its sender, which hands it to the tenant.
        tracing::trace!(ext = %state.args.ext, "line hibernates");
        let _ = myself.drain();
        return;
    }
    let wait = match state.registrar.next_expiry() {
        Some(at) => Duration::from_secs(at.saturating_sub(now)).min(idle_left),
        None => idle_left,
    };
    state.expiry_timer = Some(myself.send_after(wait, || LineMsg::Expire));
}
