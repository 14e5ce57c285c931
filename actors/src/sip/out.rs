//! Sending SIP to a flow: a UDP address (through the UDP task of the matching address
//! family) or an open TCP connection.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::tcp::Flows;
use crate::proto::{Flow, UdpOut};

/// The switch's way out: one sender per UDP socket, and the open TCP connections.
#[derive(Debug, Default)]
pub struct SipOut {
    udp: RwLock<Vec<(SocketAddr, mpsc::UnboundedSender<UdpOut>)>>,
    pub flows: Arc<Flows>,
    /// Where messages read from connections the switch opens go (set by the
    /// transport; weak: the dispatcher holds this `SipOut`).
    connector: RwLock<Option<(std::sync::Weak<super::Dispatcher>, usize)>>,
}

impl SipOut {
    pub fn new(flows: Arc<Flows>) -> Self {
        SipOut {
            udp: RwLock::new(Vec::new()),
            flows,
            connector: RwLock::new(None),
        }
    }

    /// The transport registers each UDP socket's sender.
    pub fn add_udp(&self, local: SocketAddr, tx: mpsc::UnboundedSender<UdpOut>) {
        let mut v = self.udp.write().unwrap_or_else(|p| p.into_inner());
        v.retain(|(a, _)| *a != local);
        v.push((local, tx));
    }

    /// The transport says how connections the switch opens are read.
    pub fn set_connector(&self, dispatcher: &Arc<super::Dispatcher>, max_size: usize) {
        *self.connector.write().unwrap_or_else(|p| p.into_inner()) =
            Some((Arc::downgrade(dispatcher), max_size));
    }

    /// Opens a TCP connection to `peer` (a trunk's carrier): the flow to send on.
    pub async fn connect(&self, peer: SocketAddr) -> std::io::Result<Flow> {
        let connector = self
            .connector
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let Some((dispatcher, max_size)) = connector else {
            return Err(std::io::Error::other("no TCP transport"));
        };
        let dispatcher = dispatcher
            .upgrade()
            .ok_or_else(|| std::io::Error::other("the transport stopped"))?;
        let conn = super::tcp::connect(peer, dispatcher, max_size, self.flows.clone()).await?;
        Ok(Flow::Tcp { peer, conn })
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
