//! Where a device is reached: the flow a binding records.

use std::net::SocketAddr;

/// Where a device is reached, as recorded in its binding (`udp:ADDR`, `tcp:ADDR#ID`,
/// `tls:ADDR#ID`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Udp(SocketAddr),
    /// A connection the switch holds, plain or (`tls`) encrypted.
    Tcp {
        peer: SocketAddr,
        conn: u64,
        tls: bool,
    },
}

impl Flow {
    pub fn parse(s: &str) -> Option<Flow> {
        if let Some(a) = s.strip_prefix("udp:") {
            return a.parse().ok().map(Flow::Udp);
        }
        let (rest, tls) = match s.strip_prefix("tcp:") {
            Some(r) => (r, false),
            None => (s.strip_prefix("tls:")?, true),
        };
        let (peer, conn) = rest.rsplit_once('#')?;
        Some(Flow::Tcp {
            peer: peer.parse().ok()?,
            conn: conn.parse().ok()?,
            tls,
        })
    }

    pub fn peer(&self) -> SocketAddr {
        match *self {
            Flow::Udp(a) | Flow::Tcp { peer: a, .. } => a,
        }
    }

    /// The transport as a Via names it.
    pub fn transport(&self) -> &'static str {
        match self {
            Flow::Udp(_) => "UDP",
            Flow::Tcp { tls: false, .. } => "TCP",
            Flow::Tcp { tls: true, .. } => "TLS",
        }
    }

    /// The `transport` URI parameter for a Contact reached over this flow.
    pub fn uri_param(&self) -> &'static str {
        match self {
            Flow::Udp(_) => "",
            Flow::Tcp { tls: false, .. } => ";transport=tcp",
            Flow::Tcp { tls: true, .. } => ";transport=tls",
        }
    }

    /// True over a connection (TCP or TLS): no retransmissions.
    pub fn is_reliable(&self) -> bool {
        matches!(self, Flow::Tcp { .. })
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, Flow::Tcp { tls: true, .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flows_parse_from_bindings() {
        assert_eq!(
            Flow::parse("udp:127.0.0.1:5062"),
            Some(Flow::Udp("127.0.0.1:5062".parse().unwrap()))
        );
        assert_eq!(
            Flow::parse("tcp:[::1]:40000#7"),
            Some(Flow::Tcp {
                peer: "[::1]:40000".parse().unwrap(),
                conn: 7,
                tls: false
            })
        );
        assert_eq!(
            Flow::parse("tls:127.0.0.1:40000#8"),
            Some(Flow::Tcp {
                peer: "127.0.0.1:40000".parse().unwrap(),
                conn: 8,
                tls: true
            })
        );
        assert_eq!(Flow::parse("sctp:x"), None);
    }
}
