//! Where a call's messages go: the flow of the caller, and the transactions of the
//! requests the call received (so their responses are kept for retransmissions).

use engine::sip::Message;

use crate::proto::{Flow, Replier};

/// The flow a request came in on.
pub fn flow_of(inc: &crate::proto::Incoming) -> Flow {
    match &inc.reply {
        Replier::Udp { dest, .. } => Flow::Udp(*dest),
        Replier::Tcp {
            conn, peer, tls, ..
        } => Flow::Tcp {
            peer: *peer,
            conn: *conn,
            tls: *tls,
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
        // A retransmission: the request is known already.
        let known = self
            .items
            .iter()
            .any(|(c, s, m, _)| c == call_id && *s == cseq.seq && m == cseq.method);
        if known {
            return;
        }
        self.items
            .push((call_id.to_owned(), cseq.seq, cseq.method.to_owned(), reply));
    }

    /// The replier for the request a response answers; taken away with the final
    /// response. The key comes with the engine's output: nothing is parsed again.
    pub fn take(&mut self, key: &engine::call::RequestKey, code: u16) -> Option<Replier> {
        let i = self.items.iter().position(|(c, s, meth, _)| {
            *c == key.call_id && *s == key.cseq && meth == key.method.as_str()
        })?;
        if code >= 200 {
            Some(self.items.remove(i).3)
        } else {
            Some(self.items[i].3.clone())
        }
    }
}
