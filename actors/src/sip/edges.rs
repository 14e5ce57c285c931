//! The edge proxies the switch trusts (`--edge`): what a request they relay says of
//! the phone behind them. A REGISTER keeps its Path (RFC 3327), and a request counts
//! for the address the edge recorded in its client's Via, not for the edge. From any
//! other source neither is believed.

use std::net::IpAddr;

use crate::proto::Incoming;

/// The trusted edges' addresses.
#[derive(Debug, Default)]
pub struct Edges(Vec<IpAddr>);

impl Edges {
    pub fn new(addrs: Vec<IpAddr>) -> Self {
        Edges(addrs)
    }

    /// Whether `inc` came from a trusted edge.
    fn relayed(&self, inc: &Incoming) -> bool {
        self.0.contains(&inc.source.ip())
    }

    /// The Path of a REGISTER relayed by a trusted edge (its values in order, one
    /// list); `None` from any other source, or without a Path.
    pub fn path(&self, inc: &Incoming) -> Option<String> {
        if !self.relayed(inc) {
            return None;
        }
        let values: Vec<&str> = inc.msg.values_named("Path").collect();
        (!values.is_empty()).then(|| values.join(", "))
    }

    /// The address a request counts for: its source, or for a request relayed by a
    /// trusted edge, where the edge's client sent it from (the Via below the edge's;
    /// the edge itself when that names no address).
    pub fn origin(&self, inc: &Incoming) -> IpAddr {
        let source = inc.source.ip();
        if !self.relayed(inc) {
            return source;
        }
        // By position: a Via line that does not parse makes the origin unknown (the
        // edge's own address), never one the client wrote further down.
        let mut vias = Vec::with_capacity(2);
        for value in inc.msg.values(engine::sip::HeaderName::Via) {
            match engine::sip::Via::parse_list(value) {
                Ok(v) => vias.extend(v),
                Err(_) => return source,
            }
            if vias.len() >= 2 {
                break;
            }
        }
        vias.get(1)
            .and_then(engine::sip::Via::source)
            .map_or(source, |a| a.ip())
    }
}
