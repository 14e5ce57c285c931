//! Media engine costs per 20 ms frame, next to the same work done directly on the
//! underlying library (libopus through audiopus, audio-codec's G.722, a naive
//! per-sample G.711 formula), so the engine's overhead shows as a ratio.
//!
//! Run: `cargo bench --bench media_codecs -- --warm-up-time 1 --measurement-time 2`

use std::hint::black_box;

use audiopus::coder::{Decoder as OpusDecoder, Encoder as OpusEncoder};
use audiopus::{Application, Bandwidth, Bitrate, Channels, SampleRate};
use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};
use media::codec::g722::backend::{Decoder as _, Encoder as _, G722Decoder, G722Encoder};
use media::codec::transcode::Transcoder;
use media::codec::{CodecKind, OpusConfig};
use media::mixer::Mixer;
use media::path::TranscodePath;

/// A 20 ms frame of a voice-like signal (two partials and a little noise) at `rate`.
fn frame(rate: u32, phase0: usize) -> Vec<i16> {
    let n = rate as usize / 50;
    let mut seed = 0x2545_F491_4F6C_DD1Du64 ^ phase0 as u64;
    (0..n)
        .map(|i| {
            let t = (i + phase0) as f64 / rate as f64;
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let noise = (seed % 400) as f64 - 200.0;
            (6000.0 * (2.0 * std::f64::consts::PI * 220.0 * t).sin()
                + 3000.0 * (2.0 * std::f64::consts::PI * 1370.0 * t).sin()
                + noise) as i16
        })
        .collect()
}

/// G.711 µ-law encoding the naive way: per sample, find the segment by shifting.
fn naive_ulaw_encode(sample: i16) -> u8 {
    let mut x = sample as i32;
    let sign = if x < 0 {
        x = -x;
        0x00
    } else {
        0x80
    };
    x = x.min(32635) + 0x84;
    let mut seg = 0;
    let mut v = x >> 7;
    while v > 1 && seg < 7 {
        v >>= 1;
        seg += 1;
    }
    let mantissa = (x >> (seg + 3)) & 0x0F;
    !(sign | (seg << 4) as u8 | mantissa as u8)
}

/// G.711 µ-law decoding by the formula, per sample.
fn naive_ulaw_decode(code: u8) -> i16 {
    let u = !code;
    let t = ((((u & 0x0F) as i32) << 3) + 0x84) << ((u & 0x70) >> 4);
    if u & 0x80 != 0 {
        (0x84 - t) as i16
    } else {
        (t - 0x84) as i16
    }
}

/// G.711 A-law encoding the naive way.
fn naive_alaw_encode(sample: i16) -> u8 {
    let mut x = sample as i32 >> 3;
    let mask = if x >= 0 {
        0xD5
    } else {
        x = -x - 1;
        0x55
    };
    let mut seg = 0;
    while seg < 8 && x > (0x1F << seg) {
        seg += 1;
    }
    let code = if seg >= 8 {
        0x7F
    } else if seg < 2 {
        (seg << 4) | ((x >> 1) & 0x0F)
    } else {
        (seg << 4) | ((x >> seg) & 0x0F)
    };
    (code ^ mask) as u8
}

/// G.711 A-law decoding by the formula.
fn naive_alaw_decode(code: u8) -> i16 {
    let a = (code ^ 0x55) as i32;
    let seg = (a & 0x70) >> 4;
    let mut t = (a & 0x0F) << 4;
    t += if seg == 0 { 8 } else { 0x108 };
    if seg > 1 {
        t <<= seg - 1;
    }
    if a & 0x80 != 0 {
        t as i16
    } else {
        -t as i16
    }
}

fn opus_kinds() -> [(&'static str, u32); 3] {
    [
        ("opus_nb_8k", 8000),
        ("opus_wb_16k", 16000),
        ("opus_fb_48k", 48000),
    ]
}

/// The payload a benchmark decodes: the sixth frame of a fresh encoder.
fn sixth_payload(mut encode: impl FnMut(&[i16]) -> Vec<u8>, rate: u32) -> Vec<u8> {
    let n = rate as usize / 50;
    (0..6)
        .map(|i| encode(&frame(rate, i * n)))
        .last()
        .unwrap_or_default()
}

/// media's codec of `kind`: encode and decode one frame.
fn bench_media(g: &mut BenchmarkGroup<'_, WallTime>, kind: CodecKind) {
    let mut codec = kind.build().expect("codec");
    let rate = codec.sample_rate();
    let pcm = frame(rate, 0);
    let mut payload = Vec::with_capacity(1500);
    g.bench_function("encode/media", |b| {
        b.iter(|| {
            payload.clear();
            codec.encode(black_box(&pcm), &mut payload).unwrap();
        })
    });
    let mut encoder = kind.build().expect("codec");
    let payload = sixth_payload(
        |f| {
            let mut p = Vec::new();
            encoder.encode(f, &mut p).unwrap();
            p
        },
        rate,
    );
    let mut out = Vec::with_capacity(pcm.len());
    g.bench_function("decode/media", |b| {
        b.iter(|| {
            out.clear();
            codec.decode(black_box(&payload), &mut out).unwrap();
        })
    });
}

fn g711(c: &mut Criterion) {
    type Enc = fn(i16) -> u8;
    type Dec = fn(u8) -> i16;
    let laws: [(&str, CodecKind, Enc, Dec); 2] = [
        (
            "pcmu",
            CodecKind::Pcmu,
            naive_ulaw_encode,
            naive_ulaw_decode,
        ),
        (
            "pcma",
            CodecKind::Pcma,
            naive_alaw_encode,
            naive_alaw_decode,
        ),
    ];
    for (name, kind, enc, dec) in laws {
        let mut g = c.benchmark_group(name);
        bench_media(&mut g, kind);
        let pcm = frame(8000, 0);
        let mut bytes = vec![0u8; 160];
        g.bench_function("encode/direct", |b| {
            b.iter(|| {
                for (o, &s) in bytes.iter_mut().zip(black_box(&pcm)) {
                    *o = enc(s);
                }
            })
        });
        let mut back = vec![0i16; 160];
        g.bench_function("decode/direct", |b| {
            b.iter(|| {
                for (o, &c) in back.iter_mut().zip(black_box(&bytes)) {
                    *o = dec(c);
                }
            })
        });
        g.finish();
    }
}

fn g722(c: &mut Criterion) {
    let mut g = c.benchmark_group("g722");
    bench_media(&mut g, CodecKind::G722);
    // The same work straight on audio-codec's G.722.
    let pcm16 = frame(16000, 0);
    let mut enc = G722Encoder::new();
    let mut out = vec![0u8; 161];
    g.bench_function("encode/direct", |b| {
        b.iter(|| enc.encode_into(black_box(&pcm16), &mut out).unwrap())
    });
    let mut fresh = G722Encoder::new();
    let payload = sixth_payload(
        |f| {
            let mut p = vec![0u8; 161];
            let n = fresh.encode_into(f, &mut p).unwrap();
            p.truncate(n);
            p
        },
        16000,
    );
    let mut dec = G722Decoder::new();
    let mut pcm_out = vec![0i16; 320];
    g.bench_function("decode/direct", |b| {
        b.iter(|| dec.decode_into(black_box(&payload), &mut pcm_out).unwrap())
    });
    g.finish();
}

/// A libopus encoder set up as media's `OpusConfig::at_rate(rate)` sets it up.
fn direct_opus_encoder(rate: u32) -> OpusEncoder {
    let cfg = OpusConfig::at_rate(rate);
    let (sr, bw) = match rate {
        8000 => (SampleRate::Hz8000, Bandwidth::Narrowband),
        16000 => (SampleRate::Hz16000, Bandwidth::Wideband),
        _ => (SampleRate::Hz48000, Bandwidth::Fullband),
    };
    let mut enc = OpusEncoder::new(sr, Channels::Mono, Application::Voip).unwrap();
    enc.set_bitrate(Bitrate::BitsPerSecond(cfg.bitrate))
        .unwrap();
    enc.set_max_bandwidth(bw).unwrap();
    enc.set_inband_fec(cfg.fec).unwrap();
    enc.set_packet_loss_perc(cfg.expected_loss_percent).unwrap();
    enc.set_dtx(false).unwrap();
    enc
}

fn opus(c: &mut Criterion) {
    for (name, rate) in opus_kinds() {
        let mut g = c.benchmark_group(name);
        bench_media(&mut g, CodecKind::Opus(OpusConfig::at_rate(rate)));
        // The same work straight on audiopus.
        let enc = direct_opus_encoder(rate);
        let pcm = frame(rate, 0);
        let mut out = vec![0u8; 1275];
        g.bench_function("encode/direct", |b| {
            b.iter(|| enc.encode(black_box(&pcm), &mut out).unwrap())
        });
        let fresh = direct_opus_encoder(rate);
        let payload = sixth_payload(
            |f| {
                let mut p = vec![0u8; 1275];
                let n = fresh.encode(f, &mut p).unwrap();
                p.truncate(n);
                p
            },
            rate,
        );
        let sr = match rate {
            8000 => SampleRate::Hz8000,
            16000 => SampleRate::Hz16000,
            _ => SampleRate::Hz48000,
        };
        let mut dec = OpusDecoder::new(sr, Channels::Mono).unwrap();
        let mut pcm_out = vec![0i16; pcm.len()];
        g.bench_function("decode/direct", |b| {
            b.iter(|| {
                let packet = audiopus::packet::Packet::try_from(black_box(&payload[..])).unwrap();
                let signals = audiopus::MutSignals::try_from(&mut pcm_out[..]).unwrap();
                dec.decode(Some(packet), signals, false).unwrap()
            })
        });
        g.finish();
    }
}

fn transcoding(c: &mut Criterion) {
    let mut g = c.benchmark_group("transcode");
    let opus = CodecKind::Opus(OpusConfig::default());
    for (name, from, to) in [
        ("pcmu_to_opus48k", CodecKind::Pcmu, opus),
        ("opus48k_to_pcmu", opus, CodecKind::Pcmu),
        ("g722_to_pcma", CodecKind::G722, CodecKind::Pcma),
        ("pcma_to_g722", CodecKind::Pcma, CodecKind::G722),
    ] {
        let mut source = from.build().unwrap();
        let pcm = frame(source.sample_rate(), 0);
        let mut payload = Vec::new();
        source.encode(&pcm, &mut payload).unwrap();
        let mut t = Transcoder::new(from, to, 20).unwrap();
        let mut out = Vec::new();
        g.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                t.push(black_box(&payload), &mut out).unwrap();
            })
        });
    }
    g.finish();
}

fn resampling(c: &mut Criterion) {
    let mut g = c.benchmark_group("resample");
    for (from, to) in [
        (8000u32, 48000u32),
        (48000, 8000),
        (8000, 16000),
        (16000, 8000),
    ] {
        let mut r = media::resample::Resampler::new(from, to).unwrap();
        let pcm = frame(from, 0);
        let mut out = Vec::with_capacity(960);
        g.bench_function(format!("{from}_to_{to}"), |b| {
            b.iter(|| {
                out.clear();
                r.process(black_box(&pcm), &mut out);
            })
        });
    }
    g.finish();
}

/// One 20 ms packet each way of a transcoded call through `media::path` (what the
/// relay runs per packet): × 50 is the call's CPU per second.
fn call_paths(c: &mut Criterion) {
    let mut g = c.benchmark_group("call_path");
    let opus = CodecKind::Opus(OpusConfig::default());
    for (name, a, a_pt, b, b_pt) in [
        ("opus48k_pcmu_both_ways", opus, 111, CodecKind::Pcmu, 0),
        (
            "g722_pcma_both_ways",
            CodecKind::G722,
            9,
            CodecKind::Pcma,
            8,
        ),
    ] {
        let packet = |kind: CodecKind, pt: u8| {
            let mut codec = kind.build().unwrap();
            let mut payload = Vec::new();
            codec
                .encode(&frame(codec.sample_rate(), 0), &mut payload)
                .unwrap();
            let mut d = vec![0x80, pt, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4];
            d.extend_from_slice(&payload);
            d
        };
        let (from_a, from_b) = (packet(a, a_pt), packet(b, b_pt));
        let mut up = TranscodePath::new(a, a_pt, b, b_pt, 20).unwrap();
        let mut down = TranscodePath::new(b, b_pt, a, a_pt, 20).unwrap();
        let mut out = Vec::new();
        let mut seq = 0u16;
        g.bench_function(name, |bench| {
            bench.iter(|| {
                // Sequence and timestamp run on as in a real stream.
                seq = seq.wrapping_add(1);
                let mut pa = from_a.clone();
                pa[2..4].copy_from_slice(&seq.to_be_bytes());
                let mut pb = from_b.clone();
                pb[2..4].copy_from_slice(&seq.to_be_bytes());
                up.push(black_box(&pa), &mut out).unwrap();
                down.push(black_box(&pb), &mut out).unwrap();
            })
        });
    }
    g.finish();
}

/// One 20 ms round of a conference room of 10 (and 100) members, 3 talking, each
/// receiving its mix encoded in its own codec (listeners on one codec share one
/// encoding): ÷ members is a member's cost per round, × 50 a second.
fn conference_rooms(c: &mut Criterion) {
    let mut g = c.benchmark_group("conference");
    let opus = CodecKind::Opus(OpusConfig::default());
    for (name, kind, pt, members) in [
        ("opus48k_x10", opus, 111u8, 10u32),
        ("pcmu_x10", CodecKind::Pcmu, 0, 10),
        ("opus48k_x100", opus, 111u8, 100),
        ("pcmu_x100", CodecKind::Pcmu, 0, 100),
    ] {
        g.throughput(Throughput::Elements(u64::from(members)));
        let mut room = media::conference::Conference::new();
        let ids: Vec<_> = (0..members)
            .map(|i| room.join(kind, pt, i).unwrap())
            .collect();
        let mut codec = match kind {
            CodecKind::Opus(cfg) => CodecKind::Opus(OpusConfig {
                payload_type: pt,
                ..cfg
            }),
            k => k,
        }
        .build()
        .unwrap();
        let mut payload = Vec::new();
        codec
            .encode(&frame(codec.sample_rate(), 0), &mut payload)
            .unwrap();
        let mut out = Vec::new();
        let mut round = 0u32;
        g.bench_function(name, |b| {
            b.iter(|| {
                round += 1;
                let now = std::time::Duration::from_millis(20 * u64::from(round));
                for id in &ids[..3] {
                    let mut d = vec![0x80, pt];
                    d.extend_from_slice(&(round as u16).to_be_bytes());
                    d.extend_from_slice(&(round * codec.clock_rate() / 50).to_be_bytes());
                    d.extend_from_slice(&id.to_be_bytes());
                    d.extend_from_slice(&payload);
                    room.receive(*id, now, &d);
                }
                out.clear();
                room.tick(now, &mut out).unwrap();
                black_box(&out);
            })
        });
    }
    g.finish();
}

/// Participants per conference in the mixer benchmark.
const PARTICIPANTS: usize = 10;

fn mixing(c: &mut Criterion) {
    let mut g = c.benchmark_group("mixer");
    g.throughput(Throughput::Elements(PARTICIPANTS as u64));
    for rate in [8000u32, 16000, 48000] {
        let mut m = Mixer::new(rate, 20).unwrap();
        let ids: Vec<_> = (0..PARTICIPANTS).map(|_| m.add(rate).unwrap()).collect();
        let frames: Vec<_> = (0..PARTICIPANTS).map(|i| frame(rate, i * 37)).collect();
        g.bench_function(BenchmarkId::new("round_of_10", rate), |b| {
            b.iter(|| {
                for (id, f) in ids.iter().zip(&frames) {
                    m.input(*id, black_box(f)).unwrap();
                }
                m.mix();
                black_box(m.output(ids[0]));
            })
        });
    }
    g.finish();
}

/// SRTP per 20 ms G.711 packet (172 bytes): protecting one the switch sends and
/// checking and decrypting one a leg sends (what a secured leg adds to relaying).
fn srtp(c: &mut Criterion) {
    use media::srtp::{SrtpContext, Suite};
    let mut g = c.benchmark_group("srtp");
    g.throughput(Throughput::Elements(1));
    let master: [u8; 30] = std::array::from_fn(|i| i as u8 * 3 + 1);
    let mut packet = vec![0x80u8, 0, 0, 1, 0, 0, 0, 160, 1, 2, 3, 4];
    packet.extend(std::iter::repeat_n(0x55u8, 160));
    let mut tx = SrtpContext::new(Suite::AesCm128HmacSha1_80, &master);
    let mut out = Vec::with_capacity(256);
    let mut seq = 0u16;
    g.bench_function("protect_rtp_g711", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            packet[2..4].copy_from_slice(&seq.to_be_bytes());
            tx.protect_rtp(black_box(&packet), &mut out).unwrap();
        })
    });
    // A stream of protected packets, each checked once (replays are refused).
    let mut sender = SrtpContext::new(Suite::AesCm128HmacSha1_80, &master);
    let sealed: Vec<Vec<u8>> = (0..60_000u32)
        .map(|i| {
            packet[2..4].copy_from_slice(&(i as u16).to_be_bytes());
            let mut o = Vec::new();
            sender.protect_rtp(&packet, &mut o).unwrap();
            o
        })
        .collect();
    let mut rx = SrtpContext::new(Suite::AesCm128HmacSha1_80, &master);
    let mut i = 0usize;
    let mut buf = vec![0u8; 256];
    g.bench_function("unprotect_rtp_g711", |b| {
        b.iter(|| {
            // The stream starts again (a new context) with its first packet.
            if i > 0 && i % sealed.len() == 0 {
                rx = SrtpContext::new(Suite::AesCm128HmacSha1_80, &master);
            }
            let p = &sealed[i % sealed.len()];
            i += 1;
            buf[..p.len()].copy_from_slice(p);
            let n = rx
                .unprotect_rtp(&mut buf[..p.len()])
                .unwrap_or_else(|e| panic!("{i}: {e}"));
            black_box(n);
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    srtp,
    g711,
    g722,
    opus,
    resampling,
    transcoding,
    call_paths,
    conference_rooms,
    mixing
);
criterion_main!(benches);
