//! Requests the call relays through an established dialog: a re-INVITE, UPDATE or INFO
//! of the other leg's device sent in this leg's dialog (with its client transaction,
//! and the ACK of a 2xx to a re-INVITE), and the call's answers to the requests this
//! leg reported (`LegEvent::Request`), 2xx to a re-INVITE retransmitted until its ACK.

use std::time::Instant;

use bytes::Bytes;

use super::event::{LegEvent, Output};
use super::leg::Leg;
use crate::dialog::AckWait;
use crate::sip::{Message, MessageWriter, Method};
use crate::transaction::{ClientInvite, Event};

/// A re-INVITE of ours: its transaction while it runs, and the ACK of its 2xx (sent
/// again when the 2xx is).
#[derive(Debug)]
pub(crate) struct Reinvite {
    pub(crate) branch: String,
    pub(crate) request: Message,
    pub(crate) txn: Option<ClientInvite>,
    pub(crate) ack: Option<Bytes>,
}

/// A body and its Content-Type.
pub type Body<'a> = (&'a str, &'a [u8]);

impl Leg {
    /// Sends `method` in this leg's dialog with `body` and runs its client transaction;
    /// its responses come back as `LegEvent::Response`, a 2xx to a re-INVITE already
    /// acknowledged. Returns the request's CSeq number; `None` without a dialog, or
    /// for a re-INVITE while one of ours is still unanswered (the caller answers 491).
    pub fn send_request(
        &mut self,
        method: &Method,
        body: Option<Body<'_>>,
        now: Instant,
    ) -> Option<u32> {
        self.send_request_with(method, &[], body, now)
    }

    /// `send_request` with further header lines (Event, Subscription-State …).
    pub fn send_request_with(
        &mut self,
        method: &Method,
        headers: &[(&str, &str)],
        body: Option<Body<'_>>,
        now: Instant,
    ) -> Option<u32> {
        let invite = *method == Method::Invite;
        if invite && self.dialog()?.local_invite_pending() {
            return None;
        }
        let branch = self.next_branch();
        let w = {
            let via = self.via_owned();
            let (transport, sent_by) = (via.0.as_str(), via.1.as_str());
            let via = crate::dialog::LocalVia { transport, sent_by };
            self.dialog.as_mut()?.request(method, via, &branch)
        };
        let mut w = w;
        for (name, value) in headers {
            w.header(name, value);
        }
        if let Some((_, b)) = body.filter(|(ct, _)| is_sdp(ct)) {
            self.local_sdp = Some(Bytes::copy_from_slice(b));
        }
        let bytes = match body {
            Some((ct, b)) => w.body(ct, b),
            None => w.finish(),
        };
        let seq = self.dialog.as_ref()?.local_seq();
        if !invite {
            self.start_request(method.clone(), false, branch, bytes, now);
            return Some(seq);
        }
        let request = match Message::parse(Bytes::from(bytes)) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "re-INVITE does not parse");
                return None;
            }
        };
        let (txn, events) =
            ClientInvite::start(request.clone(), self.cfg.reliable, now, self.cfg.timers);
        self.transmit(&events);
        self.reinvite = Some(Reinvite {
            branch,
            request,
            txn: Some(txn),
            ack: None,
        });
        Some(seq)
    }

    /// Answers a request this leg reported with `LegEvent::Request`. A final response
    /// to a re-INVITE ends it in the dialog; a 2xx to one is resent until its ACK.
    pub fn respond(
        &mut self,
        req: &Message,
        code: u16,
        reason: &str,
        body: Option<Body<'_>>,
        now: Instant,
    ) {
        let method = req.method().cloned();
        let mut w = MessageWriter::response_to(req, code, reason, None);
        let refresh = matches!(method, Some(Method::Invite | Method::Update));
        if refresh && (200..300).contains(&code) {
            w.header("Contact", &self.cfg.contact);
            // The device refreshed the session (RFC 4028): the 2xx says how it goes on.
            self.on_peer_refresh(req, now);
            for (name, value) in self.session_headers() {
                w.header(name, &value);
            }
            if let Some((_, b)) = body.filter(|(ct, _)| is_sdp(ct)) {
                self.local_sdp = Some(Bytes::copy_from_slice(b));
            }
        }
        let bytes = Bytes::from(match body {
            Some((ct, b)) => w.body(ct, b),
            None => w.finish(),
        });
        if method == Some(Method::Invite) && code >= 200 {
            if let Some(d) = &mut self.dialog {
                d.remote_invite_answered();
            }
            if code < 300 {
                let seq = req.cseq().map_or(0, |c| c.seq);
                self.ack_wait = Some(AckWait::new(bytes.clone(), seq, now, self.cfg.timers));
            }
        }
        self.respond_to(req, code, bytes);
    }

    /// True when `resp` answers our re-INVITE; handles it (ACK for a 2xx).
    pub(crate) fn on_reinvite_response(&mut self, resp: &Message, now: Instant) -> bool {
        let branch = resp.top_via().and_then(|v| v.branch()).unwrap_or("");
        let Some(r) = self.reinvite.as_mut().filter(|r| r.branch == branch) else {
            return false;
        };
        let code = resp.code().unwrap_or(0);
        let fresh = match r.txn.as_mut() {
            Some(txn) => {
                let events = txn.on_response(resp, now);
                if events.contains(&Event::Terminated) {
                    r.txn = None;
                }
                self.transmit(&events);
                true
            }
            None => false,
        };
        if (200..300).contains(&code) {
            let r = self.reinvite.as_ref().filter(|r| r.ack.is_some());
            if let Some(ack) = r.and_then(|r| r.ack.clone()) {
                // The 2xx again: our ACK got lost.
                self.out.push_back(Output::Send(ack));
                return true;
            }
            if let Some(d) = &mut self.dialog {
                d.on_response(resp);
            }
            let ack_branch = self.next_branch();
            let via = self.via_owned();
            let via = crate::dialog::LocalVia {
                transport: &via.0,
                sent_by: &via.1,
            };
            let Some(ack) = self
                .dialog
                .as_ref()
                .map(|d| d.ack(via, &ack_branch).finish())
            else {
                return true;
            };
            let ack = Bytes::from(ack);
            if let Some(r) = self.reinvite.as_mut() {
                r.ack = Some(ack.clone());
            }
            self.out.push_back(Output::Send(ack));
            self.event(LegEvent::Response(resp.clone()));
            return true;
        }
        if fresh && code > 100 {
            if let Some(d) = &mut self.dialog {
                d.on_response(resp);
            }
            self.event(LegEvent::Response(resp.clone()));
        }
        true
    }

    /// Drives our re-INVITE's transaction; a timeout is reported as a 408 response.
    pub(crate) fn on_reinvite_timeout(&mut self, now: Instant) {
        let Some(r) = self.reinvite.as_mut() else {
            return;
        };
        let Some(txn) = r.txn.as_mut() else { return };
        let events = txn.on_timeout(now);
        let timed_out = events.contains(&Event::Timeout);
        if events.contains(&Event::Terminated) {
            r.txn = None;
        }
        let request = r.request.clone();
        self.transmit(&events);
        if timed_out {
            let bytes = MessageWriter::response_to(&request, 408, "Request Timeout", None).finish();
            if let Ok(resp) = Message::parse(Bytes::from(bytes)) {
                if let Some(d) = &mut self.dialog {
                    d.on_response(&resp);
                }
                self.event(LegEvent::Response(resp));
            }
        }
    }

    pub(crate) fn reinvite_timeout(&self) -> Option<Instant> {
        self.reinvite
            .as_ref()?
            .txn
            .as_ref()
            .and_then(ClientInvite::next_timeout)
    }

    fn via_owned(&self) -> (String, String) {
        (self.cfg.transport.clone(), self.cfg.sent_by.clone())
    }
}

/// True for an `application/sdp` Content-Type.
fn is_sdp(ct: &str) -> bool {
    ct.split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/sdp"))
}
