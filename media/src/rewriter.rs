//! A B2BUA's outgoing stream on one leg: one SSRC, and sequence numbers and timestamps
//! that run on smoothly while the source behind the leg changes (peer → hold music →
//! peer), so the far end's jitter buffer never sees a jump.

use std::time::Duration;

use crate::rtp::RtpPacket;

#[derive(Debug, Clone, Copy)]
struct Mapping {
    source_ssrc: u32,
    seq_offset: u16,
    ts_offset: u32,
}

#[derive(Debug, Clone, Copy)]
struct LastOut {
    seq: u16,
    ts: u32,
    at: Duration,
}

/// Rewrites packets from changing sources into one continuous stream.
#[derive(Debug, Clone)]
pub struct StreamRewriter {
    ssrc: u32,
    clock_rate: u32,
    mapping: Option<Mapping>,
    last: Option<LastOut>,
    switch_pending: bool,
}

impl StreamRewriter {
    /// A stream that leaves with SSRC `ssrc`, its timestamps at `clock_rate` Hz.
    pub fn new(ssrc: u32, clock_rate: u32) -> Self {
        Self {
            ssrc,
            clock_rate: clock_rate.max(1),
            mapping: None,
            last: None,
            switch_pending: false,
        }
    }

    /// The outgoing SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Declares that the next packet comes from a new source even if its SSRC is the
    /// one seen before (a music player restarting, a re-INVITE to the same peer).
    pub fn source_changed(&mut self) {
        self.switch_pending = true;
    }

    /// Rewrites `packet` in place, sent at `now`. A new source's first packet gets the
    /// next sequence number, a timestamp advanced by the time since the last packet sent,
    /// and the marker bit (a new talkspurt).
    pub fn rewrite(&mut self, packet: &mut RtpPacket, now: Duration) {
        let new_source =
            self.switch_pending || self.mapping.is_none_or(|m| m.source_ssrc != packet.ssrc);
        if new_source {
            self.switch_pending = false;
            let (next_seq, next_ts) = match self.last {
                Some(last) => {
                    let elapsed = now.saturating_sub(last.at);
                    let ticks = (elapsed.as_nanos() * self.clock_rate as u128 / 1_000_000_000)
                        .max(1) as u32;
                    (last.seq.wrapping_add(1), last.ts.wrapping_add(ticks))
                }
                None => (packet.sequence, packet.timestamp),
            };
            tracing::debug!(
                from = packet.ssrc,
                seq = next_seq,
                ts = next_ts,
                "stream source changed"
            );
            self.mapping = Some(Mapping {
                source_ssrc: packet.ssrc,
                seq_offset: next_seq.wrapping_sub(packet.sequence),
                ts_offset: next_ts.wrapping_sub(packet.timestamp),
            });
            packet.marker = true;
        }
        let Some(m) = self.mapping else { return };
        packet.sequence = packet.sequence.wrapping_add(m.seq_offset);
        packet.timestamp = packet.timestamp.wrapping_add(m.ts_offset);
        packet.ssrc = self.ssrc;
        // Remember the newest packet sent (a reordered older one does not move it back).
        let newer = self
            .last
            .is_none_or(|l| (packet.sequence.wrapping_sub(l.seq) as i16) > 0);
        if newer {
            self.last = Some(LastOut {
                seq: packet.sequence,
                ts: packet.timestamp,
                at: now,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(ssrc: u32, seq: u16, ts: u32) -> RtpPacket {
        RtpPacket {
            payload_type: 0,
            sequence: seq,
            timestamp: ts,
            ssrc,
            payload: vec![0xFF; 160],
            ..RtpPacket::default()
        }
    }

    #[test]
    fn peer_hold_music_peer_stays_continuous() {
        let mut rw = StreamRewriter::new(0xABCD, 8000);
        let mut t = Duration::ZERO;
        let step = Duration::from_millis(20);
        let mut out = Vec::new();
        // Peer: 10 packets.
        for i in 0..10u16 {
            let mut p = pkt(1, 1000 + i, 50_000 + i as u32 * 160);
            rw.rewrite(&mut p, t);
            out.push(p);
            t += step;
        }
        // Hold music with its own numbering, 10 packets.
        for i in 0..10u16 {
            let mut p = pkt(2, 60_000 + i, 7 + i as u32 * 160);
            rw.rewrite(&mut p, t);
            out.push(p);
            t += step;
        }
        // Back to the peer, which kept counting while on hold.
        for i in 0..10u16 {
            let mut p = pkt(1, 1500 + i, 400_000 + i as u32 * 160);
            rw.rewrite(&mut p, t);
            out.push(p);
            t += step;
        }
        for w in out.windows(2) {
            assert_eq!(w[1].sequence, w[0].sequence.wrapping_add(1));
            assert_eq!(w[1].timestamp, w[0].timestamp.wrapping_add(160));
            assert_eq!(w[1].ssrc, 0xABCD);
        }
        assert!(out[10].marker && out[20].marker && !out[11].marker);
    }

    #[test]
    fn a_gap_in_time_advances_the_timestamp() {
        let mut rw = StreamRewriter::new(5, 8000);
        let mut a = pkt(1, 1, 0);
        rw.rewrite(&mut a, Duration::ZERO);
        let mut b = pkt(2, 9, 9);
        rw.rewrite(&mut b, Duration::from_secs(1));
        assert_eq!(b.sequence, 2);
        assert_eq!(b.timestamp, 8000);
    }
}
