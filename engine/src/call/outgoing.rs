//! The leg the switch calls: INVITE out, provisional and final responses in, CANCEL
//! (after a provisional response, RFC 3261 §9.1), ACK for 2xx, and the late 2xx that
//! gets ACK then BYE.

use std::time::Instant;

use bytes::Bytes;

use super::event::{Cause, LegEvent, LegState, Output, Side};
use super::leg::{Direction, Leg, LegConfig};
use crate::auth::client::Challenge;
use crate::dialog::Dialog;
use crate::sdp::Sdp;
use crate::sip::{HeaderName, Message, MessageWriter, Method};
use crate::timer::Timer;
use crate::transaction::ClientInvite;

/// The INVITE an outgoing leg sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingInvite {
    pub request_uri: String,
    /// From with the switch's tag.
    pub from: String,
    pub to: String,
    pub call_id: String,
    pub cseq: u32,
    pub max_forwards: u8,
    /// Further headers, in order (Allow, Supported, P-Asserted-Identity …).
    pub headers: Vec<(String, String)>,
    pub sdp: Option<Sdp>,
}

impl Leg {
    /// A leg the switch will call; it is idle until `send_invite`.
    pub fn outgoing(cfg: LegConfig) -> Leg {
        Leg::new(cfg, Direction::Outgoing)
    }

    /// Sends the INVITE and starts the ring timer.
    pub fn send_invite(&mut self, spec: &OutgoingInvite, now: Instant) {
        if self.state != LegState::Idle || self.dir != Direction::Outgoing {
            return;
        }
        let branch = self.next_branch();
        let mut w = MessageWriter::request("INVITE", &spec.request_uri);
        w.header("Via", &self.via().value(&branch));
        w.header_fmt("Max-Forwards", spec.max_forwards);
        w.header("From", &spec.from);
        w.header("To", &spec.to);
        w.header("Call-ID", &spec.call_id);
        w.header_fmt("CSeq", format_args!("{} INVITE", spec.cseq));
        w.header("Contact", &self.cfg.contact);
        for (name, value) in &spec.headers {
            w.header(name, value);
        }
        self.local_sdp = spec.sdp.as_ref().map(|s| Bytes::from(s.to_bytes()));
        let bytes = match &spec.sdp {
            Some(sdp) => w.body("application/sdp", &sdp.to_bytes()),
            None => w.finish(),
        };
        let invite = match Message::parse(bytes) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "outgoing INVITE does not parse");
                self.end(Cause::new(500, "Bad INVITE", Side::Local));
                return;
            }
        };
        let (txn, events) =
            ClientInvite::start(invite.clone(), self.cfg.reliable, now, self.cfg.timers);
        self.invite = Some(invite);
        self.invite_txn = Some(txn);
        self.state = LegState::Calling;
        self.transmit(&events);
        if let Some(t) = self.cfg.ring_timeout {
            self.timers.set(Timer::RingNoAnswer, now + t);
        }
    }

    pub(crate) fn on_invite_response(&mut self, resp: &Message, now: Instant) {
        let Some(code) = resp.code() else { return };
        if let Some(txn) = &mut self.invite_txn {
            let events = txn.on_response(resp, now);
            self.transmit(&events);
        }
        if code < 200 {
            self.provisional = true;
        }
        match code {
            100 if self.cancel_pending => {
                self.cancel_pending = false;
                self.send_cancel(now);
            }
            100 => {}
            101..=199 => self.on_provisional(resp, code, now),
            200..=299 => self.on_success(resp, now),
            401 | 407 if self.answer_challenge(resp, now) => {}
            _ => {
                if self.state == LegState::Answered {
                    return;
                }
                let reason = resp.reason().unwrap_or("");
                let mut cause = Cause::new(code, reason, Side::Remote);
                if (300..400).contains(&code) {
                    cause.redirect = resp
                        .contacts()
                        .and_then(|c| c.first()?.uri.user_unescaped().map(|u| u.into_owned()));
                }
                self.end(cause);
            }
        }
    }

    /// A 401/407 to our INVITE while calling, and an account to answer it with: the
    /// INVITE again (same Call-ID, From and To, next CSeq, a new branch) with the
    /// credentials; once only, so wrong credentials end the leg with the challenge.
    fn answer_challenge(&mut self, resp: &Message, now: Instant) -> bool {
        let Some((user, password)) = self.cfg.auth.clone() else {
            return false;
        };
        if self.auth_tries > 0 || !matches!(self.state, LegState::Calling | LegState::Ringing) {
            return false;
        }
        let Some(challenge) = Challenge::from_response(resp) else {
            return false;
        };
        let Some(old) = self.invite.clone() else {
            return false;
        };
        let uri = old.uri_str().unwrap_or("sip:invalid").to_owned();
        let branch = self.next_branch();
        let answer = challenge.answer(&user, &password, "INVITE", &uri, &branch);
        let header = match resp.code() {
            Some(407) => "Proxy-Authorization",
            _ => "Authorization",
        };
        let seq = old.cseq().map_or(1, |c| c.seq) + 1;
        let mut w = MessageWriter::request("INVITE", &uri);
        for (name, raw, value) in old.header_lines() {
            match name {
                HeaderName::Via => {
                    w.header("Via", &self.via().value(&branch));
                }
                HeaderName::CSeq => {
                    w.header_fmt("CSeq", format_args!("{seq} INVITE"));
                }
                HeaderName::ContentLength | HeaderName::ContentType => {}
                _ => {
                    w.header(raw, value);
                }
            }
        }
        w.header(header, &answer);
        let bytes = match old.header(HeaderName::ContentType) {
            Some(ct) if !old.body().is_empty() => w.body(ct, old.body()),
            _ => w.finish(),
        };
        let Ok(invite) = Message::parse(bytes) else {
            return false;
        };
        let (txn, events) =
            ClientInvite::start(invite.clone(), self.cfg.reliable, now, self.cfg.timers);
        self.auth_tries += 1;
        self.invite = Some(invite);
        self.invite_txn = Some(txn);
        self.provisional = false;
        self.dialog = None;
        self.transmit(&events);
        true
    }

    fn on_provisional(&mut self, resp: &Message, code: u16, now: Instant) {
        if self.cancel_pending {
            self.cancel_pending = false;
            self.send_cancel(now);
            return;
        }
        if !matches!(self.state, LegState::Calling | LegState::Ringing) {
            return;
        }
        if resp.to().and_then(|t| t.tag().map(str::to_owned)).is_some() {
            self.update_dialog(resp);
        }
        if !self.prack(resp, now) {
            return;
        }
        self.state = LegState::Ringing;
        match parse_sdp(resp) {
            Some(sdp) => self.event(LegEvent::EarlyMedia(sdp)),
            None if code == 180 && !self.ringing_reported => {
                self.ringing_reported = true;
                self.event(LegEvent::Ringing);
            }
            None => {}
        }
    }

    fn on_success(&mut self, resp: &Message, now: Instant) {
        let tag = resp.to().and_then(|t| t.tag().map(str::to_owned));
        let same_dialog = self
            .dialog
            .as_ref()
            .is_some_and(|d| Some(&d.id().remote_tag) == tag.as_ref());
        match self.state {
            LegState::Calling | LegState::Ringing => {
                self.update_dialog(resp);
                let Some(ack) = self.build_ack() else {
                    // A 2xx without a To tag cannot be acknowledged in a dialog.
                    self.end(Cause::new(502, "Bad 2xx", Side::Remote));
                    return;
                };
                self.ack = Some(ack.clone());
                self.out.push_back(Output::Send(ack));
                self.timers.cancel(&Timer::RingNoAnswer);
                self.state = LegState::Answered;
                self.negotiate_as_uac(resp);
                self.arm_session(now);
                self.event(LegEvent::Answered(parse_sdp(resp)));
            }
            LegState::Answered | LegState::Terminating if same_dialog && self.ack.is_some() => {
                // The 2xx again: our ACK got lost.
                if let Some(ack) = self.ack.clone() {
                    self.out.push_back(Output::Send(ack));
                }
            }
            LegState::Terminating if self.ack.is_none() => {
                // Answered while we cancelled: ACK it, then end it with BYE.
                self.cancel_pending = false;
                self.dialog = None;
                self.update_dialog(resp);
                match self.build_ack() {
                    Some(ack) => {
                        self.ack = Some(ack.clone());
                        self.out.push_back(Output::Send(ack));
                        self.send_bye(now);
                    }
                    None => self.end(Cause::new(502, "Bad 2xx", Side::Remote)),
                }
            }
            _ => self.ack_and_bye(resp, now),
        }
    }

    /// A 2xx from a dialog we do not want (another downstream fork, or after the
    /// leg ended): ACK and BYE it without touching the leg's own dialog.
    fn ack_and_bye(&mut self, resp: &Message, now: Instant) {
        let Some(invite) = &self.invite else { return };
        let Ok(mut d) = Dialog::uac(invite, resp, &self.cfg.contact) else {
            return;
        };
        let (ack_branch, bye_branch) = (self.next_branch(), self.next_branch());
        let ack = d.ack(self.via(), &ack_branch).finish();
        let bye = d.request(&Method::Bye, self.via(), &bye_branch).finish();
        self.out.push_back(Output::Send(Bytes::from(ack)));
        // Not the leg's own BYE: its end does not end the leg.
        self.start_request(Method::Bye, false, bye_branch, bye, now);
    }

    fn update_dialog(&mut self, resp: &Message) {
        let tag = resp.to().and_then(|t| t.tag().map(str::to_owned));
        match &mut self.dialog {
            Some(d) if Some(&d.id().remote_tag) == tag.as_ref() => d.on_response(resp),
            _ => {
                let Some(invite) = &self.invite else { return };
                if let Ok(d) = Dialog::uac(invite, resp, &self.cfg.contact) {
                    self.dialog = Some(d);
                }
            }
        }
    }

    fn build_ack(&mut self) -> Option<Bytes> {
        let branch = self.next_branch();
        let via = self.via();
        let ack = self.dialog.as_ref()?.ack(via, &branch).finish();
        Some(Bytes::from(ack))
    }

    /// Cancels the INVITE (now, or once a provisional response came).
    pub(crate) fn cancel(&mut self, cause: Cause, now: Instant) {
        self.cause = Some(cause);
        self.timers.cancel(&Timer::RingNoAnswer);
        self.state = LegState::Terminating;
        if self.provisional {
            self.send_cancel(now);
        } else {
            self.cancel_pending = true;
        }
    }

    fn send_cancel(&mut self, now: Instant) {
        let Some(invite) = &self.invite else { return };
        let mut w = cancel_for(invite);
        if let Some(c) = &self.cause {
            w.header_fmt(
                "Reason",
                format_args!(
                    "SIP;cause={};text=\"{}\"",
                    c.code,
                    c.reason.replace('"', "")
                ),
            );
        }
        let branch = invite
            .top_via()
            .and_then(|v| v.branch())
            .unwrap_or("")
            .to_owned();
        self.start_request(Method::Cancel, false, branch, w.finish(), now);
    }
}

/// The CANCEL of an INVITE (RFC 3261 §9.1): same Request-URI, top Via (branch), From,
/// To, Call-ID and CSeq number, and Route; add headers, then `finish`.
pub fn cancel_for(invite: &Message) -> MessageWriter {
    let mut w = MessageWriter::request("CANCEL", invite.uri_str().unwrap_or("sip:invalid"));
    // The switch's INVITE has a single Via value: the CANCEL repeats it.
    if let Some(v) = invite.header(HeaderName::Via) {
        w.header("Via", v);
    }
    w.header("Max-Forwards", "70");
    for name in [HeaderName::From, HeaderName::To, HeaderName::CallId] {
        if let Some(v) = invite.header(name) {
            w.header(name.as_str(), v);
        }
    }
    let seq = invite.cseq().map_or(0, |c| c.seq);
    w.header_fmt("CSeq", format_args!("{seq} CANCEL"));
    for r in invite.values(HeaderName::Route) {
        w.header("Route", r);
    }
    w
}

/// The SDP body of a message, when it has one that parses.
pub(crate) fn parse_sdp(m: &Message) -> Option<Sdp> {
    let body = m.body();
    if body.is_empty() {
        return None;
    }
    match Sdp::parse(body) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "ignoring unparseable SDP");
            None
        }
    }
}
