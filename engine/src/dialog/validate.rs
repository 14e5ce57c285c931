//! Checking a request that claims to belong to a dialog (RFC 3261 §12.2.2, §14.2).

use super::glare::RetryRange;
use super::id::DialogId;
use super::state::{Dialog, DialogState};
use crate::sip::{Message, MessageWriter, Method};

/// Why an in-dialog request is refused, as the response to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reject {
    pub code: u16,
    pub reason: &'static str,
    /// Seconds for a Retry-After header (500 to an overlapping INVITE).
    pub retry_after: Option<u32>,
}

impl Reject {
    pub const NO_DIALOG: Reject = Reject {
        code: 481,
        reason: "Call/Transaction Does Not Exist",
        retry_after: None,
    };
    pub const OUT_OF_ORDER: Reject = Reject {
        code: 500,
        reason: "Server Internal Error",
        retry_after: None,
    };
    pub const REQUEST_PENDING: Reject = Reject {
        code: 491,
        reason: "Request Pending",
        retry_after: None,
    };

    /// The response to `req` (its To tag is already there: it is an in-dialog request).
    pub fn response(&self, req: &Message) -> Vec<u8> {
        let mut w = MessageWriter::response_to(req, self.code, self.reason, None);
        if let Some(s) = self.retry_after {
            w.header_fmt("Retry-After", s);
        }
        w.finish()
    }
}

impl Dialog {
    /// Accepts a request from the peer, or says how to refuse it: another dialog →
    /// 481; a CSeq not above the last one → 500; a re-INVITE while ours is pending →
    /// 491 (glare); a re-INVITE while the peer's previous one is unanswered → 500 with
    /// Retry-After (`random` picks 0–10 s). ACK and CANCEL are not sequence-checked.
    /// An accepted target refresh replaces the remote target.
    pub fn accept_request(&mut self, req: &Message, random: u32) -> Result<(), Reject> {
        if self.state == DialogState::Terminated
            || DialogId::of_request(req).as_ref() != Some(&self.id)
        {
            return Err(Reject::NO_DIALOG);
        }
        let method = req.method().ok_or(Reject::NO_DIALOG)?;
        let seq = req.cseq().ok_or(Reject::OUT_OF_ORDER)?.seq;
        if matches!(method, Method::Ack | Method::Cancel) {
            return Ok(());
        }
        if self.remote_seq.is_some_and(|last| seq <= last) {
            return Err(Reject::OUT_OF_ORDER);
        }
        if *method == Method::Invite {
            if self.local_invite_pending {
                return Err(Reject::REQUEST_PENDING);
            }
            if self.remote_invite_pending {
                let range = RetryRange::OVERLAP;
                return Err(Reject {
                    retry_after: Some(range.pick(random).as_secs() as u32),
                    ..Reject::OUT_OF_ORDER
                });
            }
            self.remote_invite_pending = true;
        }
        self.remote_seq = Some(seq);
        self.refresh_target(req);
        Ok(())
    }
}
