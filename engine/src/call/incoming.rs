//! The leg that called the switch: its INVITE in, 100/18x/2xx or a final error out,
//! CANCEL (487), and the 2xx retransmitted until the ACK comes (RFC 3261 §13.3.1.4).
//! Retransmitted INVITEs and non-2xx ACKs are absorbed by the transport's server
//! transactions before they reach the leg.

use std::time::Instant;

use bytes::Bytes;

use super::event::{Cause, LegState, Output, Side};
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
        leg.state = LegState::Calling;
        let trying = MessageWriter::response_to(invite, 100, "Trying", None).finish();
        leg.out.push_back(Output::Send(Bytes::from(trying)));
        Ok(leg)
    }

    /// The SDP offer of the caller's INVITE, if it has one.
    pub fn remote_offer(&self) -> Option<Sdp> {
        parse_sdp(self.invite.as_ref()?)
    }

    /// Tells the caller its call rings: 180, or 183 with early media when `sdp` is
    /// given.
    pub fn ring(&mut self, sdp: Option<&Sdp>) {
        if self.dir != Direction::Incoming
            || !matches!(self.state, LegState::Calling | LegState::Ringing)
        {
            return;
        }
        let (code, reason) = match sdp {
            Some(_) => (183, "Session Progress"),
            None => (180, "Ringing"),
        };
        if let Some(bytes) = self.invite_response(code, reason, sdp) {
            self.out.push_back(Output::Send(bytes));
            self.state = LegState::Ringing;
        }
    }

    /// Answers the caller with 200 and `sdp`, and retransmits it until the ACK.
    pub fn answer(&mut self, sdp: Option<&Sdp>, now: Instant) {
        if self.dir != Direction::Incoming
            || !matches!(self.state, LegState::Calling | LegState::Ringing)
        {
            return;
        }
        let Some(bytes) = self.invite_response(200, "OK", sdp) else {
            return;
        };
        let seq = self
            .invite
            .as_ref()
            .and_then(|i| i.cseq())
            .map_or(0, |c| c.seq);
        self.ack_wait = Some(AckWait::new(bytes.clone(), seq, now, self.cfg.timers));
        self.out.push_back(Output::Send(bytes));
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

    pub(crate) fn reject_invite(&mut self, code: u16, reason: &str) {
        if let Some(bytes) = self.invite_response(code, reason, None) {
            self.out.push_back(Output::Send(bytes));
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
        let invite = self.invite.as_ref()?;
        let mut w = MessageWriter::response_to(invite, code, reason, Some(&self.local_tag));
        if code < 300 {
            w.header("Contact", &self.cfg.contact);
        }
        let bytes = match sdp {
            Some(s) => w.body("application/sdp", &s.to_bytes()),
            None => w.finish(),
        };
        Some(Bytes::from(bytes))
    }
}
