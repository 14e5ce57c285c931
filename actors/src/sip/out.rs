//! Sending SIP to a flow: a UDP address (through the UDP task of the matching address
//! family) or an open TCP connection.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::incoming::UdpOut;
use super::tcp::Flows;

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

/// The switch's way out: one sender per UDP socket, and the open TCP connections.
#[derive(Debug, Default)]
pub struct SipOut {
    udp: RwLock<Vec<(SocketAddr, mpsc::UnboundedSender<UdpOut>)>>,
    pub flows: Arc<Flows>,
}

impl SipOut {
    pub fn new(flows: Arc<Flows>) -> Self {
        SipOut {
            udp: RwLock::new(Vec::new()),
            flows,
        }
    }

    /// The transport registers each UDP socket's sender.
    pub fn add_udp(&self, local: SocketAddr, tx: mpsc::UnboundedSender<UdpOut>) {
        let mut v = self.udp.write().unwrap_or_else(|p| p.into_inner());
        v.retain(|(a, _)| *a != local);
        v.push((local, tx));
    }

    /// The local UDP address for reaching `peer` (same address family).
    pub fn local_for(&self, peer: SocketAddr) -> Option<SocketAddr> {
        let v = self.udp.read().unwrap_or_else(|p| p.into_inner());
        v.iter()
            .find(|(a, _)| a.is_ipv4() == peer.is_ipv4())
            .map(|(a, _)| *a)
    }

    /// True when a flow can be used: always for UDP; for TCP while the connection it
    /// names is open to the same peer.
    pub fn is_usable(&self, flow: Flow) -> bool {
        match flow {
            Flow::Udp(_) => true,
            Flow::Tcp { conn, peer } => self.flows.is_open(conn, peer),
        }
    }

    /// Sends bytes along a flow; false when there is no way to it.
    pub fn send(&self, flow: Flow, bytes: Bytes) -> bool {
        match flow {
            Flow::Udp(dest) => {
                let v = self.udp.read().unwrap_or_else(|p| p.into_inner());
                match v.iter().find(|(a, _)| a.is_ipv4() == dest.is_ipv4()) {
                    Some((_, tx)) => tx
                        .send(UdpOut {
                            dest,
                            bytes,
                            txn: None,
                        })
                        .is_ok(),
                    None => false,
                }
            }
            Flow::Tcp { conn, peer } => match self.flows.sender(conn, peer) {
                Some(tx) => tx.try_send(bytes).is_ok(),
                None => false,
            },
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
