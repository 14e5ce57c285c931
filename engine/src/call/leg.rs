//! One side of a B2BUA call: the switch's dialog with one device, as a sans-IO state
//! machine. The call feeds it messages, hang-ups and timeouts; it returns the bytes to
//! send to the device and events for the call (`poll_output`), and when to wake it up
//! (`next_timeout`). Shared parts live here; `outgoing.rs` and `incoming.rs` hold what
//! differs between the leg the switch calls and the leg that called the switch.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::event::{Cause, LegEvent, LegState, Output, RequestKey, Response, Side};
use super::in_dialog::Reinvite;
use super::reliable::Rel;
use super::session::Session;
use crate::dialog::{AckWait, AckWaitOutput, Dialog, LocalVia};
use crate::sip::{Message, MessageWriter, Method};
use crate::timer::{Timer, TimerConfig, TimerTable};
use crate::transaction::{ClientInvite, ClientNonInvite, Event};

/// How a leg talks to its device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegConfig {
    pub timers: TimerConfig,
    /// TCP/TLS: no retransmissions by the transactions.
    pub reliable: bool,
    /// The Via transport token (`UDP`, `TCP` …).
    pub transport: String,
    /// The switch's sent-by (`host:port`) for this device.
    pub sent_by: String,
    /// The switch's Contact header value (`<sip:…>`).
    pub contact: String,
    /// Makes this leg's branches unique: they are `z9hG4bK<seed>.<n>`.
    pub branch_seed: String,
    /// Outgoing legs: how long to ring before giving up (`Timer::RingNoAnswer`).
    pub ring_timeout: Option<Duration>,
    /// Outgoing legs: the account (user, password) that answers a 401/407 to the
    /// INVITE once (a trunk's carrier challenging the switch).
    pub auth: Option<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// The switch calls the device.
    Outgoing,
    /// The device called the switch.
    Incoming,
}

/// A non-INVITE request of ours in flight.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) branch: String,
    pub(crate) method: Method,
    /// Its final response (or timeout) ends the leg: the leg's own BYE.
    pub(crate) ends_leg: bool,
    pub(crate) txn: ClientNonInvite,
}

/// One call leg.
#[derive(Debug)]
pub struct Leg {
    pub(crate) cfg: LegConfig,
    pub(crate) dir: Direction,
    pub(crate) state: LegState,
    /// The INVITE that started the leg (ours or the device's).
    pub(crate) invite: Option<Message>,
    pub(crate) dialog: Option<Dialog>,
    pub(crate) invite_txn: Option<ClientInvite>,
    pub(crate) requests: Vec<Pending>,
    pub(crate) ack_wait: Option<AckWait>,
    /// The call's re-INVITE in this dialog (`send_request`).
    pub(crate) reinvite: Option<Reinvite>,
    /// The ACK we sent for the 2xx (resent when the 2xx is).
    pub(crate) ack: Option<Bytes>,
    pub(crate) timers: TimerTable<Timer>,
    /// Why the switch is ending the leg; reported when it has ended.
    pub(crate) cause: Option<Cause>,
    /// A hang-up before any provisional response: CANCEL waits for one (§9.1).
    pub(crate) cancel_pending: bool,
    /// Some provisional response (even 100) came for our INVITE.
    pub(crate) provisional: bool,
    pub(crate) ringing_reported: bool,
    /// Challenges to our INVITE answered so far.
    pub(crate) auth_tries: u8,
    /// Our tag (incoming legs).
    pub(crate) local_tag: String,
    pub(crate) branches: u32,
    /// Reliable provisional responses (RFC 3262), both directions.
    pub(crate) rel: Rel,
    /// The session timer negotiated with the device (RFC 4028), once answered.
    pub(crate) session: Option<Session>,
    /// The last SDP the leg sent its device (a refreshing re-INVITE repeats it).
    pub(crate) local_sdp: Option<Bytes>,
    pub(crate) out: VecDeque<Output>,
}

impl Leg {
    pub(crate) fn new(cfg: LegConfig, dir: Direction) -> Leg {
        Leg {
            cfg,
            dir,
            state: LegState::Idle,
            invite: None,
            dialog: None,
            invite_txn: None,
            requests: Vec::new(),
            ack_wait: None,
            reinvite: None,
            ack: None,
            timers: TimerTable::default(),
            cause: None,
            cancel_pending: false,
            provisional: false,
            ringing_reported: false,
            auth_tries: 0,
            local_tag: String::new(),
            branches: 0,
            rel: Rel::default(),
            session: None,
            local_sdp: None,
            out: VecDeque::new(),
        }
    }

    /// A leg that is already over and sends nothing: what stays in a fork's place
    /// when its answering leg moves to another owner (a transfer).
    pub fn detached(cfg: LegConfig) -> Leg {
        let mut leg = Leg::new(cfg, Direction::Outgoing);
        leg.state = LegState::Ended;
        leg
    }

    // ----- getters -----

    pub fn state(&self) -> LegState {
        self.state
    }

    pub fn config(&self) -> &LegConfig {
        &self.cfg
    }

    pub fn is_ended(&self) -> bool {
        self.state == LegState::Ended
    }

    pub fn dialog(&self) -> Option<&Dialog> {
        self.dialog.as_ref()
    }

    pub fn dialog_mut(&mut self) -> Option<&mut Dialog> {
        self.dialog.as_mut()
    }

    /// The INVITE that started this leg.
    pub fn invite(&self) -> Option<&Message> {
        self.invite.as_ref()
    }

    /// The Call-ID of this leg's dialog.
    pub fn call_id(&self) -> Option<&str> {
        self.invite.as_ref()?.call_id()
    }

    /// True when a response is for a request this leg sent (by its Via branch).
    pub fn owns_response(&self, resp: &Message) -> bool {
        let prefix = format!("z9hG4bK{}.", self.cfg.branch_seed);
        resp.top_via()
            .and_then(|v| v.branch())
            .is_some_and(|b| b.starts_with(&prefix))
            && resp.call_id() == self.call_id()
    }

    /// True when a request from a device belongs to this leg: same Call-ID and, once
    /// there is a dialog, the dialog's tags.
    pub fn owns_request(&self, req: &Message) -> bool {
        if req.call_id() != self.call_id() {
            return false;
        }
        let from_tag = req.from().and_then(|f| f.tag().map(str::to_owned));
        match (&self.dialog, self.dir) {
            (Some(d), _) => from_tag.as_deref() == Some(d.id().remote_tag.as_str()),
            (None, Direction::Incoming) => true,
            (None, Direction::Outgoing) => false,
        }
    }

    /// The earliest deadline of the leg.
    pub fn next_timeout(&self) -> Option<Instant> {
        [
            self.timers.next_timeout(),
            self.invite_txn
                .as_ref()
                .and_then(ClientInvite::next_timeout),
            self.ack_wait.as_ref().and_then(AckWait::next_timeout),
            self.reinvite_timeout(),
        ]
        .into_iter()
        .chain(self.requests.iter().map(|p| p.txn.next_timeout()))
        .flatten()
        .min()
    }

    /// The next thing to send or report.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    // ----- inputs -----

    /// A response from the device. Only a response to a request this leg sent (same
    /// branch) acts; anything else is stray or forged and is dropped (RFC 3261 §18.1.2).
    pub fn on_response(&mut self, resp: &Message, now: Instant) {
        let Some(cseq) = resp.cseq() else { return };
        let branch = resp.top_via().and_then(|v| v.branch()).unwrap_or("");
        let invite = self.invite.as_ref();
        let initial_seq = invite.and_then(|i| i.cseq()).map(|c| c.seq);
        let initial_branch = invite.and_then(|i| i.top_via()?.branch().map(str::to_owned));
        if self.dir == Direction::Outgoing
            && cseq.method == "INVITE"
            && Some(cseq.seq) == initial_seq
            && initial_branch.as_deref() == Some(branch)
        {
            self.on_invite_response(resp, now);
            return;
        }
        let code = resp.code().unwrap_or(0);
        let own_refresh = self.on_refresh_response(resp, now);
        // A 2xx to a re-INVITE or UPDATE of ours (this leg's, matched by branch)
        // refreshes the session; a forged one with another branch does nothing.
        let ours = own_refresh
            || self.reinvite.as_ref().is_some_and(|r| r.branch == branch)
            || self.requests.iter().any(|p| p.branch == branch);
        if ours
            && !own_refresh
            && (200..300).contains(&code)
            && matches!(cseq.method, "INVITE" | "UPDATE")
            && self.state == LegState::Answered
        {
            self.arm_session(now);
        }
        if cseq.method == "INVITE" && self.on_reinvite_response(resp, now) {
            return;
        }
        if let Some(i) = self.requests.iter().position(|p| p.branch == branch) {
            let events = self.requests[i].txn.on_response(code, now);
            self.transmit(&events);
            let (method, ends_leg) = (self.requests[i].method.clone(), self.requests[i].ends_leg);
            if code >= 200 {
                self.requests.remove(i);
            }
            match method {
                Method::Bye if code >= 200 && ends_leg => self.end(Cause::bye(Side::Local)),
                Method::Cancel | Method::Bye | Method::Prack => {}
                _ if own_refresh => {
                    if let Some(d) = &mut self.dialog {
                        d.on_response(resp);
                    }
                }
                _ => self.report_response(resp),
            }
            return;
        }
        tracing::debug!(branch, code, "response to no request of this leg dropped");
    }

    /// A request from the device.
    pub fn on_request(&mut self, req: &Message, now: Instant) {
        match req.method() {
            Some(Method::Cancel) => self.on_cancel(req),
            Some(Method::Prack) => self.on_prack(req, now),
            Some(Method::Ack) => self.on_ack(req),
            Some(Method::Bye) => self.on_bye(req),
            Some(_) => self.on_dialog_request(req),
            None => {}
        }
    }

    /// The call hangs this leg up: CANCEL or BYE for an outgoing leg, the final
    /// response `code` (or BYE once answered) for an incoming one.
    pub fn hangup(&mut self, code: u16, reason: &str, now: Instant) {
        let cause = Cause::new(code, reason, Side::Local);
        match (self.state, self.dir) {
            (LegState::Idle, _) => self.end(cause),
            (LegState::Calling | LegState::Ringing, Direction::Outgoing) => self.cancel(cause, now),
            (LegState::Calling | LegState::Ringing, Direction::Incoming) => {
                self.reject(code, reason)
            }
            (LegState::Answered, _) => {
                self.cause = Some(cause);
                self.send_bye(now);
            }
            (LegState::Terminating | LegState::Ended, _) => {}
        }
    }

    /// A deadline passed: drive the transactions, the 2xx retransmissions, and the
    /// ring timer.
    pub fn on_timeout(&mut self, now: Instant) {
        if let Some(txn) = &mut self.invite_txn {
            let events = txn.on_timeout(now);
            self.transmit(&events);
            if events.contains(&Event::Timeout) && self.state != LegState::Answered {
                let cause = self
                    .cause
                    .take()
                    .unwrap_or_else(|| Cause::new(408, "Request Timeout", Side::Local));
                self.end(cause);
            }
            if events.contains(&Event::Terminated) {
                self.invite_txn = None;
            }
        }
        self.on_reinvite_timeout(now);
        let mut i = 0;
        while i < self.requests.len() {
            let events = self.requests[i].txn.on_timeout(now);
            self.transmit(&events);
            if events.contains(&Event::Terminated) || events.contains(&Event::Timeout) {
                let p = self.requests.remove(i);
                if p.ends_leg && events.contains(&Event::Timeout) {
                    self.end(Cause::new(408, "BYE Timeout", Side::Local));
                }
            } else {
                i += 1;
            }
        }
        if let Some(w) = &mut self.ack_wait {
            while let Some(o) = w.on_timeout(now) {
                match o {
                    // The 2xx again; its transaction is over (no request to name).
                    AckWaitOutput::Retransmit(b) => self.out.push_back(Output::Respond(Response {
                        request: None,
                        code: 200,
                        bytes: b,
                    })),
                    AckWaitOutput::GiveUp => {
                        self.ack_wait = None;
                        self.cause = Some(Cause::new(408, "ACK Timeout", Side::Local));
                        self.send_bye(now);
                        break;
                    }
                }
            }
        }
        while let Some(t) = self.timers.pop_expired(now) {
            match t {
                Timer::RingNoAnswer
                    if matches!(self.state, LegState::Calling | LegState::Ringing) =>
                {
                    self.cancel(Cause::no_answer(), now)
                }
                Timer::ReliableProvisional => self.on_reliable_timeout(now),
                Timer::SessionRefresh if self.state == LegState::Answered => self.send_refresh(now),
                Timer::SessionExpiry if self.state == LegState::Answered => {
                    self.session_expired(now)
                }
                _ => {}
            }
        }
    }

    /// Starts a request of the call's in this leg's dialog (re-INVITE, UPDATE, INFO,
    /// REFER, NOTIFY …) with this leg's Via and next branch; `None` without a dialog.
    /// The call runs the transaction; responses come back as `LegEvent::Response`.
    pub fn request(&mut self, method: &Method) -> Option<MessageWriter> {
        let branch = self.next_branch();
        let (transport, sent_by) = (self.cfg.transport.clone(), self.cfg.sent_by.clone());
        let via = LocalVia {
            transport: &transport,
            sent_by: &sent_by,
        };
        Some(self.dialog.as_mut()?.request(method, via, &branch))
    }

    // ----- shared helpers -----

    pub(crate) fn next_branch(&mut self) -> String {
        self.branches += 1;
        format!("z9hG4bK{}.{}", self.cfg.branch_seed, self.branches)
    }

    pub(crate) fn via(&self) -> LocalVia<'_> {
        LocalVia {
            transport: &self.cfg.transport,
            sent_by: &self.cfg.sent_by,
        }
    }

    pub(crate) fn transmit(&mut self, events: &[Event]) {
        for e in events {
            if let Event::Transmit(b) = e {
                self.out.push_back(Output::Send(b.clone()));
            }
        }
    }

    pub(crate) fn event(&mut self, e: LegEvent) {
        self.out.push_back(Output::Event(e));
    }

    /// Starts a non-INVITE client transaction for `bytes`.
    pub(crate) fn start_request(
        &mut self,
        method: Method,
        ends_leg: bool,
        branch: String,
        bytes: Vec<u8>,
        now: Instant,
    ) {
        let (txn, events) =
            ClientNonInvite::start(Bytes::from(bytes), self.cfg.reliable, now, self.cfg.timers);
        self.transmit(&events);
        self.requests.push(Pending {
            branch,
            method,
            ends_leg,
            txn,
        });
    }

    pub(crate) fn send_bye(&mut self, now: Instant) {
        let branch = self.next_branch();
        let Some(bytes) = self.dialog.as_mut().map(|d| {
            let via = LocalVia {
                transport: &self.cfg.transport,
                sent_by: &self.cfg.sent_by,
            };
            d.request(&Method::Bye, via, &branch).finish()
        }) else {
            return;
        };
        self.ack_wait = None;
        self.timers.cancel(&Timer::RingNoAnswer);
        self.state = LegState::Terminating;
        self.start_request(Method::Bye, true, branch, bytes, now);
    }

    /// The leg is over: report it once with the cause the switch chose, if any.
    pub(crate) fn end(&mut self, cause: Cause) {
        if self.state == LegState::Ended {
            return;
        }
        let cause = self.cause.take().unwrap_or(cause);
        tracing::debug!(code = cause.code, reason = %cause.reason, side = ?cause.side, "leg ended");
        self.state = LegState::Ended;
        self.timers = TimerTable::default();
        self.ack_wait = None;
        if let Some(d) = &mut self.dialog {
            d.terminate();
        }
        self.event(LegEvent::Ended(cause));
    }

    fn report_response(&mut self, resp: &Message) {
        if let Some(d) = &mut self.dialog {
            d.on_response(resp);
        }
        self.event(LegEvent::Response(resp.clone()));
    }

    fn on_bye(&mut self, req: &Message) {
        let Some(d) = &mut self.dialog else {
            self.reply(req, 481, "Call/Transaction Does Not Exist");
            return;
        };
        if let Err(r) = d.accept_request(req, 0) {
            let bytes = r.response(req);
            self.respond_to(req, r.code, bytes);
            return;
        }
        self.reply(req, 200, "OK");
        if self.dir == Direction::Incoming
            && matches!(self.state, LegState::Calling | LegState::Ringing)
        {
            self.reject_invite(487, "Request Terminated");
        }
        self.cause = None;
        self.end(Cause::bye(Side::Remote));
    }

    fn on_dialog_request(&mut self, req: &Message) {
        let Some(d) = &mut self.dialog else {
            self.reply(req, 481, "Call/Transaction Does Not Exist");
            return;
        };
        // Any Retry-After in 0–10 s will do: the CSeq stands in for a random draw.
        match d.accept_request(req, req.cseq().map_or(0, |c| c.seq)) {
            Ok(()) => match super::session::interval_too_small(req, super::session::MIN_SE) {
                // A refresh asking for less than the switch's Min-SE (RFC 4028 §8.1).
                Some(bytes) => {
                    if req.method() == Some(&Method::Invite) {
                        d.remote_invite_answered();
                    }
                    self.respond_to(req, 422, bytes);
                }
                None => self.event(LegEvent::Request(req.clone())),
            },
            Err(r) => {
                let bytes = r.response(req);
                self.respond_to(req, r.code, bytes);
            }
        }
    }

    /// A response to a request of the device, with our tag when To has none.
    pub(crate) fn reply(&mut self, req: &Message, code: u16, reason: &str) {
        let tag = (!self.local_tag.is_empty()).then_some(self.local_tag.as_str());
        let bytes = MessageWriter::response_to(req, code, reason, tag).finish();
        self.respond_to(req, code, bytes);
    }

    /// Queues a response to `req` for the device, saying which request it answers.
    pub(crate) fn respond_to(&mut self, req: &Message, code: u16, bytes: impl Into<Bytes>) {
        self.out.push_back(Output::Respond(Response {
            request: RequestKey::of(req),
            code,
            bytes: bytes.into(),
        }));
    }

    /// Queues a response to the INVITE that started this (incoming) leg.
    pub(crate) fn respond_to_invite(&mut self, code: u16, bytes: Bytes) {
        let request = self.invite.as_ref().and_then(RequestKey::of);
        self.out.push_back(Output::Respond(Response {
            request,
            code,
            bytes,
        }));
    }
}
