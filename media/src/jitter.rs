//! Adaptive jitter buffer: packets in as they arrive (any order, duplicated, some never),
//! frames out at the pace of the caller's clock, with a `Lost` slot wherever a frame must
//! be concealed (see [`crate::Codec::conceal`] and [`crate::Codec::decode_fec`]).
//!
//! The playout delay follows the measured jitter (RFC 3550 A.8 estimator, in ms):
//! `target = min_delay + 4 × jitter`, bounded by `max_delay`. When the buffer holds more
//! than the target, a frame is dropped to shrink the delay; when it runs dry, it waits to
//! refill to the target.

use std::collections::BTreeMap;
use std::time::Duration;

/// Frames concealed after running dry before the stream is taken as paused.
const MAX_DRY_CONCEALMENT: u32 = 5;

/// A gap in sequence numbers beyond this is a restarted or jumped stream, not loss.
const RESYNC_PACKETS: u64 = 100;

/// Jitter-buffer settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    /// RTP clock rate of the stream.
    pub clock_rate: u32,
    /// Packet time: the caller pops once per packet time.
    pub ptime_ms: u32,
    /// Smallest playout delay.
    pub min_delay_ms: u32,
    /// Largest playout delay.
    pub max_delay_ms: u32,
    /// Most packets held; the oldest is dropped beyond this.
    pub capacity: usize,
}

impl Default for JitterConfig {
    fn default() -> Self {
        Self {
            clock_rate: 8000,
            ptime_ms: 20,
            min_delay_ms: 40,
            max_delay_ms: 300,
            capacity: 64,
        }
    }
}

/// A packet held by the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JitterPacket {
    /// RTP sequence number.
    pub sequence: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// Marker bit.
    pub marker: bool,
    /// Payload.
    pub payload: Vec<u8>,
}

/// What to play for one packet time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// Decode this packet.
    Packet(JitterPacket),
    /// The packet with this sequence number is missing: conceal one frame. When the
    /// following packet is already here, its payload is given for FEC recovery.
    Lost {
        /// The missing sequence number.
        sequence: u16,
        /// The next packet's payload, if buffered.
        next_payload: Option<Vec<u8>>,
    },
    /// Still filling up: nothing to play yet (play silence).
    Buffering,
}

/// Counters of what the buffer saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets accepted.
    pub received: u64,
    /// Packets played.
    pub played: u64,
    /// Frames concealed.
    pub lost: u64,
    /// Packets that came after their playout time.
    pub late: u64,
    /// Packets seen twice.
    pub duplicates: u64,
    /// Packets dropped to shrink the delay or for lack of room.
    pub dropped: u64,
    /// Frames of silence inserted to grow the delay.
    pub stretched: u64,
    /// Jumps in numbering the buffer resynchronised on.
    pub resyncs: u64,
}

/// The jitter buffer of one incoming stream.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    config: JitterConfig,
    packets: BTreeMap<u64, JitterPacket>,
    highest: Option<u64>,
    next_play: Option<u64>,
    playing: bool,
    last_transit_ms: Option<f64>,
    jitter_ms: f64,
    dry_frames: u32,
    stats: JitterStats,
}

impl JitterBuffer {
    /// An empty buffer.
    pub fn new(config: JitterConfig) -> Self {
        Self {
            config: JitterConfig {
                clock_rate: config.clock_rate.max(1),
                ptime_ms: config.ptime_ms.max(1),
                capacity: config.capacity.max(2),
                ..config
            },
            packets: BTreeMap::new(),
            highest: None,
            next_play: None,
            playing: false,
            last_transit_ms: None,
            jitter_ms: 0.0,
            dry_frames: 0,
            stats: JitterStats::default(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Current jitter estimate in milliseconds.
    pub fn jitter_ms(&self) -> f64 {
        self.jitter_ms
    }

    /// Current target playout delay in packets.
    pub fn target_packets(&self) -> usize {
        let c = &self.config;
        let ms = (c.min_delay_ms as f64 + 4.0 * self.jitter_ms).min(c.max_delay_ms as f64);
        ((ms / c.ptime_ms as f64 - 1e-6).ceil() as usize).max(1)
    }

    /// Packets held now.
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    /// True when no packet is held.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// Extends a 16-bit sequence number to the one nearest the highest seen.
    fn extend(&self, seq: u16) -> u64 {
        match self.highest {
            None => (1u64 << 32) + seq as u64,
            Some(h) => {
                let delta = seq.wrapping_sub(h as u16) as i16 as i64;
                (h as i64 + delta).max(0) as u64
            }
        }
    }

    /// Accepts a packet that arrived at `now`.
    pub fn push(&mut self, now: Duration, packet: JitterPacket) {
        let mut ext = self.extend(packet.sequence);
        // Far behind what is playing: not a late packet but a restarted stream (new
        // source, new numbering). Start over rather than drop everything from now on.
        if self.next_play.is_some_and(|n| ext + RESYNC_PACKETS < n) {
            tracing::debug!(seq = packet.sequence, "jitter buffer resynchronised");
            self.restart();
            ext = self.extend(packet.sequence);
        }
        if self.next_play.is_some_and(|n| ext < n) {
            self.stats.late += 1;
            tracing::trace!(seq = packet.sequence, "late packet dropped");
            return;
        }
        if self.packets.contains_key(&ext) {
            self.stats.duplicates += 1;
            return;
        }
        // Jitter estimate (A.8) in milliseconds.
        let arrival_ms = now.as_secs_f64() * 1000.0;
        let ts_ms = packet.timestamp as f64 * 1000.0 / self.config.clock_rate as f64;
        let transit = arrival_ms - ts_ms;
        if let Some(prev) = self.last_transit_ms {
            let d = (transit - prev).abs();
            // A timestamp jump (new talkspurt source) is not jitter.
            if d < 1000.0 {
                self.jitter_ms += (d - self.jitter_ms) / 16.0;
            }
        }
        self.last_transit_ms = Some(transit);
        self.highest = Some(self.highest.map_or(ext, |h| h.max(ext)));
        self.packets.insert(ext, packet);
        self.stats.received += 1;
        while self.packets.len() > self.config.capacity {
            self.packets.pop_first();
            self.stats.dropped += 1;
        }
    }

    /// Forgets the stream's numbering and timing (statistics stay).
    fn restart(&mut self) {
        self.packets.clear();
        self.highest = None;
        self.next_play = None;
        self.playing = false;
        self.last_transit_ms = None;
        self.dry_frames = 0;
        self.stats.resyncs += 1;
    }

    /// What to play for the packet time starting at `now`; call once per packet time.
    pub fn pop(&mut self, _now: Duration) -> Playout {
        let target = self.target_packets();
        if !self.playing {
            let Some((&first, _)) = self.packets.first_key_value() else {
                return self.conceal_or_buffer();
            };
            let span = self.highest.map_or(0, |h| h + 1 - first) as usize;
            if span < target {
                return self.conceal_or_buffer();
            }
            self.playing = true;
            self.next_play = Some(first);
        }
        // Too much delay: drop the oldest frame to catch up.
        if self.packets.len() > target + 2 {
            if let Some((k, _)) = self.packets.pop_first() {
                self.stats.dropped += 1;
                self.next_play = Some(k + 1);
            }
        }
        let Some(mut next) = self.next_play else {
            return Playout::Buffering;
        };
        // A jump forward in numbering: skip to the oldest packet held rather than
        // conceal every missing number.
        if let Some((&first, _)) = self.packets.first_key_value() {
            if first > next + RESYNC_PACKETS {
                self.stats.resyncs += 1;
                next = first;
                self.next_play = Some(first);
            }
        }
        // The next packet is missing while the delay is under the target: it may be
        // late rather than lost, so hold back one frame (growing the delay) first.
        let span = self.highest.map_or(0, |h| (h + 1).saturating_sub(next)) as usize;
        if span + 1 < target && !self.packets.is_empty() && !self.packets.contains_key(&next) {
            self.stats.stretched += 1;
            return Playout::Buffering;
        }
        if self.packets.is_empty() {
            // Ran dry: refill to the target before playing again.
            self.playing = false;
            self.dry_frames = 1;
            self.next_play = Some(next + 1);
            self.stats.lost += 1;
            return Playout::Lost {
                sequence: next as u16,
                next_payload: None,
            };
        }
        self.next_play = Some(next + 1);
        match self.packets.remove(&next) {
            Some(p) => {
                self.dry_frames = 0;
                self.stats.played += 1;
                Playout::Packet(p)
            }
            None => {
                self.stats.lost += 1;
                Playout::Lost {
                    sequence: next as u16,
                    next_payload: self.packets.get(&(next + 1)).map(|p| p.payload.clone()),
                }
            }
        }
    }

    /// While refilling after having played, the first packet times are concealed
    /// frames; after that the stream is taken as paused (hold, DTX) and plays silence.
    fn conceal_or_buffer(&mut self) -> Playout {
        match self.next_play {
            Some(next) if self.dry_frames < MAX_DRY_CONCEALMENT => {
                self.dry_frames += 1;
                self.next_play = Some(next + 1);
                self.stats.lost += 1;
                Playout::Lost {
                    sequence: next as u16,
                    next_payload: None,
                }
            }
            _ => Playout::Buffering,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PTIME: Duration = Duration::from_millis(20);

    fn packet(seq: u16) -> JitterPacket {
        JitterPacket {
            sequence: seq,
            timestamp: seq as u32 * 160,
            marker: false,
            payload: vec![seq as u8],
        }
    }

    /// Runs a schedule of (arrival, seq) against a pop every 20 ms; returns what played.
    fn run(arrivals: &[(Duration, u16)], frames: u32) -> (Vec<Playout>, JitterStats) {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let mut arrivals = arrivals.to_vec();
        arrivals.sort_by_key(|a| a.0);
        let mut it = arrivals.into_iter().peekable();
        let mut out = Vec::new();
        for f in 0..frames {
            let now = PTIME * f;
            while let Some(&(at, seq)) = it.peek() {
                if at > now {
                    break;
                }
                jb.push(at, packet(seq));
                it.next();
            }
            out.push(jb.pop(now));
        }
        (out, jb.stats())
    }

    fn played(out: &[Playout]) -> Vec<u16> {
        out.iter()
            .filter_map(|p| match p {
                Playout::Packet(p) => Some(p.sequence),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn in_order_stream_plays_everything() {
        let arrivals: Vec<_> = (0..100u16).map(|s| (PTIME * s as u32, s)).collect();
        let (out, stats) = run(&arrivals, 110);
        assert_eq!(played(&out), (0..100).collect::<Vec<_>>());
        // Only the end of the stream is concealed, briefly.
        assert!(stats.lost <= MAX_DRY_CONCEALMENT as u64);
        assert_eq!(out.last(), Some(&Playout::Buffering));
    }

    #[test]
    fn reordering_within_the_delay_is_undone() {
        // Swap neighbours: 1,0,3,2,5,4,... each up to 15 ms late.
        let arrivals: Vec<_> = (0..100u16)
            .map(|s| {
                let slot = if s % 2 == 0 { s + 1 } else { s - 1 };
                (PTIME * slot as u32 + Duration::from_millis(15), s)
            })
            .collect();
        let (out, stats) = run(&arrivals, 120);
        assert_eq!(played(&out), (0..100).collect::<Vec<_>>());
        assert_eq!(stats.late, 0);
    }

    #[test]
    fn duplicates_play_once() {
        let mut arrivals: Vec<_> = (0..50u16).map(|s| (PTIME * s as u32, s)).collect();
        arrivals.extend((0..50u16).map(|s| (PTIME * s as u32 + Duration::from_millis(5), s)));
        let (out, stats) = run(&arrivals, 60);
        assert_eq!(played(&out), (0..50).collect::<Vec<_>>());
        assert!(stats.duplicates + stats.late >= 49);
    }

    #[test]
    fn losses_become_lost_slots_with_fec_payload() {
        let arrivals: Vec<_> = (0..50u16)
            .filter(|s| s % 7 != 3)
            .map(|s| (PTIME * s as u32, s))
            .collect();
        let (out, stats) = run(&arrivals, 60);
        let lost: Vec<u16> = out
            .iter()
            .filter_map(|p| match p {
                Playout::Lost {
                    sequence,
                    next_payload,
                } if *sequence < 50 => {
                    assert_eq!(next_payload.as_deref(), Some(&[(*sequence + 1) as u8][..]));
                    Some(*sequence)
                }
                _ => None,
            })
            .collect();
        assert_eq!(lost, vec![3, 10, 17, 24, 31, 38, 45]);
        assert_eq!(stats.played, 43);
    }

    #[test]
    fn wrap_around_is_seamless() {
        let arrivals: Vec<_> = (0..60u32)
            .map(|i| (PTIME * i, 65510u16.wrapping_add(i as u16)))
            .collect();
        let (out, _) = run(&arrivals, 70);
        let expect: Vec<u16> = (0..60u32)
            .map(|i| 65510u16.wrapping_add(i as u16))
            .collect();
        assert_eq!(played(&out), expect);
    }

    #[test]
    fn numbering_jumps_resynchronise() {
        // 30 packets, then the source restarts far back, then far ahead.
        let mut arrivals: Vec<_> = (0..30u16).map(|s| (PTIME * s as u32, 5000 + s)).collect();
        arrivals.extend((30..60u16).map(|s| (PTIME * s as u32, 100 + s)));
        arrivals.extend((60..90u16).map(|s| (PTIME * s as u32, 40000 + s)));
        let (out, stats) = run(&arrivals, 100);
        let p = played(&out);
        assert!(p.len() >= 80, "played {}: {stats:?}", p.len());
        assert!(stats.lost < 20, "{stats:?}");
        assert_eq!(stats.resyncs, 2);
    }

    #[test]
    fn delay_adapts_to_jitter() {
        let mut calm = JitterBuffer::new(JitterConfig::default());
        let mut rough = JitterBuffer::new(JitterConfig::default());
        for s in 0..200u16 {
            calm.push(PTIME * s as u32, packet(s));
            let wobble = Duration::from_millis(if s % 2 == 0 { 0 } else { 60 });
            rough.push(PTIME * s as u32 + wobble, packet(s));
        }
        assert!(rough.target_packets() > calm.target_packets() + 3);
        assert!(rough.target_packets() <= 15);
    }

    #[test]
    fn heavy_reorder_loss_and_duplication_never_plays_out_of_order() {
        // A deterministic shuffle: each packet delayed by (s * 37) % 90 ms, every 11th
        // lost, every 5th duplicated.
        let mut arrivals = Vec::new();
        for s in 0..300u16 {
            if s % 11 == 0 {
                continue;
            }
            let at = PTIME * s as u32 + Duration::from_millis((s as u64 * 37) % 90);
            arrivals.push((at, s));
            if s % 5 == 0 {
                arrivals.push((at + Duration::from_millis(30), s));
            }
        }
        let (out, stats) = run(&arrivals, 340);
        let p = played(&out);
        assert!(p.windows(2).all(|w| w[0] < w[1]), "played out of order");
        assert!(stats.played + stats.lost >= 290);
        assert!(p.len() >= 250, "played only {}: {stats:?}", p.len());
    }
}
