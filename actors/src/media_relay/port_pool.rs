//! Even RTP ports (RTCP on the next odd one) handed out from a configurable range.
//!
//! The pool is only touched when a relay starts or ends, never per packet: a `Mutex`
//! guards the free list, an atomic counts what is out. Ports are handed out in random
//! order, so that an outsider cannot tell which ports a new call got.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::{Error, Result};

/// The default media port range (RTP on the even ports, RTCP on the odd ones).
pub const DEFAULT_PORTS: RangeInclusive<u16> = 20000..=29999;

/// A pool of RTP/RTCP port pairs. Share it as an `Arc<PortPool>`.
#[derive(Debug)]
pub struct PortPool {
    /// Even RTP ports not handed out.
    free: Mutex<Vec<u16>>,
    /// Ports (RTP and RTCP each count) currently handed out.
    in_use: AtomicUsize,
    pairs: usize,
    range: RangeInclusive<u16>,
}

impl Default for PortPool {
    fn default() -> Self {
        Self::new(DEFAULT_PORTS).expect("the default range holds port pairs")
    }
}

impl PortPool {
    /// A pool over `range`: every even port `p` with `p + 1` also in the range is an
    /// RTP port whose RTCP port is `p + 1`.
    pub fn new(range: RangeInclusive<u16>) -> Result<Self> {
        let (lo, hi) = (u32::from(*range.start()), u32::from(*range.end()));
        let first = lo + (lo % 2);
        let free: Vec<u16> = (first..hi)
            .step_by(2)
            .filter_map(|p| u16::try_from(p).ok())
            .filter(|&p| p != 0)
            .collect();
        if free.is_empty() {
            return Err(Error::Invalid(format!(
                "media port range {lo}-{hi} holds no RTP/RTCP pair"
            )));
        }
        let pairs = free.len();
        let lo_port = u16::try_from(first).unwrap_or(u16::MAX);
        Ok(Self {
            free: Mutex::new(free),
            in_use: AtomicUsize::new(0),
            pairs,
            range: lo_port..=u16::try_from(hi).unwrap_or(u16::MAX),
        })
    }

    /// True when `port` (RTP or RTCP) lies in the pool's range: one of the switch's
    /// own media ports.
    pub fn owns(&self, port: u16) -> bool {
        self.range.contains(&port)
    }

    /// How many ports (RTP and RTCP each count) are handed out now.
    pub fn ports_in_use(&self) -> usize {
        self.in_use.load(Ordering::Relaxed)
    }

    /// How many RTP/RTCP pairs the range holds.
    pub fn capacity(&self) -> usize {
        self.pairs
    }

    /// How many RTP/RTCP pairs are not handed out.
    pub fn free_pairs(&self) -> usize {
        self.pairs.saturating_sub(self.ports_in_use() / 2)
    }

    /// Binds an RTP socket on an even port of the range and an RTCP socket on the next
    /// port, both on `ip`, non-blocking. Ports the OS refuses (taken by someone else)
    /// are skipped and put back at the end of the free list.
    pub fn allocate(self: &Arc<Self>, ip: IpAddr) -> Result<PortPair> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        let mut refused = Vec::new();
        let got = loop {
            if free.is_empty() {
                break None;
            }
            let pick = rand::random::<usize>() % free.len();
            let port = free.swap_remove(pick);
            match bind_pair(ip, port) {
                Ok((rtp, rtcp)) => break Some((port, rtp, rtcp)),
                Err(e) => {
                    tracing::debug!(%ip, port, error = %e, "media port refused, skipped");
                    refused.push(port);
                }
            }
        };
        free.extend(refused);
        let (port, rtp, rtcp) = got.ok_or(Error::PortsExhausted)?;
        self.in_use.fetch_add(2, Ordering::Relaxed);
        Ok(PortPair {
            rtp,
            rtcp,
            lease: PortLease {
                pool: Arc::clone(self),
                port,
            },
        })
    }

    fn release(&self, port: u16) {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        free.push(port);
        self.in_use.fetch_sub(2, Ordering::Relaxed);
    }
}

fn bind_pair(ip: IpAddr, port: u16) -> std::io::Result<(UdpSocket, UdpSocket)> {
    let rtp = UdpSocket::bind(SocketAddr::new(ip, port))?;
    let rtcp = UdpSocket::bind(SocketAddr::new(ip, port + 1))?;
    rtp.set_nonblocking(true)?;
    rtcp.set_nonblocking(true)?;
    Ok((rtp, rtcp))
}

/// Two bound sockets and the lease on their ports. Fields drop in order: the sockets
/// close before the ports go back to the pool.
#[derive(Debug)]
pub struct PortPair {
    /// The RTP socket, on the even port.
    pub rtp: UdpSocket,
    /// The RTCP socket, on the RTP port + 1.
    pub rtcp: UdpSocket,
    /// Returns the ports to the pool when dropped.
    pub lease: PortLease,
}

/// One RTP/RTCP pair taken from a [`PortPool`]; dropping it returns the pair.
#[derive(Debug)]
pub struct PortLease {
    pool: Arc<PortPool>,
    port: u16,
}

impl PortLease {
    /// The RTP port (RTCP is this + 1).
    pub fn rtp_port(&self) -> u16 {
        self.port
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        self.pool.release(self.port);
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[test]
    fn ranges_hold_even_pairs() {
        assert_eq!(PortPool::new(20000..=29999).unwrap().capacity(), 5000);
        assert_eq!(PortPool::new(20001..=20004).unwrap().capacity(), 1);
        assert!(PortPool::new(20001..=20002).is_err());
        assert!(PortPool::new(30000..=30000).is_err());
        assert_eq!(PortPool::new(65534..=65535).unwrap().capacity(), 1);
    }

    #[test]
    fn allocate_skips_taken_ports_and_returns_on_drop() {
        // Someone else holds the first RTP port of the range (if the bind works).
        let pool = Arc::new(PortPool::new(41000..=41009).unwrap());
        let squatter = UdpSocket::bind((LOCAL, 41000)).ok();
        let a = pool.allocate(LOCAL).unwrap();
        if squatter.is_some() {
            assert_ne!(a.lease.rtp_port(), 41000);
        }
        assert_eq!(a.lease.rtp_port() % 2, 0);
        assert_eq!(a.rtcp.local_addr().unwrap().port(), a.lease.rtp_port() + 1);
        assert_eq!(pool.ports_in_use(), 2);
        let b = pool.allocate(LOCAL).unwrap();
        assert_ne!(a.lease.rtp_port(), b.lease.rtp_port());
        assert_eq!(pool.ports_in_use(), 4);
        drop(a);
        drop(b);
        assert_eq!(pool.ports_in_use(), 0);
    }

    #[test]
    fn exhaustion_is_an_error() {
        let pool = Arc::new(PortPool::new(41100..=41101).unwrap());
        let held = pool.allocate(LOCAL);
        if let Ok(held) = held {
            assert!(matches!(pool.allocate(LOCAL), Err(Error::PortsExhausted)));
            drop(held);
            assert_eq!(pool.ports_in_use(), 0);
        }
    }
}
