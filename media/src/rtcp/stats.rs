//! Reception statistics per RFC 3550 appendix A: sequence validation (A.1), loss
//! (A.3) and interarrival jitter (A.8), and the sender's counts for SRs.

use std::time::Duration;

use super::packet::{ReportBlock, SenderReport};

const RTP_SEQ_MOD: u32 = 1 << 16;
const MAX_DROPOUT: u32 = 3000;
const MAX_MISORDER: u32 = 100;
const MIN_SEQUENTIAL: u32 = 2;

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// An NTP timestamp, 32.32 fixed point seconds since 1900.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct NtpTime(pub u64);

impl NtpTime {
    /// The NTP time of a wall-clock instant given as time since the Unix epoch.
    pub fn from_unix(since_epoch: Duration) -> Self {
        let secs = since_epoch.as_secs().wrapping_add(NTP_UNIX_OFFSET);
        let frac = ((since_epoch.subsec_nanos() as u64) << 32) / 1_000_000_000;
        NtpTime((secs << 32) | frac)
    }

    /// The middle 32 bits, as carried in a report block's LSR field.
    pub fn middle32(self) -> u32 {
        (self.0 >> 16) as u32
    }
}

/// What a receiver knows about one incoming source.
#[derive(Debug, Clone)]
pub struct ReceiverStats {
    ssrc: u32,
    clock_rate: u32,
    started: bool,
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    probation: u32,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    transit: Option<u32>,
    jitter: f64,
    last_sr: Option<(u32, Duration)>,
}

impl ReceiverStats {
    /// Statistics for source `ssrc` whose clock runs at `clock_rate` Hz.
    pub fn new(ssrc: u32, clock_rate: u32) -> Self {
        Self {
            ssrc,
            clock_rate: clock_rate.max(1),
            started: false,
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: RTP_SEQ_MOD + 1,
            probation: MIN_SEQUENTIAL,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            transit: None,
            jitter: 0.0,
            last_sr: None,
        }
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = seq as u32;
        self.max_seq = seq;
        self.bad_seq = RTP_SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// A.1's `update_seq`: true when the packet counts as valid.
    fn update_seq(&mut self, seq: u16) -> bool {
        if !self.started {
            self.started = true;
            self.init_seq(seq);
            self.max_seq = seq.wrapping_sub(1);
            self.probation = MIN_SEQUENTIAL;
        }
        let udelta = seq.wrapping_sub(self.max_seq) as u32;
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init_seq(seq);
                    self.received += 1;
                    return true;
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return false;
        } else if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(RTP_SEQ_MOD);
            }
            self.max_seq = seq;
        } else if udelta <= RTP_SEQ_MOD - MAX_MISORDER {
            if seq as u32 == self.bad_seq {
                // Two sequential packets after a big jump: the source restarted.
                self.init_seq(seq);
            } else {
                self.bad_seq = (seq as u32 + 1) & (RTP_SEQ_MOD - 1);
                return false;
            }
        }
        // Otherwise a duplicate or reordered packet: counted, max unchanged.
        self.received += 1;
        true
    }

    /// Records an RTP packet with sequence `seq` and timestamp `rtp_ts` that arrived at
    /// `arrival` (any monotonic epoch). Returns false if A.1 deems it invalid.
    pub fn on_rtp(&mut self, seq: u16, rtp_ts: u32, arrival: Duration) -> bool {
        let valid = self.update_seq(seq);
        // A.8: jitter from the change in relative transit time.
        let arrival_ts = (arrival.as_nanos() * self.clock_rate as u128 / 1_000_000_000) as u32;
        let transit = arrival_ts.wrapping_sub(rtp_ts);
        if let Some(prev) = self.transit {
            let d = (transit.wrapping_sub(prev) as i32).unsigned_abs() as f64;
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.transit = Some(transit);
        valid
    }

    /// Records a sender report from this source (its NTP time) received at `arrival`.
    pub fn on_sender_report(&mut self, ntp: NtpTime, arrival: Duration) {
        self.last_sr = Some((ntp.middle32(), arrival));
    }

    /// The source these statistics are of.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The extended highest sequence number received.
    pub fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(self.max_seq as u32)
    }

    /// Packets expected so far (A.3).
    pub fn expected(&self) -> u64 {
        if self.received == 0 && self.probation > 0 {
            return 0;
        }
        (self.extended_max() as u64 + 1).saturating_sub(self.base_seq as u64)
    }

    /// Valid packets received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Cumulative packets lost (negative when duplicates outnumber losses).
    pub fn lost(&self) -> i64 {
        self.expected() as i64 - self.received as i64
    }

    /// Interarrival jitter in timestamp units.
    pub fn jitter(&self) -> u32 {
        self.jitter as u32
    }

    /// Interarrival jitter in milliseconds.
    pub fn jitter_ms(&self) -> f64 {
        self.jitter * 1000.0 / self.clock_rate as f64
    }

    /// A report block for this source at `now`, starting a new loss interval.
    pub fn report_block(&mut self, now: Duration) -> ReportBlock {
        let expected = self.expected();
        let expected_interval = expected.saturating_sub(self.expected_prior);
        self.expected_prior = expected;
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        };
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((lsr, at)) => {
                let delay = now.saturating_sub(at);
                (lsr, (delay.as_nanos() * 65536 / 1_000_000_000) as u32)
            }
            None => (0, 0),
        };
        ReportBlock {
            ssrc: self.ssrc,
            fraction_lost,
            cumulative_lost: self.lost().clamp(-0x80_0000, 0x7F_FFFF) as i32,
            highest_seq: self.extended_max(),
            jitter: self.jitter(),
            last_sr,
            delay_since_last_sr,
        }
    }
}

/// What a sender counts for its sender reports.
#[derive(Debug, Clone, Default)]
pub struct SenderStats {
    /// Packets sent.
    pub packets: u32,
    /// Payload octets sent.
    pub octets: u32,
}

impl SenderStats {
    /// Counts one sent packet with `payload_len` payload bytes.
    pub fn on_sent(&mut self, payload_len: usize) {
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(payload_len as u32);
    }

    /// A sender report at wall-clock `ntp`, whose RTP timestamp is `rtp_timestamp`.
    pub fn sender_report(
        &self,
        ssrc: u32,
        ntp: NtpTime,
        rtp_timestamp: u32,
        reports: Vec<ReportBlock>,
    ) -> SenderReport {
        SenderReport {
            ssrc,
            ntp_timestamp: ntp.0,
            rtp_timestamp,
            packet_count: self.packets,
            octet_count: self.octets,
            reports,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS20: Duration = Duration::from_millis(20);

    #[test]
    fn steady_stream_has_no_loss_or_jitter() {
        let mut s = ReceiverStats::new(1, 8000);
        for i in 0..100u32 {
            s.on_rtp(65500u16.wrapping_add(i as u16), i * 160, MS20 * i);
        }
        let b = s.report_block(Duration::from_secs(2));
        assert_eq!(b.cumulative_lost, 0);
        assert_eq!(b.fraction_lost, 0);
        assert_eq!(b.jitter, 0);
        // Wrapped once: the extended sequence carries a cycle.
        assert_eq!(b.highest_seq, 65536 + 63);
    }

    #[test]
    fn loss_is_counted() {
        let mut s = ReceiverStats::new(1, 8000);
        for i in 0..100u32 {
            if i % 10 == 5 {
                continue;
            }
            s.on_rtp(i as u16, i * 160, MS20 * i);
        }
        let b = s.report_block(Duration::from_secs(2));
        assert_eq!(b.cumulative_lost, 10);
        // 10 lost of 99 expected since the first valid packet: 25/256.
        assert_eq!(b.fraction_lost, (10 * 256 / 99) as u8);
        // A new interval with no loss reports 0.
        for i in 100..110u32 {
            s.on_rtp(i as u16, i * 160, MS20 * i);
        }
        assert_eq!(s.report_block(Duration::from_secs(3)).fraction_lost, 0);
    }

    #[test]
    fn jitter_follows_a8() {
        let mut s = ReceiverStats::new(1, 8000);
        // Alternate 0 and 10 ms late: |D| = 80 timestamp units each packet.
        for i in 0..400u32 {
            let late = if i % 2 == 0 { 0 } else { 10 };
            s.on_rtp(i as u16, i * 160, MS20 * i + Duration::from_millis(late));
        }
        assert!((s.jitter() as i64 - 80).abs() <= 2, "jitter {}", s.jitter());
        assert!((s.jitter_ms() - 10.0).abs() < 0.5);
    }

    #[test]
    fn dlsr_and_ntp() {
        let mut s = ReceiverStats::new(1, 8000);
        let ntp = NtpTime::from_unix(Duration::from_secs(1_700_000_000));
        assert_eq!(ntp.0 >> 32, 1_700_000_000 + NTP_UNIX_OFFSET);
        s.on_sender_report(ntp, Duration::from_secs(10));
        let b = s.report_block(Duration::from_millis(10_500));
        assert_eq!(b.last_sr, ntp.middle32());
        assert_eq!(b.delay_since_last_sr, 32768);
    }
}
