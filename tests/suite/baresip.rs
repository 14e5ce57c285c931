//! End to end with two real softphones: baresip A (100) calls baresip B (101) through
//! the switch, B answers by itself, and each hears the other's tone through the
//! switch's RTP relay: on the same codec (forwarded untouched) and on different ones
//! (the switch transcodes: G.711 laws in place, Opus and G.722 decoded, resampled and
//! encoded again). Each phone offers one codec only, so it really uses that codec.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::baresip::{wav_samples, Account, Baresip, Secure};
use crate::common::Pbx;

const A_TONE: f64 = 1000.0;
const B_TONE: f64 = 440.0;

/// A codec a phone is set up with.
#[derive(Clone, Copy)]
struct PhoneCodec {
    /// As baresip's `audio_codecs` names it.
    sdp: &'static str,
    /// The rate and channels of its audio (what `aufile` must read).
    rate: u32,
    channels: u16,
    /// How baresip logs it as its encoder.
    logged: &'static str,
}

const PCMU: PhoneCodec = PhoneCodec {
    sdp: "PCMU/8000",
    rate: 8000,
    channels: 1,
    logged: "PCMU 8000Hz",
};
const PCMA: PhoneCodec = PhoneCodec {
    sdp: "PCMA/8000",
    rate: 8000,
    channels: 1,
    logged: "PCMA 8000Hz",
};
const G722: PhoneCodec = PhoneCodec {
    sdp: "G722/16000/1",
    rate: 16000,
    channels: 1,
    logged: "G722 16000Hz",
};
const OPUS: PhoneCodec = PhoneCodec {
    sdp: "opus/48000/2",
    rate: 48000,
    channels: 2,
    logged: "opus 48000Hz",
};

/// Writes `seconds` of a sine at `freq` as 16-bit WAV at `rate` with `channels`.
fn write_tone(path: &Path, freq: f64, seconds: u32, rate: u32, channels: u16) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..rate * seconds {
        let t = f64::from(i) / f64::from(rate);
        let s = 8000.0 * (2.0 * std::f64::consts::PI * freq * t).sin();
        for _ in 0..channels {
            w.write_sample(s.round() as i16).unwrap();
        }
    }
    w.finalize().unwrap();
}

/// Power of `freq` in `x` sampled at `rate` (Goertzel).
fn goertzel(x: &[f64], freq: f64, rate: u32) -> f64 {
    let coeff = 2.0 * (2.0 * std::f64::consts::PI * freq / f64::from(rate)).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &v in x {
        let s = v + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
}

/// What one recording holds: its strongest frequency, that frequency's share of the
/// signal's power (1.0 for a pure tone), and the RMS level.
struct Heard {
    freq: f64,
    purity: f64,
    rms: f64,
}

/// Scans 100..3900 Hz in 2 Hz steps. Over one second both test tones fall on whole
/// cycles, so a clean tone reaches a purity of almost 1. G.711 through a correct
/// transcoder keeps it above 0.99; A-law bytes decoded as µ-law (a relay that
/// relabels instead of transcoding) keep the fundamental but fall to about 0.9.
fn analyse(samples: &[i16], rate: u32) -> Heard {
    let x: Vec<f64> = samples.iter().map(|&s| f64::from(s)).collect();
    let energy: f64 = x.iter().map(|v| v * v).sum();
    let (freq, power) = (50..1950)
        .map(|k| f64::from(k) * 2.0)
        .map(|f| (f, goertzel(&x, f, rate)))
        .fold((0.0, f64::MIN), |a, b| if b.1 > a.1 { b } else { a });
    Heard {
        freq,
        purity: 2.0 * power / (x.len() as f64 * energy.max(1.0)),
        rms: (energy / x.len() as f64).sqrt(),
    }
}

/// The last second of what `phone` received, once it holds at least 1.5 s.
fn measure(phone: &Baresip) -> Heard {
    let path = phone
        .received_wav()
        .unwrap_or_else(|| panic!("{}: no received recording\n{}", phone.name, phone.logs()));
    let wav = wav_samples(&path);
    let second = wav.rate as usize;
    assert!(
        wav.samples.len() >= second * 3 / 2,
        "{}: only {} samples received\n{}",
        phone.name,
        wav.samples.len(),
        phone.logs()
    );
    analyse(&wav.samples[wav.samples.len() - second..], wav.rate)
}

/// A (100, `a_codec`, sending 1 kHz) calls B (101, `b_codec`, sending 440 Hz); each
/// must hear the other's tone.
fn call_and_listen(pbx: &Pbx, work: &Path, a_codec: PhoneCodec, b_codec: PhoneCodec) {
    let plain = Secure::default();
    call_and_listen_with(pbx.addr, work, (a_codec, &plain), (b_codec, &plain), &|| {});
}

/// As `call_and_listen`, each phone over TLS and with SRTP as its `Secure` says,
/// both registering with (and sending through) `proxy`: the switch, or an edge.
/// `registered` runs once both phones are registered.
fn call_and_listen_with(
    proxy: std::net::SocketAddr,
    work: &Path,
    (a_codec, a_secure): (PhoneCodec, &Secure),
    (b_codec, b_secure): (PhoneCodec, &Secure),
    registered: &dyn Fn(),
) -> (Baresip, Baresip) {
    let started = Instant::now();
    std::fs::create_dir_all(work).unwrap();
    let (a_wav, b_wav) = (work.join("a-1000.wav"), work.join("b-440.wav"));
    write_tone(&a_wav, A_TONE, 20, a_codec.rate, a_codec.channels);
    write_tone(&b_wav, B_TONE, 20, b_codec.rate, b_codec.channels);
    let mut b = Baresip::start_secure(
        "B",
        &work.join("b"),
        proxy,
        &Account {
            ext: "101",
            codecs: b_codec.sdp,
            source: &b_wav,
        },
        b_secure,
    );
    let mut a = Baresip::start_secure(
        "A",
        &work.join("a"),
        proxy,
        &Account {
            ext: "100",
            codecs: a_codec.sdp,
            source: &a_wav,
        },
        a_secure,
    );
    b.wait_registered(Duration::from_secs(5));
    a.wait_registered(Duration::from_secs(5));
    registered();

    a.command("dial", "sip:101@127.0.0.1");
    a.wait_event("CALL_ESTABLISHED", Duration::from_secs(5));
    b.wait_event("CALL_ESTABLISHED", Duration::from_secs(5));
    // Generous: on a loaded two-core machine baresip's recorder may start late.
    a.wait_received(1.5, a_codec.rate, a_codec.channels, Duration::from_secs(12));
    b.wait_received(1.5, b_codec.rate, b_codec.channels, Duration::from_secs(12));

    a.command("hangup", "");
    a.wait_event("CALL_CLOSED", Duration::from_secs(5));
    b.wait_event("CALL_CLOSED", Duration::from_secs(5));
    a.quit();
    b.quit();
    for (phone, codec) in [(&a, a_codec), (&b, b_codec)] {
        let logs = phone.logs();
        assert!(
            logs.contains(&format!("Set audio encoder: {}", codec.logged)),
            "{} did not send {}\n{logs}",
            phone.name,
            codec.sdp
        );
    }

    let (at_b, at_a) = (measure(&b), measure(&a));
    println!(
        "A {} -> B {}: B heard {:.0} Hz (purity {:.4}, rms {:.0}), A heard {:.0} Hz \
         (purity {:.4}, rms {:.0}); {:.1} s",
        a_codec.sdp,
        b_codec.sdp,
        at_b.freq,
        at_b.purity,
        at_b.rms,
        at_a.freq,
        at_a.purity,
        at_a.rms,
        started.elapsed().as_secs_f64()
    );
    for (who, heard, tone) in [("B", &at_b, A_TONE), ("A", &at_a, B_TONE)] {
        assert!(
            (heard.freq - tone).abs() <= 20.0 && heard.purity > 0.97 && heard.rms > 1000.0,
            "{who} heard {:.0} Hz (purity {:.4}, rms {:.0}), expected {tone} Hz\n{}\n{}",
            heard.freq,
            heard.purity,
            heard.rms,
            a.logs(),
            b.logs()
        );
    }
    (a, b)
}

#[test]
fn two_baresips_hear_each_other_pcmu_and_transcoded() {
    let tmp = crate::common::temp_dir();
    let pbx = Pbx::start(&tmp.path().join("data"));
    call_and_listen(&pbx, &tmp.path().join("pcmu"), PCMU, PCMU);
    call_and_listen(&pbx, &tmp.path().join("pcma-pcmu"), PCMA, PCMU);
}

#[test]
fn every_codec_reaches_every_other() {
    let tmp = crate::common::temp_dir();
    let pbx = Pbx::start(&tmp.path().join("data"));
    let pairs = [
        (OPUS, PCMU, "opus-pcmu"),
        (PCMU, OPUS, "pcmu-opus"),
        (G722, PCMA, "g722-pcma"),
        (OPUS, G722, "opus-g722"),
        (OPUS, OPUS, "opus-opus"),
        (G722, G722, "g722-g722"),
    ];
    for (a, b, name) in pairs {
        call_and_listen(&pbx, &tmp.path().join(name), a, b);
    }
}

#[test]
fn three_phones_in_a_conference_each_hear_the_other_two() {
    let tmp = crate::common::temp_dir();
    let pbx = Pbx::start(&tmp.path().join("data"));
    // Each on another codec, each sending its own tone, all dialling room 500.
    let members = [
        ("A", "100", PCMU, 1000.0),
        ("B", "101", G722, 440.0),
        ("C", "102", OPUS, 700.0),
    ];
    let mut phones = Vec::new();
    for (name, ext, codec, tone) in members {
        let work = tmp.path().join(name);
        std::fs::create_dir_all(&work).unwrap();
        let wav = work.join("tone.wav");
        write_tone(&wav, tone, 12, codec.rate, codec.channels);
        let mut p = Baresip::start(
            name,
            &work,
            pbx.addr,
            &Account {
                ext,
                codecs: codec.sdp,
                source: &wav,
            },
        );
        p.wait_registered(Duration::from_secs(5));
        p.command("dial", "sip:500@127.0.0.1");
        p.wait_event("CALL_ESTABLISHED", Duration::from_secs(5));
        phones.push(p);
    }
    for (p, (_, _, codec, _)) in phones.iter_mut().zip(members) {
        p.wait_received(3.0, codec.rate, codec.channels, Duration::from_secs(8));
    }
    for p in &mut phones {
        p.command("hangup", "");
        p.quit();
    }
    for (p, (name, _, _, own)) in phones.iter().zip(members) {
        let wav = wav_samples(&p.received_wav().unwrap());
        let second = wav.rate as usize;
        let x: Vec<f64> = wav.samples[wav.samples.len() - second..]
            .iter()
            .map(|&s| f64::from(s))
            .collect();
        let energy: f64 = x.iter().map(|v| v * v).sum::<f64>().max(1.0);
        let share = |f: f64| 2.0 * goertzel(&x, f, wav.rate) / (x.len() as f64 * energy);
        let others: Vec<f64> = members
            .iter()
            .filter(|m| m.0 != name)
            .map(|m| share(m.3))
            .collect();
        println!(
            "{name} hears its own {own} Hz at {:.3}, the others at {:.3} and {:.3}",
            share(own),
            others[0],
            others[1]
        );
        assert!(
            others.iter().all(|s| *s > 0.15) && share(own) < 0.02,
            "{name}: own {own} Hz {:.3}, others {others:?}\n{}",
            share(own),
            p.logs()
        );
    }
}

#[test]
fn phones_over_tls_with_srtp_hear_each_other_through_the_transcoder() {
    let tmp = crate::common::temp_dir();
    let cert = crate::common::test_certificate(tmp.path());
    let pbx = Pbx::start_with(
        &tmp.path().join("data"),
        "127.0.0.1:0",
        &[
            "--tls-cert",
            cert.cert.to_str().unwrap(),
            "--tls-key",
            cert.key.to_str().unwrap(),
        ],
    );
    let tls = pbx.tls.expect("the switch listens for TLS");
    // A insists on SRTP (RTP/SAVP); B takes it when offered (keys on RTP/AVP).
    let a_secure = Secure {
        tls: Some((tls, &cert.ca)),
        mediaenc: Some("srtp-mand"),
    };
    let b_secure = Secure {
        tls: Some((tls, &cert.ca)),
        mediaenc: Some("srtp"),
    };
    let (a, b) = call_and_listen_with(
        pbx.addr,
        &tmp.path().join("g722-pcmu"),
        (G722, &a_secure),
        (PCMU, &b_secure),
        &|| {},
    );
    // Each registered over TLS and had SRTP with the switch: it heard the other's
    // tone, so what the switch sent it decrypted and authenticated.
    for p in [&a, &b] {
        let logs = p.logs();
        assert!(
            logs.contains("/TLS/v4} 200 OK"),
            "{} registered over TLS\n{logs}",
            p.name
        );
        assert!(
            logs.contains("SRTP is Enabled (cryptosuite=AES_CM_128_HMAC_SHA1_80)"),
            "{} spoke SRTP\n{logs}",
            p.name
        );
    }
}

/// Two phones behind the Kamailio edge (`deploy/kamailio/edge.cfg`) on 127.0.0.1,
/// the switch a node on 127.0.0.2 that trusts it: both register through the edge
/// (their bindings keep the edge's Path, with each phone's address as `received`),
/// A calls B through the edge, the switch reaches B back along B's Path, and each
/// hears the other.
#[test]
fn two_baresips_behind_the_kamailio_edge_hear_each_other() {
    let tmp = crate::common::temp_dir();
    let node = format!("127.0.0.2:{}", crate::common::free_port());
    let data = tmp.path().join("data");
    let pbx = Pbx::start_with(
        &data,
        &node,
        &["--edge", "127.0.0.1", "--node-id", "node-a"],
    );
    let edge = crate::common::edge::Edge::start(
        &tmp.path().join("edge"),
        &[(1, pbx.addr, 10)],
        &[("127.0.0.1", 1)],
    );
    let plain = Secure::default();
    let db = rusqlite::Connection::open(data.join("pbx.sqlite3")).unwrap();
    let through_edge = || -> i64 {
        db.query_row(
            "SELECT count(*) FROM bindings WHERE node = 'node-a' AND path LIKE ?1",
            [format!("%{}%received=%", edge.addr)],
            |r| r.get(0),
        )
        .unwrap()
    };
    call_and_listen_with(
        edge.addr,
        &tmp.path().join("calls"),
        (PCMU, &plain),
        (PCMU, &plain),
        &|| assert_eq!(through_edge(), 2, "both phones registered through the edge"),
    );
    let journalled: i64 = db
        .query_row(
            "SELECT count(*) FROM calls WHERE node = 'node-a' AND state = 'done'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(journalled, 1, "the node journals the call under its id");
}
