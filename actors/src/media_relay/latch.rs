//! Symmetric RTP latching (RFC 4961 style) without hijacking: the address a side's
//! packets really come from replaces the one its SDP announced (phones behind NAT),
//! but only a source the signalling names may be latched.
//!
//! The rule (SECURITY.md):
//! - the address the SDP names is always taken (it is where media goes anyway);
//! - otherwise only a source on the IP address the side's SIP comes from (a NAT
//!   rewrites the port, not the address), and only while nothing is latched or the
//!   latched source has been quiet for `QUIET_PERIOD`: a live source is never left;
//! - any other source is dropped, whatever its SSRC. A new SDP (`expect`) starts over.
//!
//! Sans-IO: the time of arrival is an argument.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use std::time::Instant;

/// How long a latched source must stay silent before another source may take over.
pub const QUIET_PERIOD: Duration = Duration::from_secs(1);

/// What to do with a packet, given where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// From the latched source: relay it.
    Accept,
    /// The latch moved to this packet's source: relay it.
    Latched,
    /// From a source the latch does not take: drop it.
    Reject,
}

/// The latch of one side for one kind of packet (RTP or RTCP).
#[derive(Debug, Clone, Default)]
pub struct Latch {
    /// Where the SDP says the side sends from and receives at.
    expected: Option<SocketAddr>,
    /// The IP address of the side's signalling (SIP flow).
    signalling: Option<IpAddr>,
    /// Latched source and when it was last heard.
    current: Option<(SocketAddr, Instant)>,
}

impl Latch {
    /// The latched source, if any.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.current.map(|(addr, _)| addr)
    }

    /// A new SDP names `addr` (none when its address is not one to send to): the
    /// latch starts over.
    pub fn expect(&mut self, addr: Option<SocketAddr>) {
        self.expected = addr;
        self.current = None;
    }

    /// The side's SIP comes from `ip` (sources on it may latch), or from nowhere the
    /// latch should trust.
    pub fn set_signalling(&mut self, ip: Option<IpAddr>) {
        self.signalling = ip;
    }

    /// Accounts for a packet with a valid header from `src`.
    pub fn on_packet(&mut self, src: SocketAddr, now: Instant) -> Verdict {
        if let Some((addr, seen)) = &mut self.current {
            if *addr == src {
                *seen = now;
                return Verdict::Accept;
            }
        }
        let live = self
            .current
            .is_some_and(|(_, seen)| now.saturating_duration_since(seen) < QUIET_PERIOD);
        let named = self.expected == Some(src);
        let from_signalling = self.signalling == Some(src.ip()) && !live;
        if named || from_signalling {
            self.current = Some((src, now));
            Verdict::Latched
        } else {
            Verdict::Reject
        }
    }
}

/// Whether the switch sends media to `addr` because an SDP names it, before any
/// packet came from there: never to a multicast, broadcast or unspecified address or
/// to one of the switch's own media ports; to a loopback or private address only when
/// the switch's media address (`local`) is of the same kind. Anything else waits for
/// the latch.
pub fn sdp_target_allowed(addr: SocketAddr, local: IpAddr, own_port: impl Fn(u16) -> bool) -> bool {
    let ip = addr.ip();
    if addr.port() == 0 || ip.is_unspecified() || ip.is_multicast() || is_broadcast(ip) {
        return false;
    }
    if ip == local && own_port(addr.port()) {
        return false;
    }
    match (kind(ip), kind(local)) {
        (Kind::Public, _) => true,
        (k, l) => k == l,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Loopback,
    Private,
    Public,
}

fn kind(ip: IpAddr) -> Kind {
    match ip {
        IpAddr::V4(a) if a.is_loopback() => Kind::Loopback,
        IpAddr::V4(a) if a.is_private() || a.is_link_local() || is_cgnat(a.octets()) => {
            Kind::Private
        }
        IpAddr::V6(a) if a.is_loopback() => Kind::Loopback,
        // fc00::/7 (unique local) and fe80::/10 (link local)
        IpAddr::V6(a) if (a.segments()[0] & 0xfe00) == 0xfc00 => Kind::Private,
        IpAddr::V6(a) if (a.segments()[0] & 0xffc0) == 0xfe80 => Kind::Private,
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => kind(IpAddr::V4(v4)),
            None => Kind::Public,
        },
        IpAddr::V4(_) => Kind::Public,
    }
}

fn is_cgnat(o: [u8; 4]) -> bool {
    o[0] == 100 && (64..128).contains(&o[1])
}

fn is_broadcast(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V4(a) if a.is_broadcast())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(ip: [u8; 4], port: u16) -> SocketAddr {
        SocketAddr::from((ip, port))
    }

    const PHONE: [u8; 4] = [192, 0, 2, 1];
    const ATTACKER: [u8; 4] = [198, 51, 100, 9];

    #[test]
    fn the_sdp_address_latches_and_strangers_never_do() {
        let t0 = Instant::now();
        let mut l = Latch::default();
        l.expect(Some(addr(PHONE, 4000)));
        l.set_signalling(Some(PHONE.into()));
        // A stranger before the phone has spoken, and after: dropped either way.
        assert_eq!(l.on_packet(addr(ATTACKER, 4000), t0), Verdict::Reject);
        assert_eq!(l.addr(), None);
        assert_eq!(l.on_packet(addr(PHONE, 4000), t0), Verdict::Latched);
        let later = t0 + Duration::from_secs(60);
        assert_eq!(l.on_packet(addr(ATTACKER, 4000), later), Verdict::Reject);
        assert_eq!(l.addr(), Some(addr(PHONE, 4000)));
    }

    #[test]
    fn a_natted_port_on_the_signalling_address_latches_but_a_live_one_stays() {
        let t0 = Instant::now();
        let mut l = Latch::default();
        // The SDP names a private address; packets come from the phone's public IP.
        l.expect(None);
        l.set_signalling(Some(PHONE.into()));
        assert_eq!(l.on_packet(addr(PHONE, 31000), t0), Verdict::Latched);
        let t1 = t0 + Duration::from_millis(20);
        assert_eq!(l.on_packet(addr(PHONE, 31000), t1), Verdict::Accept);
        // Another port on that address while the latched one is live: dropped.
        assert_eq!(l.on_packet(addr(PHONE, 32000), t1), Verdict::Reject);
        // After a quiet period (the NAT mapping changed) it may take over.
        let quiet = t1 + QUIET_PERIOD;
        assert_eq!(l.on_packet(addr(PHONE, 32000), quiet), Verdict::Latched);
        assert_eq!(
            l.on_packet(addr(ATTACKER, 32000), quiet + QUIET_PERIOD * 2),
            Verdict::Reject
        );
    }

    #[test]
    fn a_new_sdp_starts_over() {
        let t0 = Instant::now();
        let mut l = Latch::default();
        l.expect(Some(addr(PHONE, 4000)));
        l.on_packet(addr(PHONE, 4000), t0);
        l.expect(Some(addr(PHONE, 5000)));
        assert_eq!(l.addr(), None);
        assert_eq!(l.on_packet(addr(PHONE, 4000), t0), Verdict::Reject);
        assert_eq!(l.on_packet(addr(PHONE, 5000), t0), Verdict::Latched);
    }

    #[test]
    fn sdp_targets_are_checked() {
        let public = IpAddr::from([203, 0, 113, 5]);
        let lo = IpAddr::from([127, 0, 0, 1]);
        let own = |p: u16| (20000..30000).contains(&p);
        assert!(sdp_target_allowed(addr(PHONE, 4000), public, own));
        assert!(!sdp_target_allowed(addr([224, 0, 0, 1], 4000), public, own));
        assert!(!sdp_target_allowed(
            addr([255, 255, 255, 255], 4000),
            public,
            own
        ));
        assert!(!sdp_target_allowed(addr([0, 0, 0, 0], 4000), public, own));
        assert!(!sdp_target_allowed(addr(PHONE, 0), public, own));
        // The switch's own media ports: never.
        assert!(!sdp_target_allowed(SocketAddr::new(lo, 20002), lo, own));
        assert!(!sdp_target_allowed(
            SocketAddr::new(public, 20002),
            public,
            own
        ));
        // Loopback and private only from a switch on such a network.
        assert!(sdp_target_allowed(SocketAddr::new(lo, 4000), lo, own));
        assert!(!sdp_target_allowed(SocketAddr::new(lo, 4000), public, own));
        assert!(!sdp_target_allowed(addr([10, 1, 2, 3], 4000), public, own));
        assert!(sdp_target_allowed(
            addr([10, 1, 2, 3], 4000),
            [10, 0, 0, 1].into(),
            own
        ));
        assert!(!sdp_target_allowed(
            "[fd00::1]:4000".parse().unwrap(),
            public,
            own
        ));
        assert!(!sdp_target_allowed(
            "[ff02::1]:4000".parse().unwrap(),
            "::1".parse().unwrap(),
            own
        ));
    }
}
