//! Symmetric RTP latching (RFC 4961 style): the address a side's packets really come
//! from replaces the one its SDP announced (phones behind NAT).
//!
//! Sans-IO: the time of arrival is an argument.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

/// How long a latched source must stay silent before another source may take over.
pub const QUIET_PERIOD: Duration = Duration::from_secs(1);

/// What to do with a packet, given where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// From the latched source: relay it.
    Accept,
    /// The latch moved to this packet's source (first packet, a new SSRC, or the old
    /// source was quiet long enough): relay it.
    Latched,
    /// From another source while the latched one is live: drop it.
    Reject,
}

/// The latch of one side for one kind of packet (RTP or RTCP).
#[derive(Debug, Clone, Default)]
pub struct Latch {
    /// Latched source, its SSRC and when it was last heard.
    current: Option<(SocketAddr, u32, Instant)>,
}

impl Latch {
    /// The latched source, if any.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.current.map(|(addr, _, _)| addr)
    }

    /// Forgets the latched source: the next valid packet latches.
    pub fn reset(&mut self) {
        self.current = None;
    }

    /// Accounts for a packet with a valid header from `src` carrying `ssrc`.
    pub fn on_packet(&mut self, src: SocketAddr, ssrc: u32, now: Instant) -> Verdict {
        match &mut self.current {
            Some((addr, cur_ssrc, seen)) if *addr == src => {
                *cur_ssrc = ssrc;
                *seen = now;
                Verdict::Accept
            }
            Some((_, cur_ssrc, seen))
                if *cur_ssrc == ssrc && now.saturating_duration_since(*seen) < QUIET_PERIOD =>
            {
                Verdict::Reject
            }
            _ => {
                self.current = Some((src, ssrc, now));
                Verdict::Latched
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 1], port))
    }

    #[test]
    fn first_packet_latches_then_sticks() {
        let t0 = Instant::now();
        let mut l = Latch::default();
        assert_eq!(l.addr(), None);
        assert_eq!(l.on_packet(addr(4000), 7, t0), Verdict::Latched);
        assert_eq!(l.addr(), Some(addr(4000)));
        let t1 = t0 + Duration::from_millis(20);
        assert_eq!(l.on_packet(addr(4000), 7, t1), Verdict::Accept);
        // Another source with the same SSRC inside the quiet period is refused.
        assert_eq!(l.on_packet(addr(5000), 7, t1), Verdict::Reject);
        assert_eq!(l.addr(), Some(addr(4000)));
    }

    #[test]
    fn relatches_after_quiet_period() {
        let t0 = Instant::now();
        let mut l = Latch::default();
        l.on_packet(addr(4000), 7, t0);
        let almost = t0 + QUIET_PERIOD - Duration::from_millis(1);
        assert_eq!(l.on_packet(addr(5000), 7, almost), Verdict::Reject);
        let after = t0 + QUIET_PERIOD;
        assert_eq!(l.on_packet(addr(5000), 7, after), Verdict::Latched);
        assert_eq!(l.addr(), Some(addr(5000)));
        // The old source is now the stranger.
        assert_eq!(l.on_packet(addr(4000), 7, after), Verdict::Reject);
    }

    #[test]
    fn relatches_on_new_ssrc_and_after_reset() {
        let t0 = Instant::now();
        let mut l = Latch::default();
        l.on_packet(addr(4000), 7, t0);
        assert_eq!(l.on_packet(addr(5000), 8, t0), Verdict::Latched);
        assert_eq!(l.addr(), Some(addr(5000)));
        // The latched source changing SSRC stays latched.
        assert_eq!(l.on_packet(addr(5000), 9, t0), Verdict::Accept);
        l.reset();
        assert_eq!(l.addr(), None);
        assert_eq!(l.on_packet(addr(6000), 9, t0), Verdict::Latched);
    }
}
