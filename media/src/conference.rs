//! A conference room's media, sans-IO: members join with their codec; the RTP each
//! sends is de-jittered and decoded ([`PlayoutStream`]); every packet time the room
//! mixes ([`Mixer`]: everyone hears everyone but itself) and encodes each member's
//! mix in that member's codec, with a stream of its own (SSRC, sequence, timestamps).
//! Only talkers are mixed (a member whose audio is above a speech level, or was in
//! the last 200 ms); the others hear the whole mix, which is encoded once per codec
//! and shared among them (each packet keeps its member's header), so a room of many
//! listeners costs a few encodings a round (a member moving between its own encoder
//! and the shared one, as it starts or stops talking, may hear a transient of a
//! frame or two with the stateful codecs, G.722 and Opus, while its decoder
//! settles). The owner feeds datagrams and time in
//! and sends what comes out; an empty room has no deadline and costs nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::codec::{Codec, CodecKind};
use crate::mixer::{Mixer, ParticipantId};
use crate::playout::PlayoutStream;
use crate::rtp::RtpPacket;
use crate::Result;

/// A member's handle.
pub type MemberId = ParticipantId;

/// The rate the room mixes at (wideband: G.722 and Opus members keep their quality).
const MIX_RATE: u32 = 16000;
/// Frames owed at most at once after a stall.
const MAX_CATCH_UP: u32 = 3;
/// Mean absolute sample above which a member's frame is speech (about -45 dBFS).
const SPEECH_LEVEL: u32 = 180;
/// Rounds a talker stays mixed after its last speech frame (200 ms).
const HANGOVER: u8 = 10;

struct Member {
    playout: PlayoutStream,
    kind: CodecKind,
    /// Rounds left that this member is mixed as a talker.
    talking: u8,
    encoder: Box<dyn Codec>,
    pt: u8,
    ssrc: u32,
    seq: u16,
    ts: u32,
    step: u32,
    first: bool,
    pcm: Vec<i16>,
}

/// The mix every listener of one codec hears, encoded once a round.
struct SharedMix {
    kind: CodecKind,
    encoder: Box<dyn Codec>,
    /// This round's payload, once encoded.
    payload: Option<Vec<u8>>,
}

/// One room.
pub struct Conference {
    mixer: Mixer,
    members: BTreeMap<MemberId, Member>,
    shared: Vec<SharedMix>,
    ptime: Duration,
    next: Option<Duration>,
}

impl std::fmt::Debug for Conference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conference")
            .field("members", &self.members.len())
            .field("next", &self.next)
            .finish()
    }
}

impl Default for Conference {
    fn default() -> Self {
        Self::new()
    }
}

impl Conference {
    /// An empty room mixing 20 ms frames.
    pub fn new() -> Conference {
        Conference {
            mixer: Mixer::new(MIX_RATE, 20).expect("16 kHz, 20 ms is a valid mix"),
            members: BTreeMap::new(),
            shared: Vec::new(),
            ptime: Duration::from_millis(20),
            next: None,
        }
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// A member sending and receiving `kind` with payload type `pt`; its stream
    /// towards it leaves with SSRC `ssrc`.
    pub fn join(&mut self, kind: CodecKind, pt: u8, ssrc: u32) -> Result<MemberId> {
        let kind = match kind {
            CodecKind::Opus(cfg) => CodecKind::Opus(crate::codec::OpusConfig {
                payload_type: pt,
                complexity: 5,
                ..cfg
            }),
            other => other,
        };
        let decoder = kind.build()?;
        let encoder = kind.build()?;
        let id = self.mixer.add(decoder.sample_rate())?;
        let pcm = Vec::with_capacity(decoder.samples_per_frame(20));
        self.members.insert(
            id,
            Member {
                playout: PlayoutStream::new(decoder, 20),
                kind,
                talking: 0,
                step: kind.clock_rate() / 50,
                encoder,
                pt,
                ssrc,
                seq: (ssrc >> 16) as u16,
                ts: ssrc.rotate_left(11),
                first: true,
                pcm,
            },
        );
        Ok(id)
    }

    /// A member leaves; the last one leaving stops the room's clock.
    pub fn leave(&mut self, id: MemberId) {
        self.members.remove(&id);
        let _ = self.mixer.remove(id);
        let members = &self.members;
        self.shared
            .retain(|s| members.values().any(|m| m.kind == s.kind));
        if self.members.is_empty() {
            self.next = None;
        }
    }

    /// An RTP datagram from member `id`, received at `now`. Anything else (RTCP,
    /// telephone-events, garbage) is ignored.
    pub fn receive(&mut self, id: MemberId, now: Duration, datagram: &[u8]) {
        let Some(m) = self.members.get_mut(&id) else {
            return;
        };
        if let Ok(p) = RtpPacket::parse(datagram) {
            m.playout.push(now, p);
        }
    }

    /// When the next round is due (`None`: nobody is in the room).
    pub fn deadline(&self) -> Option<Duration> {
        self.next
            .or_else(|| (!self.members.is_empty()).then_some(Duration::ZERO))
    }

    /// Mixes the rounds due at `now`: `out` gets each member's packets.
    pub fn tick(&mut self, now: Duration, out: &mut Vec<(MemberId, Vec<u8>)>) -> Result<()> {
        if self.members.is_empty() {
            return Ok(());
        }
        let next = *self.next.get_or_insert(now);
        if now < next {
            return Ok(());
        }
        let owed = ((now - next).as_micros() / self.ptime.as_micros()) as u32 + 1;
        // The clock moves on first: a round that fails to encode is not owed again.
        self.next = Some(next + self.ptime * owed);
        for _ in 0..owed.min(MAX_CATCH_UP) {
            self.round(now, out)?;
        }
        Ok(())
    }

    fn round(&mut self, now: Duration, out: &mut Vec<(MemberId, Vec<u8>)>) -> Result<()> {
        for (id, m) in &mut self.members {
            m.pcm.clear();
            m.playout.pop(now, &mut m.pcm);
            if is_speech(&m.pcm) {
                m.talking = HANGOVER;
            } else {
                m.talking = m.talking.saturating_sub(1);
            }
            // A listener adds nothing: it hears the whole mix, shared.
            if m.talking > 0 {
                self.mixer.input(*id, &m.pcm)?;
            }
        }
        self.mixer.mix();
        for s in &mut self.shared {
            s.payload = None;
        }
        for (id, m) in &mut self.members {
            let Some(mix) = self.mixer.output(*id) else {
                continue;
            };
            let mut d = Vec::with_capacity(12 + 160);
            let marker = if std::mem::take(&mut m.first) {
                0x80
            } else {
                0
            };
            d.extend_from_slice(&[0x80, marker | m.pt]);
            d.extend_from_slice(&m.seq.to_be_bytes());
            d.extend_from_slice(&m.ts.to_be_bytes());
            d.extend_from_slice(&m.ssrc.to_be_bytes());
            if m.talking > 0 {
                m.encoder.encode(mix, &mut d)?;
            } else {
                let i = match self.shared.iter().position(|s| s.kind == m.kind) {
                    Some(i) => i,
                    None => {
                        self.shared.push(SharedMix {
                            kind: m.kind,
                            encoder: m.kind.build()?,
                            payload: None,
                        });
                        self.shared.len() - 1
                    }
                };
                let s = &mut self.shared[i];
                if s.payload.is_none() {
                    let mut p = Vec::with_capacity(160);
                    s.encoder.encode(mix, &mut p)?;
                    s.payload = Some(p);
                }
                d.extend_from_slice(s.payload.as_deref().unwrap_or_default());
            }
            m.seq = m.seq.wrapping_add(1);
            m.ts = m.ts.wrapping_add(m.step);
            out.push((*id, d));
        }
        Ok(())
    }
}

/// A frame of speech rather than silence or line noise.
fn is_speech(pcm: &[i16]) -> bool {
    if pcm.is_empty() {
        return false;
    }
    let sum: u64 = pcm.iter().map(|&s| u64::from(s.unsigned_abs())).sum();
    sum / pcm.len() as u64 > u64::from(SPEECH_LEVEL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::g711::{ulaw_decode, ulaw_encode};
    use crate::codec::OpusConfig;

    fn tone_packet(freq: f64, seq: u16) -> Vec<u8> {
        let payload: Vec<u8> = (0..160)
            .map(|i| {
                let t = f64::from(u32::from(seq) * 160 + i) / 8000.0;
                ulaw_encode((6000.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16)
            })
            .collect();
        RtpPacket {
            marker: false,
            payload_type: 0,
            sequence: seq,
            timestamp: u32::from(seq) * 160,
            ssrc: 7,
            csrc: vec![],
            payload,
        }
        .to_bytes()
        .unwrap()
    }

    fn crossings_hz(samples: &[i16]) -> f64 {
        let c = samples
            .windows(2)
            .filter(|w| (w[0] < 0) != (w[1] < 0))
            .count();
        c as f64 / 2.0 / (samples.len() as f64 / 8000.0)
    }

    #[test]
    fn each_member_hears_the_others_and_not_itself() {
        let mut room = Conference::new();
        let a = room.join(CodecKind::Pcmu, 0, 1).unwrap();
        let b = room.join(CodecKind::Pcmu, 0, 2).unwrap();
        let c = room
            .join(CodecKind::Opus(OpusConfig::default()), 111, 3)
            .unwrap();
        let mut heard_b = Vec::new();
        let mut out = Vec::new();
        for seq in 0..100u16 {
            let now = Duration::from_millis(20 * u64::from(seq));
            room.receive(a, now, &tone_packet(500.0, seq));
            out.clear();
            room.tick(now, &mut out).unwrap();
            assert_eq!(out.len(), 3, "one packet per member per round");
            for (id, d) in &out {
                if *id == b && seq > 20 {
                    heard_b.extend(d[12..].iter().map(|&x| ulaw_decode(x)));
                }
                if *id == c {
                    assert_eq!(d[1] & 0x7f, 111);
                }
                if *id == a && seq > 20 {
                    let loud = d[12..]
                        .iter()
                        .filter(|&&x| ulaw_decode(x).abs() > 300)
                        .count();
                    assert_eq!(loud, 0, "a hears nothing of itself");
                }
            }
        }
        let hz = crossings_hz(&heard_b);
        assert!((hz - 500.0).abs() < 25.0, "b hears a's 500 Hz ({hz:.0})");
        room.leave(a);
        room.leave(b);
        assert!(room.deadline().is_some());
        room.leave(c);
        assert_eq!(room.deadline(), None, "an empty room costs nothing");
    }

    #[test]
    fn listeners_on_one_codec_share_one_encoded_mix_and_quiet_members_are_not_mixed() {
        let mut room = Conference::new();
        let talker = room.join(CodecKind::Pcmu, 0, 1).unwrap();
        let hummer = room.join(CodecKind::Pcmu, 0, 2).unwrap();
        let listeners: Vec<_> = (3..8)
            .map(|ssrc| room.join(CodecKind::G722, 9, ssrc).unwrap())
            .collect();
        let mut out = Vec::new();
        for seq in 0..50u16 {
            let now = Duration::from_millis(20 * u64::from(seq));
            room.receive(talker, now, &tone_packet(500.0, seq));
            // Line noise far below speech: never mixed.
            let mut noise = tone_packet(300.0, seq);
            for b in &mut noise[12..] {
                *b = ulaw_encode(ulaw_decode(*b) / 200);
            }
            room.receive(hummer, now, &noise);
            out.clear();
            room.tick(now, &mut out).unwrap();
            if seq < 25 {
                continue;
            }
            let payload = |id| &out.iter().find(|(m, _)| *m == id).unwrap().1[12..];
            // The G.722 listeners get the same payload, each in its own stream.
            for l in &listeners[1..] {
                assert_eq!(payload(*l), payload(listeners[0]));
            }
            let headers: std::collections::HashSet<_> = listeners
                .iter()
                .map(|l| out.iter().find(|(m, _)| m == l).unwrap().1[8..12].to_vec())
                .collect();
            assert_eq!(headers.len(), listeners.len(), "one SSRC each");
            // The talker hears nothing of the hum (it is not mixed), nor itself.
            let loud = payload(talker)
                .iter()
                .filter(|&&x| ulaw_decode(x).abs() > 20)
                .count();
            assert_eq!(loud, 0);
        }
        assert_eq!(room.shared.len(), 2, "one shared mix per listening codec");
    }
}
