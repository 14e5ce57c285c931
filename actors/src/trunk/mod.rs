//! One actor per running trunk (started and restarted by its tenant from the store):
//! a registration trunk registers with its carrier (digest with
//! `engine::auth::client`, again before the registration runs out, backing off when the
//! carrier refuses or does not answer, a CRLF keep-alive for NAT in between); a
//! fixed-IP trunk sends OPTIONS at its keep-alive interval and goes up or down with
//! hysteresis (two answers or two silences in a row). Its status is kept in the
//! shared `TrunkLive` the tenant routes calls by and published on the trunks' bus.
//!
//! Its requests are its own client transactions: retransmitted over UDP from T1
//! doubling to T2, given up after `TIMEOUT`; responses reach it by their Call-ID (the
//! `Directory`'s trunk clients) and are matched by branch.

mod request;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use engine::auth::client::Challenge;
use engine::sip::{HeaderName, Message};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::time::Instant;

use crate::clock::unix_millis;
use crate::directory::Directory;
use crate::journal::EventBus;
use crate::proto::trunk::{TrunkEvent, TrunkLive, TrunkMsg, TrunkStatus};
use crate::proto::TenantEntry;
use crate::sip::SipOut;

pub use request::{token, Request};

/// How often the actor looks at its timers.
const TICK: Duration = Duration::from_millis(100);
/// RFC 3261's T1 and T2 for the retransmissions over UDP.
const T1: Duration = Duration::from_millis(500);
const T2: Duration = Duration::from_secs(4);
/// A REGISTER nobody answers within this is a failure (shorter than Timer F: a
/// carrier that is gone should show within seconds).
pub const TIMEOUT: Duration = Duration::from_secs(8);
/// An OPTIONS keep-alive nobody answers within this is a silence.
pub const OPTIONS_TIMEOUT: Duration = Duration::from_secs(4);
/// The first wait before trying to register again after a failure; doubled each
/// time up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(600);
/// Answers (or silences) in a row that bring a fixed-IP trunk up (or down).
const HYSTERESIS: u32 = 2;

pub struct TrunkArgs {
    pub live: Arc<TrunkLive>,
    pub entry: TenantEntry,
    pub out: Arc<SipOut>,
    pub directory: Arc<Directory>,
    pub bus: EventBus<TrunkEvent>,
    /// How long to wait before the first request (spreads the registrations of many
    /// trunks at a start).
    pub delay: Duration,
    /// The Call-ID of its requests (chosen by the tenant, which removes it again).
    pub call_id: String,
}

/// A request of the trunk in flight.
struct Pending {
    register: bool,
    branch: String,
    bytes: Bytes,
    next_send: Option<Instant>,
    interval: Duration,
    deadline: Instant,
}

pub struct TrunkState {
    args: TrunkArgs,
    from_tag: String,
    cseq: u32,
    pending: Option<Pending>,
    /// When to register next (registration trunks).
    register_at: Option<Instant>,
    /// When to send the next keep-alive.
    keepalive_at: Instant,
    backoff: Duration,
    /// Challenges answered since the last accepted registration.
    auth_tries: u32,
    /// The registration time asked for (raised by a 423's Min-Expires).
    expires: u32,
    registered_until: Option<u64>,
    registrations: u32,
    answers: u32,
    silences: u32,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

pub struct TrunkActor;

impl TrunkState {
    fn name(&self) -> &str {
        &self.args.live.config.name
    }

    fn set(&mut self, status: TrunkStatus, reason: String) {
        let changed = self.args.live.set(status, &reason);
        if changed {
            match status {
                TrunkStatus::Down => {
                    tracing::warn!(trunk = %self.name(), %reason, "trunk down")
                }
                _ => {
                    tracing::info!(trunk = %self.name(), status = status.as_str(), %reason, "trunk")
                }
            }
        }
        self.args.bus.publish(TrunkEvent {
            tenant: self.args.live.tenant,
            trunk: self.name().to_owned(),
            status,
            reason,
            at: unix_millis(),
            registered_until: self.registered_until,
            registrations: self.registrations,
        });
    }

    fn send(&self, bytes: Bytes) {
        let live = &self.args.live;
        let sent = live.flow().is_some_and(|f| self.args.out.send(f, bytes));
        if !sent {
            // Its connection is gone: the next request opens another.
            live.set_flow(None);
            tracing::debug!(trunk = %self.name(), "trunk message not sent");
        }
    }

    /// A request is due now.
    fn due(&self, now: Instant) -> bool {
        self.pending.is_none()
            && (self.register_at.is_some_and(|at| now >= at) || now >= self.keepalive_at)
    }

    /// A TCP trunk has no connection to its carrier when a request is due: it opens
    /// one, or the request fails as unanswered.
    async fn connect(&mut self, now: Instant) -> bool {
        let live = self.args.live.clone();
        if !live.is_connected() || live.flow().is_some_and(|f| self.args.out.is_usable(f)) {
            return true;
        }
        let tls_host = (live.config.transport == "tls").then_some(live.config.host.as_str());
        match self.args.out.connect(live.addr, tls_host).await {
            Ok(flow) => {
                tracing::debug!(trunk = %self.name(), ?flow, "connected to the carrier");
                live.set_flow(Some(flow));
                true
            }
            Err(e) => {
                live.set_flow(None);
                let reason = format!("cannot connect to {}: {e}", live.addr);
                let register = self.register_at.is_some_and(|at| now >= at);
                if register {
                    self.register_at = None;
                } else {
                    let keepalive = Duration::from_secs(u64::from(live.config.keepalive));
                    self.keepalive_at = now + keepalive;
                }
                self.failed(register, reason, now);
                false
            }
        }
    }

    fn request(&self) -> Request<'_> {
        let out = &self.args.out;
        let local = match self.args.live.flow() {
            Some(flow) => out.sent_by(flow),
            None => out.sent_by(crate::proto::Flow::Udp(self.args.live.addr)),
        }
        .unwrap_or_else(|| ([127, 0, 0, 1], 5060).into());
        Request {
            config: &self.args.live.config,
            local,
            call_id: &self.args.call_id,
            from_tag: &self.from_tag,
        }
    }

    fn start(&mut self, register: bool, bytes: Vec<u8>, branch: String, now: Instant) {
        let bytes = Bytes::from(bytes);
        self.send(bytes.clone());
        // Over TCP the connection delivers: nothing is sent again.
        let reliable = self.args.live.is_connected();
        self.pending = Some(Pending {
            register,
            branch,
            bytes,
            next_send: (!reliable).then_some(now + T1),
            interval: T1,
            deadline: now + if register { TIMEOUT } else { OPTIONS_TIMEOUT },
        });
    }

    fn register(&mut self, credentials: Option<(&'static str, String)>, now: Instant) {
        self.cseq += 1;
        let branch = format!("z9hG4bK{}", token());
        let bytes = self
            .request()
            .register(self.cseq, &branch, self.expires, credentials);
        self.start(true, bytes, branch, now);
    }

    fn options(&mut self, now: Instant) {
        self.cseq += 1;
        let branch = format!("z9hG4bK{}", token());
        let bytes = self.request().options(self.cseq, &branch);
        self.start(false, bytes, branch, now);
    }

    fn tick(&mut self, now: Instant) {
        if let Some(p) = &mut self.pending {
            if now >= p.deadline {
                let register = p.register;
                self.pending = None;
                self.failed(
                    register,
                    format!("no answer from {}", self.args.live.addr),
                    now,
                );
            } else if p.next_send.is_some_and(|at| now >= at) {
                p.interval = (p.interval * 2).min(T2);
                p.next_send = Some(now + p.interval);
                let bytes = p.bytes.clone();
                self.send(bytes);
            }
            return;
        }
        let keepalive = Duration::from_secs(u64::from(self.args.live.config.keepalive));
        if self.register_at.is_some_and(|at| now >= at) {
            self.register_at = None;
            self.register(None, now);
        } else if now >= self.keepalive_at {
            self.keepalive_at = now + keepalive;
            if !self.args.live.config.register {
                self.options(now);
            } else if self.args.live.status() == TrunkStatus::Up {
                // Keeps a NAT binding towards the carrier open (RFC 5626's CRLF).
                self.send(Bytes::from_static(b"\r\n\r\n"));
            }
        }
    }

    fn on_response(&mut self, resp: &Message, now: Instant) {
        let branch = resp.top_via().and_then(|v| v.branch().map(str::to_owned));
        let Some(p) = self
            .pending
            .as_mut()
            .filter(|p| branch.as_deref() == Some(p.branch.as_str()))
        else {
            return;
        };
        let Some(code) = resp.code() else { return };
        if code < 200 {
            p.next_send = None;
            return;
        }
        let register = p.register;
        self.pending = None;
        if register {
            self.registered(resp, code, now)
        } else {
            // Any answer shows the carrier is there (even 404 or 405 to OPTIONS).
            self.silences = 0;
            self.answers += 1;
            let status = self.args.live.status();
            if status == TrunkStatus::Starting
                || (status == TrunkStatus::Down && self.answers >= HYSTERESIS)
            {
                self.set(TrunkStatus::Up, format!("answers OPTIONS ({code})"));
            }
        }
    }

    fn registered(&mut self, resp: &Message, code: u16, now: Instant) {
        let reason = resp.reason().unwrap_or("").to_owned();
        match code {
            200..=299 => {
                let granted = granted_expires(resp, &self.args.live.config).unwrap_or(self.expires);
                if granted == 0 {
                    return self.failed(
                        true,
                        "the carrier granted no registration time".into(),
                        now,
                    );
                }
                self.auth_tries = 0;
                self.backoff = FIRST_BACKOFF;
                self.registrations += 1;
                let ms = u64::from(granted) * 1000;
                self.registered_until = Some(unix_millis() + ms);
                self.register_at = Some(now + refresh_after(ms));
                self.set(TrunkStatus::Up, format!("registered for {granted} s"));
            }
            401 | 407 => {
                let challenge = Challenge::from_response(resp);
                let cfg = &self.args.live.config;
                match (challenge, &cfg.username, &cfg.password) {
                    (Some(c), Some(user), Some(password)) if self.auth_tries == 0 || c.stale => {
                        self.auth_tries += 1;
                        let uri = format!("sip:{}", cfg.domain());
                        let answer = c.answer(user, password, "REGISTER", &uri, &token());
                        let header = if code == 407 {
                            "Proxy-Authorization"
                        } else {
                            "Authorization"
                        };
                        self.register(Some((header, answer)), now);
                    }
                    _ => self.failed(
                        true,
                        format!("the carrier refuses the credentials ({code} {reason} again)"),
                        now,
                    ),
                }
            }
            423 => {
                let min = resp
                    .header(HeaderName::MinExpires)
                    .and_then(|v| v.trim().parse::<u32>().ok())
                    .filter(|m| *m > self.expires && *m <= 86_400);
                match min {
                    Some(m) => {
                        self.expires = m;
                        self.register(None, now);
                    }
                    None => self.failed(true, format!("REGISTER refused: {code} {reason}"), now),
                }
            }
            _ => self.failed(true, format!("REGISTER refused: {code} {reason}"), now),
        }
    }

    fn failed(&mut self, register: bool, reason: String, now: Instant) {
        if register {
            self.auth_tries = 0;
            self.registered_until = None;
            self.register_at = Some(now + self.backoff);
            tracing::debug!(trunk = %self.name(), ?self.backoff, "registering again later");
            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
            self.set(TrunkStatus::Down, reason);
            return;
        }
        self.answers = 0;
        self.silences += 1;
        // One silence is confirmed (or not) by asking again at once.
        self.keepalive_at = now;
        let status = self.args.live.status();
        if status == TrunkStatus::Starting
            || (status == TrunkStatus::Up && self.silences >= HYSTERESIS)
        {
            self.set(TrunkStatus::Down, format!("{reason} to OPTIONS"));
        }
    }
}

/// When to register again after the carrier granted `ms` milliseconds: at three
/// quarters of it, and at least 5 s before it runs out, but not before half of it.
pub fn refresh_after(ms: u64) -> Duration {
    let at = (ms * 3 / 4)
        .min(ms.saturating_sub(5_000))
        .max(ms / 2)
        .max(500);
    Duration::from_millis(at)
}

/// The registration time the carrier granted: our Contact's `expires`, else the
/// Expires header.
fn granted_expires(resp: &Message, cfg: &crate::store::TrunkConfig) -> Option<u32> {
    let user = cfg.username.as_deref().unwrap_or("");
    let from_contact = resp.contacts().and_then(|cs| {
        cs.iter()
            .find(|c| c.uri.user == Some(user))
            .or(cs.first())
            .and_then(|c| c.params.get("expires"))
            .and_then(|e| e.parse().ok())
    });
    from_contact.or_else(|| resp.expires())
}

impl Actor for TrunkActor {
    type Msg = TrunkMsg;
    type State = TrunkState;
    type Arguments = TrunkArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<TrunkMsg>,
        args: TrunkArgs,
    ) -> Result<TrunkState, ActorProcessingErr> {
        args.directory.add_trunk(
            args.entry.clone(),
            args.live.clone(),
            &args.call_id,
            myself.clone(),
        );
        let now = Instant::now();
        let first = now + args.delay;
        let me = myself.clone();
        let ticker = tokio::spawn(async move {
            let mut every = tokio::time::interval(TICK);
            loop {
                every.tick().await;
                if me.send_message(TrunkMsg::Tick).is_err() {
                    return;
                }
            }
        });
        let register = args.live.config.register;
        let expires = args.live.config.expires;
        let mut state = TrunkState {
            args,
            from_tag: token(),
            cseq: 0,
            pending: None,
            register_at: register.then_some(first),
            keepalive_at: first,
            backoff: FIRST_BACKOFF,
            auth_tries: 0,
            expires,
            registered_until: None,
            registrations: 0,
            answers: 0,
            silences: 0,
            ticker: Some(ticker),
        };
        state.set(TrunkStatus::Starting, "starting".into());
        Ok(state)
    }

    async fn handle(
        &self,
        _: ActorRef<TrunkMsg>,
        msg: TrunkMsg,
        state: &mut TrunkState,
    ) -> Result<(), ActorProcessingErr> {
        let now = Instant::now();
        match msg {
            TrunkMsg::Tick => {
                if !state.due(now) || state.connect(now).await {
                    state.tick(now)
                }
            }
            TrunkMsg::Response(resp) => state.on_response(&resp, now),
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _: ActorRef<TrunkMsg>,
        state: &mut TrunkState,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(t) = state.ticker.take() {
            t.abort();
        }
        state
            .args
            .directory
            .remove_trunk(&state.args.live, &state.args.call_id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registration_is_renewed_well_before_it_runs_out() {
        assert_eq!(refresh_after(600_000), Duration::from_secs(450));
        assert_eq!(refresh_after(3_600_000), Duration::from_secs(2_700));
        assert_eq!(refresh_after(20_000), Duration::from_secs(15));
        // Short grants: half of it, never a busy loop.
        assert_eq!(refresh_after(4_000), Duration::from_secs(2));
        assert_eq!(refresh_after(0), Duration::from_millis(500));
    }
}
