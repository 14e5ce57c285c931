//! Reliable provisional responses (RFC 3262). The caller's leg: when its INVITE
//! requires 100rel, each 18x goes with `Require: 100rel` and an RSeq and is resent
//! (T1, doubling) until its PRACK, which gets 200; after 64*T1 without one the INVITE
//! gets 500. A second 18x waits for the PRACK of the first, and so does a 2xx when the
//! unacknowledged 18x carried SDP (§3). The callee's leg: a reliable 18x from the
//! device is answered with PRACK (RAck), in order of RSeq (§4).

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::leg::Leg;
use super::session::requires;
use crate::dialog::LocalVia;
use crate::sdp::Sdp;
use crate::sip::{HeaderName, Message, MessageWriter, Method};
use crate::timer::Timer;

/// The reliable 18x of ours waiting for its PRACK.
#[derive(Debug, Clone)]
pub(crate) struct Unacked {
    /// The status code of the 18x.
    pub(crate) code: u16,
    pub(crate) rseq: u32,
    pub(crate) bytes: Bytes,
    pub(crate) has_sdp: bool,
    pub(crate) interval: Duration,
    pub(crate) started: Instant,
}

/// The 100rel state of a leg.
#[derive(Debug, Default)]
pub(crate) struct Rel {
    /// Caller's leg: its INVITE requires 100rel.
    pub(crate) required: bool,
    /// Caller's leg: the last RSeq sent.
    pub(crate) rseq: u32,
    pub(crate) unacked: Option<Unacked>,
    /// An 18x (its SDP) to send once the unacknowledged one is PRACKed.
    pub(crate) queued: Option<Option<Sdp>>,
    /// A 2xx (its SDP) to send once the unacknowledged one is PRACKed.
    pub(crate) answer: Option<Option<Sdp>>,
    /// Callee's leg: the RSeq of the last reliable 18x acknowledged.
    pub(crate) last_in: Option<u32>,
}

impl Leg {
    /// True when the caller's INVITE requires reliable provisional responses.
    pub(crate) fn reliable_required(invite: &Message) -> bool {
        requires(invite, "100rel")
    }

    /// Sends an 18x to the caller reliably, or queues it behind the one unacked.
    pub(crate) fn ring_reliably(
        &mut self,
        code: u16,
        reason: &str,
        sdp: Option<&Sdp>,
        now: Instant,
    ) {
        if self.rel.unacked.is_some() {
            self.rel.queued = Some(sdp.cloned());
            return;
        }
        self.rel.rseq += 1;
        let rseq = self.rel.rseq.to_string();
        let headers = [("Require", "100rel"), ("RSeq", rseq.as_str())];
        let Some(bytes) = self.invite_response_with(code, reason, sdp, &headers) else {
            return;
        };
        let interval = self.cfg.timers.t1;
        self.rel.unacked = Some(Unacked {
            code,
            rseq: self.rel.rseq,
            bytes: bytes.clone(),
            has_sdp: sdp.is_some(),
            interval,
            started: now,
        });
        let first = if self.cfg.reliable {
            now + 64 * self.cfg.timers.t1
        } else {
            now + interval
        };
        self.timers.set(Timer::ReliableProvisional, first);
        self.respond_to_invite(code, bytes);
    }

    /// True when the 2xx must wait for the PRACK of an 18x that carried SDP.
    pub(crate) fn answer_must_wait(&self) -> bool {
        self.rel.unacked.as_ref().is_some_and(|u| u.has_sdp)
    }

    /// The reliable 18x is due again, or has waited 64*T1 for its PRACK.
    pub(crate) fn on_reliable_timeout(&mut self, now: Instant) {
        let t1 = self.cfg.timers.t1;
        let reliable = self.cfg.reliable;
        let Some(u) = &mut self.rel.unacked else {
            return;
        };
        if now.saturating_duration_since(u.started) >= 64 * t1 {
            self.rel = Default::default();
            self.reject(500, "Provisional Response Not Acknowledged");
            return;
        }
        let (bytes, code) = (u.bytes.clone(), u.code);
        u.interval *= 2;
        let next = if reliable {
            u.started + 64 * t1
        } else {
            (now + u.interval).min(u.started + 64 * t1)
        };
        self.timers.set(Timer::ReliableProvisional, next);
        if !reliable {
            self.respond_to_invite(code, bytes);
        }
    }

    /// A PRACK from the caller: 200 when its RAck names the 18x waiting, then what
    /// waited behind it goes out; 481 otherwise (RFC 3262 §3).
    pub(crate) fn on_prack(&mut self, req: &Message, now: Instant) {
        let Some(d) = &mut self.dialog else {
            self.reply(req, 481, "Call/Transaction Does Not Exist");
            return;
        };
        if let Err(r) = d.accept_request(req, 0) {
            let bytes = r.response(req);
            self.respond_to(req, r.code, bytes);
            return;
        }
        let invite_seq = self.invite.as_ref().and_then(|i| i.cseq()).map(|c| c.seq);
        let rack = req.header(HeaderName::Rack).and_then(parse_rack);
        let matches = match (&self.rel.unacked, rack) {
            (Some(u), Some((rseq, seq, method))) => {
                u.rseq == rseq && Some(seq) == invite_seq && method == "INVITE"
            }
            _ => false,
        };
        if !matches {
            self.reply(req, 481, "Call/Transaction Does Not Exist");
            return;
        }
        self.rel.unacked = None;
        self.timers.cancel(&Timer::ReliableProvisional);
        self.reply(req, 200, "OK");
        if let Some(answer) = self.rel.answer.take() {
            self.rel.queued = None;
            self.answer(answer.as_ref(), now);
        } else if let Some(sdp) = self.rel.queued.take() {
            self.ring_at(sdp.as_ref(), now);
        }
    }

    /// Callee's leg: a reliable 18x from the device. Returns false when it must not be
    /// processed further (a retransmission, or out of order); otherwise sends PRACK.
    pub(crate) fn prack(&mut self, resp: &Message, now: Instant) -> bool {
        if !requires(resp, "100rel") {
            return true;
        }
        let Some(rseq) = resp
            .header(HeaderName::Rseq)
            .and_then(|v| v.trim().parse::<u32>().ok())
        else {
            return true;
        };
        if self
            .rel
            .last_in
            .is_some_and(|last| rseq != last.wrapping_add(1))
        {
            return false;
        }
        self.rel.last_in = Some(rseq);
        let Some(cseq) = resp.cseq().map(|c| c.seq) else {
            return true;
        };
        let branch = self.next_branch();
        let (transport, sent_by) = (self.cfg.transport.clone(), self.cfg.sent_by.clone());
        let via = LocalVia {
            transport: &transport,
            sent_by: &sent_by,
        };
        let Some(d) = self.dialog.as_mut() else {
            return true;
        };
        let mut w = d.request(&Method::Prack, via, &branch);
        w.header_fmt("RAck", format_args!("{rseq} {cseq} INVITE"));
        let bytes = w.finish();
        self.start_request(Method::Prack, false, branch, bytes, now);
        true
    }

    /// A response to the caller's INVITE with extra headers.
    pub(crate) fn invite_response_with(
        &self,
        code: u16,
        reason: &str,
        sdp: Option<&Sdp>,
        headers: &[(&str, &str)],
    ) -> Option<Bytes> {
        let invite = self.invite.as_ref()?;
        let mut w = MessageWriter::response_to(invite, code, reason, Some(&self.local_tag));
        if code < 300 {
            w.header("Contact", &self.cfg.contact);
        }
        for (name, value) in headers {
            w.header(name, value);
        }
        let bytes = match sdp {
            Some(s) => w.body("application/sdp", &s.to_bytes()),
            None => w.finish(),
        };
        Some(Bytes::from(bytes))
    }
}

/// `RAck: <rseq> <cseq> <method>`.
fn parse_rack(v: &str) -> Option<(u32, u32, &str)> {
    let mut it = v.split_whitespace();
    let rseq = it.next()?.parse().ok()?;
    let seq = it.next()?.parse().ok()?;
    Some((rseq, seq, it.next()?))
}
