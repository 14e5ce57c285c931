//! Where a device is reached: the flow a binding records.

use std::net::SocketAddr;

/// Where a device is reached, as recorded in its binding (`udp:ADDR`, `tcp:ADDR#ID`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Udp(SocketAddr),
    Tcp { peer: SocketAddr, conn: u64 },
}

impl Flow {
    pub fn parse(s: &str) -> Option<Flow> {
        if let Some(a) = s.strip_prefix("udp:") {
            return a.parse().ok().map(Flow::Udp);
        }
        let rest = s.strip_prefix("tcp:")?;
        let (peer, conn) = rest.rsplit_once('#')?;
        Some(Flow::Tcp {
            peer: peer.parse().ok()?,
            conn: conn.parse().ok()?,
        })
    }

    pub fn peer(&self) -> SocketAddr {
        match *self {
            Flow::Udp(a) | Flow::Tcp { peer: a, .. } => a,
        }
    }

    pub fn transport(&self) -> &'static str {
        match self {
            Flow::Udp(_) => "UDP",
            Flow::Tcp { .. } => "TCP",
        }
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
                conn: 7
            })
        );
        assert_eq!(Flow::parse("sctp:x"), None);
    }
}
