//! What a line actor is asked.

use engine::registrar::Binding;
use ractor::RpcReplyPort;

use super::Incoming;

pub enum LineMsg {
    /// A REGISTER for this line, or a new call (INVITE) from it.
    Request(Box<Incoming>),
    /// The earliest binding may have run out.
    Expire,
    Bindings(RpcReplyPort<Vec<Binding>>),
}

impl std::fmt::Debug for LineMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LineMsg::Request(_) => f.write_str("Request"),
            LineMsg::Expire => f.write_str("Expire"),
            LineMsg::Bindings(_) => f.write_str("Bindings"),
        }
    }
}
