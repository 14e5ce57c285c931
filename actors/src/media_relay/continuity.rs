//! The stream a leg hears, kept continuous across the sources behind it.

use std::time::Instant;

/// The stream a leg hears, kept continuous across the sources behind it (the other
/// leg, music on hold, the other leg again): one SSRC, running sequence numbers and
/// timestamps, so that its jitter buffer never takes the next source's packets for
/// late ones and drops them. Until the first change, packets pass untouched.
#[derive(Debug, Default)]
pub(super) struct Continuity {
    /// The last packet the leg was sent: SSRC, sequence number, timestamp, when.
    pub(super) last: Option<(u32, u16, u32, Instant)>,
    /// Added to what is forwarded since a source change: the incoming SSRC it was
    /// made for, SSRC written, sequence and timestamp offsets.
    pub(super) remap: Option<(u32, u32, u16, u32)>,
    /// The next forwarded packet starts a new source.
    pub(super) resync: bool,
    /// The leg's RTP clock (8000 until its codec is known).
    pub(super) clock: u32,
}

impl Continuity {
    fn header(d: &[u8]) -> Option<(u32, u16, u32)> {
        let h = d.get(..12)?;
        Some((
            u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
            u16::from_be_bytes([h[2], h[3]]),
            u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        ))
    }

    /// RTP timestamp units elapsed since the last packet.
    fn elapsed(&self, since: Instant, now: Instant) -> u32 {
        let clock = if self.clock == 0 { 8000 } else { self.clock };
        (now.saturating_duration_since(since).as_micros() as u64 * u64::from(clock) / 1_000_000)
            as u32
    }

    /// A packet went to the leg as it is (a played one).
    pub(super) fn sent(&mut self, d: &[u8], now: Instant) {
        if let Some((ssrc, seq, ts)) = Self::header(d) {
            self.last = Some((ssrc, seq, ts, now));
        }
    }

    /// A packet of the other leg goes to this one: rewritten in place after a change.
    pub(super) fn forward(&mut self, d: &mut [u8], now: Instant) {
        let Some((ssrc, seq, ts)) = Self::header(d) else {
            return;
        };
        // A new incoming stream (another phone, a restarted one) needs new offsets.
        let stale = self.remap.is_some_and(|(src, ..)| src != ssrc);
        if std::mem::take(&mut self.resync) || stale {
            self.remap = self.last.map(|(out_ssrc, last_seq, last_ts, at)| {
                let next_ts = last_ts.wrapping_add(self.elapsed(at, now).max(1));
                (
                    ssrc,
                    out_ssrc,
                    last_seq.wrapping_add(1).wrapping_sub(seq),
                    next_ts.wrapping_sub(ts),
                )
            });
        }
        if let Some((_, out_ssrc, dseq, dts)) = self.remap {
            d[2..4].copy_from_slice(&seq.wrapping_add(dseq).to_be_bytes());
            d[4..8].copy_from_slice(&ts.wrapping_add(dts).to_be_bytes());
            d[8..12].copy_from_slice(&out_ssrc.to_be_bytes());
        }
        self.sent(d, now);
    }

    /// Where a played source continues the leg's stream.
    pub(super) fn continue_at(&self, now: Instant) -> Option<(u32, u16, u32)> {
        let (ssrc, seq, ts, at) = self.last?;
        Some((
            ssrc,
            seq.wrapping_add(1),
            ts.wrapping_add(self.elapsed(at, now).max(1)),
        ))
    }
}
