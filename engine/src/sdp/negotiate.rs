//! Offer/answer (RFC 3264): building the switch's answer to an offer, and narrowing a
//! description to the codecs one leg may use.

use std::net::IpAddr;

use super::codec::{Codec, CodecSpec};
use super::fields::{Direction, MediaLine, Origin};
use super::media::MediaSection;
use super::session::Sdp;

/// What the switch answers with.
#[derive(Debug, Clone)]
pub struct AnswerOptions<'a> {
    pub origin: Origin,
    /// The switch's RTP address for this leg.
    pub address: IpAddr,
    /// The switch's RTP port for each offered section, by index; a section without a
    /// port here is rejected.
    pub ports: &'a [u16],
    /// The codecs the switch accepts on this leg.
    pub codecs: &'a [CodecSpec],
    /// Keep telephone-event (RFC 4733) when the offer has it.
    pub telephone_event: bool,
    /// The direction the switch wants (sendrecv normally).
    pub direction: Direction,
}

/// The offered codecs both sides can use, in the offer's order; telephone-event is
/// kept when wanted. Empty when no voice codec matches (telephone-event alone is no
/// use).
pub fn common_codecs(offered: &[Codec], supported: &[CodecSpec], dtmf: bool) -> Vec<Codec> {
    let voice: Vec<Codec> = offered
        .iter()
        .filter(|c| !c.is_telephone_event() && supported.iter().any(|s| s.matches(c)))
        .cloned()
        .collect();
    if voice.is_empty() {
        return voice;
    }
    let mut out = voice;
    if dtmf {
        // The event format must run at the clock rate of a chosen codec (RFC 4733 §7.1.1).
        let rates: Vec<u32> = out.iter().map(|c| c.rate).collect();
        out.extend(
            offered
                .iter()
                .filter(|c| c.is_telephone_event() && rates.contains(&c.rate))
                .take(1)
                .cloned(),
        );
    }
    out
}

/// The answer to `offer`: one section per offered section, in the same order (RFC 3264
/// §6). An audio RTP section with a common codec gets the switch's port and the common
/// payload types (with the offer's numbers); every other section is rejected with
/// port 0.
pub fn answer(offer: &Sdp, opts: &AnswerOptions<'_>) -> Sdp {
    let mut sdp = Sdp::new(&opts.origin, opts.address);
    for (i, m) in offer.media().iter().enumerate() {
        // SRTP (`RTP/SAVP`) only with a key the switch can use; the caller of
        // `answer` adds the switch's own key line.
        let proto_ok = m.proto().eq_ignore_ascii_case("RTP/AVP")
            || (m.proto().eq_ignore_ascii_case("RTP/SAVP") && m.crypto().is_some());
        let common = if m.kind() == "audio" && proto_ok && m.port() != 0 {
            common_codecs(&m.codecs(), opts.codecs, opts.telephone_event)
        } else {
            Vec::new()
        };
        let port = opts.ports.get(i).copied().unwrap_or(0);
        if common.is_empty() || port == 0 {
            sdp.push_media(rejected(m, sdp.eol));
            continue;
        }
        let line = MediaLine {
            kind: m.kind().into(),
            port,
            port_count: None,
            proto: m.proto().into(),
            formats: common.iter().map(|c| c.pt.to_string()).collect(),
        };
        let mut out = MediaSection::new(line, sdp.eol);
        for c in &common {
            out.push(b'a', format!("rtpmap:{}", c.rtpmap_value()));
            if let Some(f) = &c.fmtp {
                out.push(b'a', format!("fmtp:{} {}", c.pt, f));
            }
        }
        if let Some(p) = m.ptime() {
            out.push(b'a', format!("ptime:{p}"));
        }
        let dir = offer.direction(i).answer(opts.direction);
        out.push(b'a', dir.as_str().into());
        sdp.push_media(out);
    }
    sdp
}

/// A rejected section: same media, proto and formats, port 0.
fn rejected(m: &MediaSection, eol: &'static str) -> MediaSection {
    let mut line = m.line().clone();
    line.port = 0;
    line.port_count = None;
    if line.formats.is_empty() {
        line.formats.push("0".into());
    }
    MediaSection::new(line, eol)
}

impl Sdp {
    /// Narrows every audio RTP section to the codecs in `prefs`, in the order of
    /// `prefs` (telephone-event kept after them when `dtmf`). A section where nothing
    /// is left is rejected with port 0. Returns whether some audio stays active.
    pub fn filter_codecs(&mut self, prefs: &[CodecSpec], dtmf: bool) -> bool {
        for m in self.media_mut() {
            if m.kind() != "audio" || !m.line().is_rtp() || m.port() == 0 {
                continue;
            }
            let codecs = m.codecs();
            let mut keep: Vec<u8> = prefs
                .iter()
                .filter_map(|p| codecs.iter().find(|c| p.matches(c)).map(|c| c.pt))
                .collect();
            if keep.is_empty() {
                m.set_port(0);
                continue;
            }
            if dtmf {
                let rates: Vec<u32> = codecs
                    .iter()
                    .filter(|c| keep.contains(&c.pt))
                    .map(|c| c.rate)
                    .collect();
                keep.extend(
                    codecs
                        .iter()
                        .filter(|c| c.is_telephone_event() && rates.contains(&c.rate))
                        .map(|c| c.pt)
                        .take(1),
                );
            }
            m.retain_payload_types(&keep);
        }
        self.has_active_audio()
    }
}
