//! One direction of a bridged call, end to end and without IO: a PCMU caller whose
//! packets arrive jittered, reordered and with a DTMF press, bridged to an Opus callee,
//! with hold music in the middle. Time is simulated; nothing sleeps.

use std::time::Duration;

use media::codec::{CodecKind, OpusConfig};
use media::dtmf::{DtmfEvent, DtmfReceiver, DtmfSender};
use media::playout::PlayoutStream;
use media::resample::Resampler;
use media::rewriter::StreamRewriter;
use media::rtp::{classify, PacketKind, RtpPacket};
use media::tone::{Country, ToneGenerator, ToneKind};
use media::wav::{Announcement, Player};

const PTIME: Duration = Duration::from_millis(20);
const TELEPHONE_EVENT_PT: u8 = 101;

#[test]
fn caller_to_callee_with_hold_and_dtmf() {
    // The caller's side: a 425 Hz tone as "voice", PCMU, 20 ms packets.
    let mut caller_voice = ToneGenerator::call_progress(Country::De, ToneKind::Dial, 8000);
    let mut caller_codec = CodecKind::Pcmu.build().unwrap();
    let mut dtmf_out = DtmfSender::new(8000);
    let mut wire: Vec<(Duration, Vec<u8>)> = Vec::new();
    for i in 0..150u32 {
        let mut pcm = vec![0i16; 160];
        caller_voice.fill(&mut pcm);
        let mut payload = Vec::new();
        caller_codec.encode(&pcm, &mut payload).unwrap();
        let packet = RtpPacket {
            payload_type: 0,
            sequence: 1000 + i as u16,
            timestamp: i * 160,
            ssrc: 0xCA11,
            payload,
            ..RtpPacket::default()
        };
        // Jitter: every third packet 30 ms late, so neighbours swap places.
        let late = if i % 3 == 1 { 30 } else { 0 };
        wire.push((
            PTIME * i + Duration::from_millis(late),
            packet.to_bytes().unwrap(),
        ));
    }
    // A '7' pressed at 1 s for 100 ms, as telephone-events on the same SSRC.
    for (k, ev) in dtmf_out
        .press('7', 50 * 160, 100, 20)
        .unwrap()
        .into_iter()
        .enumerate()
    {
        let packet = RtpPacket {
            marker: ev.marker,
            payload_type: TELEPHONE_EVENT_PT,
            sequence: 30_000 + k as u16,
            timestamp: ev.timestamp,
            ssrc: 0xCA11,
            payload: ev.event.to_bytes().to_vec(),
            ..RtpPacket::default()
        };
        wire.push((PTIME * (50 + k as u32), packet.to_bytes().unwrap()));
    }
    // An RTCP receiver report on the same port (RFC 5761).
    wire.push((PTIME * 10, vec![0x80, 201, 0, 1, 0, 0, 0xCA, 0x11]));
    wire.sort_by_key(|w| w.0);

    // The switch: de-jitter and decode the caller, re-encode for the callee.
    let mut inbound = PlayoutStream::new(CodecKind::Pcmu.build().unwrap(), 20);
    let mut dtmf_in = DtmfReceiver::new();
    let mut up = Resampler::new(8000, 48000).unwrap();
    let mut callee_codec = CodecKind::Opus(OpusConfig::default()).build().unwrap();
    let mut moh = Player::music_on_hold(Announcement::from_samples(
        "moh",
        (0..800)
            .map(|i| ((i as f64 * 0.2).sin() * 3000.0) as i16)
            .collect(),
    ));
    let mut moh_codec = CodecKind::Opus(OpusConfig::default()).build().unwrap();
    let mut leg = StreamRewriter::new(0xB0B, 48000);
    let mut sent: Vec<RtpPacket> = Vec::new();
    let mut digits = Vec::new();
    let mut rtcp_seen = 0;
    let mut wire = wire.into_iter().peekable();
    for tick in 0..170u32 {
        let now = PTIME * tick;
        while let Some((at, bytes)) = wire.next_if(|w| w.0 <= now) {
            match classify(&bytes).unwrap() {
                PacketKind::Rtcp => rtcp_seen += 1,
                PacketKind::Rtp => {
                    let p = RtpPacket::parse(&bytes).unwrap();
                    if p.payload_type == TELEPHONE_EVENT_PT {
                        digits.extend(dtmf_in.on_packet(p.timestamp, &p.payload).unwrap());
                    } else {
                        inbound.push(at, p);
                    }
                }
            }
        }
        // Ticks 60..90: the callee hears hold music from its own source instead.
        let mut payload = Vec::new();
        let source_ssrc = if (60..90).contains(&tick) {
            let mut pcm8 = vec![0i16; 160];
            moh.fill(&mut pcm8);
            let mut pcm48 = Vec::new();
            up.process(&pcm8, &mut pcm48);
            moh_codec.encode(&pcm48, &mut payload).unwrap();
            0x4011
        } else {
            let mut pcm8 = Vec::new();
            inbound.pop(now, &mut pcm8);
            let mut pcm48 = Vec::new();
            up.process(&pcm8, &mut pcm48);
            callee_codec.encode(&pcm48, &mut payload).unwrap();
            0xCA11
        };
        let mut out = RtpPacket {
            payload_type: 111,
            sequence: tick as u16,
            timestamp: tick * 960 + if source_ssrc == 0x4011 { 777_777 } else { 0 },
            ssrc: source_ssrc,
            payload,
            ..RtpPacket::default()
        };
        leg.rewrite(&mut out, now);
        sent.push(out);
    }

    assert_eq!(rtcp_seen, 1);
    assert_eq!(
        digits,
        vec![
            DtmfEvent::Begin { digit: '7' },
            DtmfEvent::End {
                digit: '7',
                duration: 800
            }
        ]
    );
    // The callee's stream never jumps, across both source changes.
    for w in sent.windows(2) {
        assert_eq!(w[1].ssrc, 0xB0B);
        assert_eq!(w[1].sequence, w[0].sequence.wrapping_add(1));
        assert_eq!(w[1].timestamp, w[0].timestamp.wrapping_add(960));
    }
    // The jitter buffer undid the reordering without losing voice.
    let stats = inbound.stats();
    assert_eq!(stats.late, 0, "{stats:?}");
    // The callee decodes the caller's tone after the jitter buffer filled.
    let mut callee_decoder = CodecKind::Opus(OpusConfig::default()).build().unwrap();
    let mut heard = Vec::new();
    for p in &sent[100..150] {
        callee_decoder.decode(&p.payload, &mut heard).unwrap();
    }
    let peak = heard.iter().map(|s| s.unsigned_abs()).max().unwrap();
    assert!(peak > 3000, "callee hears only {peak}");
}
