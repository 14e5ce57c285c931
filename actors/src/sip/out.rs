//! Sending SIP to a flow: a UDP address (through the UDP task of the matching address
//! family) or an open TCP connection.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::tcp::Flows;
use crate::proto::{Flow, UdpOut};

/// The switch's way out: one sender per UDP socket, and the open TCP connections.
#[derive(Debug, Default)]
pub struct SipOut {
    udp: RwLock<Vec<(SocketAddr, mpsc::UnboundedSender<UdpOut>)>>,
    /// Where the switch listens for TLS, per address (for the Via and Contact it
    /// writes on TLS flows).
    tls_addrs: RwLock<Vec<SocketAddr>>,
    /// The switch's TLS sides, for connections it opens to carriers.
    tls: RwLock<Option<super::tls::Tls>>,
    pub flows: Arc<Flows>,
    /// Where messages read from connections the switch opens go (set by the
    /// transport; weak: the dispatcher holds this `SipOut`).
    connector: RwLock<Option<(std::sync::Weak<super::Dispatcher>, usize)>>,
    /// The address peers reach this node at when it is not the one it listens on (a
    /// node behind 1:1 NAT): written in Via, Contact and SDP in its place.
    advertise: Option<IpAddr>,
}

impl SipOut {
    pub fn new(flows: Arc<Flows>) -> Self {
        SipOut {
            udp: RwLock::new(Vec::new()),
            tls_addrs: RwLock::new(Vec::new()),
            tls: RwLock::new(None),
            flows,
            connector: RwLock::new(None),
            advertise: None,
        }
    }

    /// Writes `ip` in Via, Contact and SDP instead of the address listened on (for
    /// peers of its address family).
    pub fn advertising(mut self, ip: Option<IpAddr>) -> Self {
        self.advertise = ip;
        self
    }

    /// `local` (an address the switch listens on) as peers reach it.
    pub fn advertised(&self, local: SocketAddr) -> SocketAddr {
        SocketAddr::new(self.media_ip(local.ip()), local.port())
    }

    /// The address written in SDP for media ports bound on `local`.
    pub fn media_ip(&self, local: IpAddr) -> IpAddr {
        match self.advertise {
            Some(ip) if ip.is_ipv4() == local.is_ipv4() => ip,
            _ => local,
        }
    }

    /// The transport registers each UDP socket's sender.
    pub fn add_udp(&self, local: SocketAddr, tx: mpsc::UnboundedSender<UdpOut>) {
        let mut v = self.udp.write().unwrap_or_else(|p| p.into_inner());
        v.retain(|(a, _)| *a != local);
        v.push((local, tx));
    }

    /// The transport registers each TLS listener's address.
    pub fn add_tls(&self, local: SocketAddr) {
        let mut v = self.tls_addrs.write().unwrap_or_else(|p| p.into_inner());
        v.retain(|a| *a != local);
        v.push(local);
    }

    /// The transport hands over the loaded TLS configuration.
    pub fn set_tls(&self, tls: super::tls::Tls) {
        *self.tls.write().unwrap_or_else(|p| p.into_inner()) = Some(tls);
    }

    /// The switch's address as written in the Via and Contact of what it sends on
    /// `flow`: its TLS listener for a TLS flow, else its UDP (and TCP) address.
    pub fn sent_by(&self, flow: Flow) -> Option<SocketAddr> {
        let peer = flow.peer();
        if flow.is_tls() {
            let v = self.tls_addrs.read().unwrap_or_else(|p| p.into_inner());
            if let Some(a) = v.iter().find(|a| a.is_ipv4() == peer.is_ipv4()) {
                return Some(self.advertised(*a));
            }
        }
        self.local_for(peer).map(|a| self.advertised(a))
    }

    /// The transport says how connections the switch opens are read.
    pub fn set_connector(&self, dispatcher: &Arc<super::Dispatcher>, max_size: usize) {
        *self.connector.write().unwrap_or_else(|p| p.into_inner()) =
            Some((Arc::downgrade(dispatcher), max_size));
    }

    /// Opens a TCP connection to `peer` (a trunk's carrier), over TLS checked against
    /// `tls_host` when one is given: the flow to send on.
    pub async fn connect(&self, peer: SocketAddr, tls_host: Option<&str>) -> std::io::Result<Flow> {
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
        let tls = match tls_host {
            Some(host) => {
                let tls = self.tls.read().unwrap_or_else(|p| p.into_inner()).clone();
                let tls = tls.ok_or_else(|| {
                    std::io::Error::other("a TLS trunk needs the switch's --tls-cert and --tls-key")
                })?;
                Some((tls, host))
            }
            None => None,
        };
        let conn = super::tcp::connect(
            peer,
            dispatcher,
            max_size,
            self.flows.clone(),
            tls.as_ref().map(|(t, h)| (t, *h)),
        )
        .await?;
        Ok(Flow::Tcp {
            peer,
            conn,
            tls: tls.is_some(),
        })
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
            Flow::Tcp { conn, peer, tls } => self.flows.is_open(conn, peer, tls),
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
            Flow::Tcp { conn, peer, tls } => match self.flows.sender(conn, peer, tls) {
                Some(tx) => tx.try_send(bytes).is_ok(),
                None => false,
            },
        }
    }
}
