//! Where a call's messages go: the flow of the caller, and the transactions of the
//! requests the call received (so their responses are kept for retransmissions).

use bytes::Bytes;
use engine::sip::Message;

use crate::proto::{Flow, Replier};

/// The flow a request came in on.
pub fn flow_of(inc: &crate::proto::Incoming) -> Flow {
    match &inc.reply {
        Replier::Udp { dest, .. } => Flow::Udp(*dest),
        Replier::Tcp { conn, peer, .. } => Flow::Tcp {
            peer: *peer,
            conn: *conn,
        },
    }
}

/// Requests the call received that still await their final response.
#[derive(Default)]
pub struct Pending {
    items: Vec<(String, u32, String, Replier)>,
}

impl Pending {
    pub fn push(&mut self, req: &Message, reply: Replier) {
        let (Some(call_id), Some(cseq)) = (req.call_id(), req.cseq()) else {
            return;
        };
        if cseq.method == "ACK" {
            return;
        }
        self.items
            .push((call_id.to_owned(), cseq.seq, cseq.method.to_owned(), reply));
    }

    /// The replier for a response's request; taken away with the final response.
    pub fn take_for(&mut self, bytes: &Bytes) -> Option<Replier> {
        let code = crate::proto::status_code(bytes)?;
        let m = Message::parse(bytes.clone()).ok()?;
        let (call_id, cseq) = (m.call_id()?, m.cseq()?);
        let i = self
            .items
            .iter()
            .position(|(c, s, meth, _)| c == call_id && *s == cseq.seq && meth == cseq.method)?;
        if code >= 200 {
            Some(self.items.remove(i).3)
        } else {
            Some(self.items[i].3.clone())
        }
    }
}
