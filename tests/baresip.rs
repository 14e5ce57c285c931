//! End to end with two real softphones: baresip A (100) calls baresip B (101) through
//! the switch, B answers by itself, and each hears the other's tone through the
//! switch's RTP relay — once with both on PCMU, once with A on PCMA and B on PCMU so
//! that the switch transcodes.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::baresip::{wav_samples, Account, Baresip};
use common::Pbx;

const RATE: u32 = 8000;
const A_TONE: f64 = 1000.0;
const B_TONE: f64 = 440.0;

/// Writes `seconds` of a sine at `freq` as 8 kHz mono 16-bit WAV (what `aufile` wants).
fn write_tone(path: &Path, freq: f64, seconds: u32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..RATE * seconds {
        let t = f64::from(i) / f64::from(RATE);
        let s = 8000.0 * (2.0 * std::f64::consts::PI * freq * t).sin();
        w.write_sample(s.round() as i16).unwrap();
    }
    w.finalize().unwrap();
}

/// Power of `freq` in `x` (Goertzel).
fn goertzel(x: &[f64], freq: f64) -> f64 {
    let coeff = 2.0 * (2.0 * std::f64::consts::PI * freq / f64::from(RATE)).cos();
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

/// Scans 100..3900 Hz in 2 Hz steps. Over one second (8000 samples) both test tones
/// fall on whole cycles, so a clean tone reaches a purity of almost 1. G.711 through
/// a correct transcoder keeps it above 0.99; A-law bytes decoded as µ-law (a relay
/// that relabels instead of transcoding) keep the fundamental but fall to about 0.9.
fn analyse(samples: &[i16]) -> Heard {
    let x: Vec<f64> = samples.iter().map(|&s| f64::from(s)).collect();
    let energy: f64 = x.iter().map(|v| v * v).sum();
    let (freq, power) = (50..1950)
        .map(|k| f64::from(k) * 2.0)
        .map(|f| (f, goertzel(&x, f)))
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
    let samples = wav_samples(&path);
    assert!(
        samples.len() >= RATE as usize * 3 / 2,
        "{}: only {} samples received\n{}",
        phone.name,
        samples.len(),
        phone.logs()
    );
    analyse(&samples[samples.len() - RATE as usize..])
}

/// `a_codec`/`b_codec`: the one codec each phone offers or accepts (`PCMU`, `PCMA`).
fn call_and_listen(pbx: &Pbx, tones: &Path, work: &Path, a_codec: &str, b_codec: &str) {
    let started = Instant::now();
    let (a_wav, b_wav) = (tones.join("a-1000.wav"), tones.join("b-440.wav"));
    let (a_codecs, b_codecs) = (format!("{a_codec}/8000"), format!("{b_codec}/8000"));
    let mut b = Baresip::start(
        "B",
        &work.join("b"),
        pbx.addr,
        &Account {
            ext: "101",
            codecs: &b_codecs,
            source: &b_wav,
        },
    );
    let mut a = Baresip::start(
        "A",
        &work.join("a"),
        pbx.addr,
        &Account {
            ext: "100",
            codecs: &a_codecs,
            source: &a_wav,
        },
    );
    b.wait_registered(Duration::from_secs(5));
    a.wait_registered(Duration::from_secs(5));

    a.command("dial", "sip:101@127.0.0.1");
    a.wait_event("CALL_ESTABLISHED", Duration::from_secs(5));
    b.wait_event("CALL_ESTABLISHED", Duration::from_secs(5));
    a.wait_received(1.5, Duration::from_secs(6));
    b.wait_received(1.5, Duration::from_secs(6));

    a.command("hangup", "");
    a.wait_event("CALL_CLOSED", Duration::from_secs(5));
    b.wait_event("CALL_CLOSED", Duration::from_secs(5));
    a.quit();
    b.quit();
    for (phone, codec) in [(&a, a_codec), (&b, b_codec)] {
        let logs = phone.logs();
        assert!(
            logs.contains(&format!("Set audio encoder: {codec} 8000Hz")),
            "{} did not send {codec}\n{logs}",
            phone.name
        );
    }

    let (at_b, at_a) = (measure(&b), measure(&a));
    println!(
        "A {a_codec} -> B {b_codec}: B heard {:.0} Hz (purity {:.4}, rms {:.0}), A heard {:.0} Hz \
         (purity {:.4}, rms {:.0}); {:.1} s",
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
}

#[test]
fn two_baresips_hear_each_other_pcmu_and_transcoded() {
    let tmp = common::temp_dir();
    let pbx = Pbx::start(&tmp.path().join("data"));
    write_tone(&tmp.path().join("a-1000.wav"), A_TONE, 10);
    write_tone(&tmp.path().join("b-440.wav"), B_TONE, 10);

    call_and_listen(&pbx, tmp.path(), &tmp.path().join("pcmu"), "PCMU", "PCMU");
    call_and_listen(
        &pbx,
        tmp.path(),
        &tmp.path().join("pcma-pcmu"),
        "PCMA",
        "PCMU",
    );
}
