//! The leg that called the switch: its INVITE in, 100/18x/2xx or a final error out,
//! CANCEL (487), and the 2xx retransmitted until the ACK comes (RFC 3261 §13.3.1.4).
//! Retransmitted INVITEs and non-2xx ACKs are absorbed by the transport's server
//! transactions before they reach the leg.

use std::time::Instant;

use bytes::Bytes;

use super::event::{Cause, LegState, Side};
use super::leg::{Direction, Leg, LegConfig};
use super::outgoing::parse_sdp;
use crate::dialog::{AckWait, Dialog};
use crate::error::Result;
use crate::sdp::Sdp;
use crate::sip::{Message, MessageWriter};

impl Leg {
    /// The leg of an INVITE the switch received; `local_tag` is the switch's To tag.
    /// Sends 100 Trying. Fails when the INVITE cannot start a dialog (no From tag, no
    /// Contact): answer it with 400.
    pub fn incoming(cfg: LegConfig, invite: &Message, local_tag: &str) -> Result<Leg> {
        let dialog = Dialog::uas(invite, local_tag, &cfg.contact)?;
        let mut leg = Leg::new(cfg, Direction::Incoming);
        leg.local_tag = local_tag.into();
        leg.dialog = Some(dialog);
        leg.invite = Some(invite.clone());
        leg.rel.required = Leg::reliable_required(invite);
        leg.state = LegState::Calling;
        let trying = MessageWriter::response_to(invite, 100, "Trying", None).finish();
        leg.respond_to(invite, 100, trying);
        Ok(leg)
    }

    /// The SDP offer of the caller's INVITE, if it has one.
    pub fn remote_offer(&self) -> Option<Sdp> {
        parse_sdp(self.invite.as_ref()?)
    }

    /// Tells the caller its call rings: 180, or 183 with early media when `sdp` is
    /// given, unreliably (even when the INVITE required 100rel: use `ring_at`).
    pub fn ring(&mut self, sdp: Option<&Sdp>) {
        if !self.may_ring() {
            return;
        }
        let (code, reason) = ring_status(sdp);
        if let Some(bytes) = self.invite_response(code, reason, sdp) {
            self.respond_to_invite(code, bytes);
            self.state = LegState::Ringing;
        }
    }

    /// `ring`, reliably (RFC 3262) when the caller's INVITE requires 100rel.
    pub fn ring_at(&mut self, sdp: Option<&Sdp>, now: Instant) {
        if !self.rel.required {
            return self.ring(sdp);
        }
        if !self.may_ring() {
            return;
        }
        let (code, reason) = ring_status(sdp);
        self.ring_reliably(code, reason, sdp, now);
        self.state = LegState::Ringing;
    }

    fn may_ring(&self) -> bool {
        self.dir == Direction::Incoming
            && matches!(self.state, LegState::Calling | LegState::Ringing)
    }

    /// Answers the caller with 200 and `sdp` (with the session timer it sets up),
    /// and retransmits it until the ACK. It waits for the PRACK of a reliable 18x
    /// that carried SDP (RFC 3262 §3).
    pub fn answer(&mut self, sdp: Option<&Sdp>, now: Instant) {
        if self.dir != Direction::Incoming
            || !matches!(self.state, LegState::Calling | LegState::Ringing)
        {
            return;
        }
        if self.answer_must_wait() {
            self.rel.answer = Some(sdp.cloned());
            return;
        }
        self.rel.unacked = None;
        self.rel.queued = None;
        self.timers
            .cancel(&crate::timer::Timer::ReliableProvisional);
        if let Some(invite) = self.invite.clone() {
            self.negotiate_as_uas(&invite);
        }
        let session = self.session_headers();
        let headers: Vec<(&str, &str)> = session.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let Some(bytes) = self.invite_response_with(200, "OK", sdp, &headers) else {
            return;
        };
        self.local_sdp = sdp.map(|s| Bytes::from(s.to_bytes()));
        self.arm_session(now);
        let seq = self
            .invite
            .as_ref()
            .and_then(|i| i.cseq())
            .map_or(0, |c| c.seq);
        self.ack_wait = Some(AckWait::new(bytes.clone(), seq, now, self.cfg.timers));
        self.respond_to_invite(200, bytes);
        if let Some(d) = &mut self.dialog {
            d.confirm();
        }
        self.state = LegState::Answered;
    }

    /// A final error to the caller's INVITE; the leg ends with `code` by the switch.
    pub(crate) fn reject(&mut self, code: u16, reason: &str) {
        let code = if code < 300 { 480 } else { code };
        self.reject_invite(code, reason);
        self.end(Cause::new(code, reason, Side::Local));
    }

    /// The caller's INVITE, not answered yet, gets a final error with extra headers
    /// (a `Warning` naming why); an answered or outgoing leg is hung up as usual.
    pub fn refuse(&mut self, code: u16, reason: &str, headers: &[(&str, &str)], now: Instant) {
        let unanswered = matches!(self.state, LegState::Calling | LegState::Ringing);
        if self.dir != Direction::Incoming || !unanswered || headers.is_empty() {
            return self.hangup(code, reason, now);
        }
        let code = if code < 300 { 480 } else { code };
        if let Some(bytes) = self.invite_response_with(code, reason, None, headers) {
            self.respond_to_invite(code, bytes);
        }
        self.end(Cause::new(code, reason, Side::Local));
    }

    pub(crate) fn reject_invite(&mut self, code: u16, reason: &str) {
        if let Some(bytes) = self.invite_response(code, reason, None) {
            self.respond_to_invite(code, bytes);
        }
    }

    pub(crate) fn on_cancel(&mut self, req: &Message) {
        let branch = |m: &Message| m.top_via().and_then(|v| v.branch().map(str::to_owned));
        let matches = self.dir == Direction::Incoming
            && self.invite.as_ref().and_then(branch).is_some()
            && self.invite.as_ref().and_then(branch) == branch(req);
        if !matches {
            self.reply(req, 481, "Call/Transaction Does Not Exist");
            return;
        }
        self.reply(req, 200, "OK");
        if matches!(self.state, LegState::Calling | LegState::Ringing) {
            self.reject_invite(487, "Request Terminated");
            self.end(Cause::new(487, "Request Terminated", Side::Remote));
        }
    }

    pub(crate) fn on_ack(&mut self, req: &Message) {
        let Some(seq) = req.cseq().map(|c| c.seq) else {
            return;
        };
        if self.dialog.as_ref().map(|d| d.id()) != crate::dialog::DialogId::of_request(req).as_ref()
        {
            return;
        }
        if let Some(w) = &mut self.ack_wait {
            if w.on_ack(seq) {
                self.ack_wait = None;
            }
        }
    }

    /// A response to the caller's INVITE with our tag, and Contact and SDP when given.
    fn invite_response(&self, code: u16, reason: &str, sdp: Option<&Sdp>) -> Option<Bytes> {
        self.invite_response_with(code, reason, sdp, &[])
    }
}

/// 183 with early media, else 180.
fn ring_status(sdp: Option<&Sdp>) -> (u16, &'static str) {
    match sdp {
        Some(_) => (183, "Session Progress"),
        None => (180, "Ringing"),
    }
}
