//! Conversion between in-band DTMF tones and RFC 4733 telephone-events, for legs that
//! disagree on how digits travel.

use super::goertzel::{GoertzelDetector, RATE};
use super::rfc4733::{DtmfReceiver, DtmfSender, EventPacket};
use super::DtmfEvent;
use crate::resample::Resampler;
use crate::tone::{ToneGenerator, ToneSpec};
use crate::Result;

/// Detects tones in audio and produces telephone-event packets.
#[derive(Debug, Clone)]
pub struct InbandToRfc4733 {
    detector: GoertzelDetector,
    sender: DtmfSender,
    /// Brings other rates down to the detector's 8 kHz.
    resampler: Option<Resampler>,
    scratch: Vec<i16>,
    /// Telephone-event clock ticks per input sample, as a ratio.
    clock_rate: u32,
    rate: u32,
}

impl Default for InbandToRfc4733 {
    fn default() -> Self {
        Self::new()
    }
}

impl InbandToRfc4733 {
    /// A converter for an 8 kHz stream (telephone-event clock 8000).
    pub fn new() -> Self {
        Self {
            detector: GoertzelDetector::new(),
            sender: DtmfSender::new(RATE),
            resampler: None,
            scratch: Vec::new(),
            clock_rate: RATE,
            rate: RATE,
        }
    }

    /// A converter for audio at `rate` Hz whose telephone-events are clocked at
    /// `clock_rate` (RFC 4733 uses the audio codec's RTP clock).
    pub fn with_rates(rate: u32, clock_rate: u32) -> Result<Self> {
        let resampler = if rate == RATE {
            None
        } else {
            Some(Resampler::new(rate, RATE)?)
        };
        Ok(Self {
            detector: GoertzelDetector::new(),
            sender: DtmfSender::new(clock_rate),
            resampler,
            scratch: Vec::new(),
            clock_rate: clock_rate.max(1),
            rate: rate.max(1),
        })
    }

    /// Feeds one frame of audio whose first sample has RTP timestamp `timestamp`;
    /// returns the telephone-event packets to send for this frame.
    pub fn process(&mut self, pcm: &[i16], timestamp: u32) -> Vec<EventPacket> {
        let mut packets = Vec::new();
        let events = match self.resampler.as_mut() {
            Some(r) => {
                self.scratch.clear();
                r.process(pcm, &mut self.scratch);
                self.detector.push(&self.scratch)
            }
            None => self.detector.push(pcm),
        };
        let len = (pcm.len() as u64 * self.clock_rate as u64 / self.rate as u64) as u32;
        if events.is_empty() {
            if self.sender.is_active() {
                packets.extend(self.sender.tick(len));
            }
            return packets;
        }
        for e in events {
            match e {
                DtmfEvent::Begin { digit } => {
                    // Detection needs two blocks: the press started about 51 ms ago.
                    let lead = 2 * super::goertzel::BLOCK as u32 * self.clock_rate / RATE;
                    if self
                        .sender
                        .begin(digit, timestamp.wrapping_sub(lead))
                        .is_ok()
                    {
                        packets.extend(self.sender.tick(lead));
                    }
                }
                DtmfEvent::End { .. } => packets.extend(self.sender.end()),
            }
        }
        packets
    }
}

/// Plays received telephone-events as tones into outgoing audio.
#[derive(Debug, Clone)]
pub struct Rfc4733ToInband {
    receiver: DtmfReceiver,
    rate: u32,
    tone: Option<ToneGenerator>,
    releasing: bool,
}

impl Rfc4733ToInband {
    /// A converter writing tones into audio at `rate` Hz.
    pub fn new(rate: u32) -> Self {
        Self {
            receiver: DtmfReceiver::new(),
            rate,
            tone: None,
            releasing: false,
        }
    }

    /// Handles a telephone-event packet; returns the presses it carried.
    pub fn on_packet(&mut self, timestamp: u32, payload: &[u8]) -> Result<Vec<DtmfEvent>> {
        let events = self.receiver.on_packet(timestamp, payload)?;
        for e in &events {
            match e {
                DtmfEvent::Begin { digit } => {
                    // Tone until the end packet; a minute at most if it never comes.
                    let spec = ToneSpec::dtmf(*digit, 60_000)?;
                    self.tone = Some(ToneGenerator::new(spec, self.rate));
                    self.releasing = false;
                }
                DtmfEvent::End { .. } => self.releasing = true,
            }
        }
        Ok(events)
    }

    /// True while a tone is playing.
    pub fn is_playing(&self) -> bool {
        self.tone.is_some()
    }

    /// Replaces `frame` with the tone while a press lasts; leaves it alone otherwise.
    /// A released press plays out the current frame, then stops.
    pub fn fill(&mut self, frame: &mut [i16]) {
        if let Some(tone) = self.tone.as_mut() {
            tone.fill(frame);
            if self.releasing || tone.is_finished() {
                self.tone = None;
                self.releasing = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtmf::DIGITS;

    #[test]
    fn tones_become_events_and_back() {
        let mut to_events = InbandToRfc4733::new();
        let mut to_tones = Rfc4733ToInband::new(8000);
        let mut again = GoertzelDetector::new();
        let mut seen = Vec::new();
        let mut ts = 0u32;
        for &digit in &DIGITS {
            let mut g = ToneGenerator::new(ToneSpec::dtmf(digit, 100).unwrap(), 8000);
            for _ in 0..10 {
                let mut frame = vec![0i16; 160];
                g.fill(&mut frame);
                for p in to_events.process(&frame, ts) {
                    to_tones
                        .on_packet(p.timestamp, &p.event.to_bytes())
                        .unwrap();
                }
                let mut out = vec![0i16; 160];
                to_tones.fill(&mut out);
                seen.extend(again.push(&out));
                ts += 160;
            }
        }
        let begins: Vec<char> = seen
            .iter()
            .filter_map(|e| match e {
                DtmfEvent::Begin { digit } => Some(*digit),
                _ => None,
            })
            .collect();
        assert_eq!(begins, DIGITS.to_vec());
    }

    #[test]
    fn wideband_audio_is_detected_too() {
        let mut c = InbandToRfc4733::with_rates(16000, 8000).unwrap();
        let mut g = ToneGenerator::new(ToneSpec::dtmf('#', 120).unwrap(), 16000);
        let mut packets = Vec::new();
        for i in 0..15u32 {
            let mut frame = vec![0i16; 320];
            g.fill(&mut frame);
            packets.extend(c.process(&frame, i * 160));
        }
        assert!(!packets.is_empty());
        assert!(packets.iter().all(|p| p.event.event == 11));
        assert_eq!(packets.iter().filter(|p| p.event.end).count(), 3);
    }

    #[test]
    fn events_carry_three_end_packets() {
        let mut c = InbandToRfc4733::new();
        let mut g = ToneGenerator::new(ToneSpec::dtmf('9', 120).unwrap(), 8000);
        let mut packets = Vec::new();
        for i in 0..12u32 {
            let mut frame = vec![0i16; 160];
            g.fill(&mut frame);
            packets.extend(c.process(&frame, i * 160));
        }
        assert!(packets[0].marker);
        assert_eq!(packets.iter().filter(|p| p.event.end).count(), 3);
        assert!(packets.iter().all(|p| p.event.event == 9));
        let ts = packets[0].timestamp;
        assert!(packets.iter().all(|p| p.timestamp == ts));
    }
}
