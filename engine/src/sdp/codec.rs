//! RTP payload formats: the static payload types of RFC 3551 §6 the switch knows,
//! `a=rtpmap` values, and codec names matched by name and clock rate.

use std::fmt;

/// The name of the DTMF event format (RFC 4733).
pub const TELEPHONE_EVENT: &str = "telephone-event";

/// Static payload types by number: (pt, encoding name, clock rate).
const STATIC: &[(u8, &str, u32)] = &[
    (0, "PCMU", 8000),
    (3, "GSM", 8000),
    (4, "G723", 8000),
    (8, "PCMA", 8000),
    // G.722 samples at 16 kHz but is signalled at 8000 (RFC 3551 §4.5.2).
    (9, "G722", 8000),
    (18, "G729", 8000),
];

/// A codec as the switch configures it: name and clock rate (and channels).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecSpec {
    pub name: String,
    pub rate: u32,
    pub channels: u8,
}

impl CodecSpec {
    pub fn new(name: &str, rate: u32) -> CodecSpec {
        CodecSpec {
            name: name.into(),
            rate,
            channels: 1,
        }
    }

    pub fn pcmu() -> CodecSpec {
        Self::new("PCMU", 8000)
    }

    pub fn pcma() -> CodecSpec {
        Self::new("PCMA", 8000)
    }

    pub fn g722() -> CodecSpec {
        Self::new("G722", 8000)
    }

    /// The static payload type of this codec, if it has one.
    pub fn static_pt(&self) -> Option<u8> {
        STATIC
            .iter()
            .find(|(_, n, r)| n.eq_ignore_ascii_case(&self.name) && *r == self.rate)
            .map(|(pt, _, _)| *pt)
    }

    /// Same encoding name (case-insensitive), clock rate and channels.
    pub fn matches(&self, c: &Codec) -> bool {
        self.name.eq_ignore_ascii_case(&c.name)
            && self.rate == c.rate
            && self.channels == c.channels
    }
}

/// One payload format of a media description, with its rtpmap and fmtp resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codec {
    pub pt: u8,
    pub name: String,
    pub rate: u32,
    pub channels: u8,
    pub fmtp: Option<String>,
}

impl Codec {
    pub fn is_telephone_event(&self) -> bool {
        self.name.eq_ignore_ascii_case(TELEPHONE_EVENT)
    }

    pub fn spec(&self) -> CodecSpec {
        CodecSpec {
            name: self.name.clone(),
            rate: self.rate,
            channels: self.channels,
        }
    }

    /// The `a=rtpmap` value for this codec.
    pub fn rtpmap_value(&self) -> String {
        RtpMap {
            pt: self.pt,
            name: self.name.clone(),
            rate: self.rate,
            channels: (self.channels != 1).then_some(self.channels),
        }
        .to_string()
    }
}

/// The codec a static payload type stands for when no rtpmap names it.
pub fn static_codec(pt: u8) -> Option<Codec> {
    STATIC
        .iter()
        .find(|(p, _, _)| *p == pt)
        .map(|(pt, name, rate)| Codec {
            pt: *pt,
            name: (*name).into(),
            rate: *rate,
            channels: 1,
            fmtp: None,
        })
}

/// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    pub pt: u8,
    pub name: String,
    pub rate: u32,
    pub channels: Option<u8>,
}

impl RtpMap {
    /// Parses the value after `rtpmap:`; `None` when it does not follow the grammar.
    pub fn parse(value: &str) -> Option<RtpMap> {
        let (pt, enc) = value.split_once(' ')?;
        let pt: u8 = pt.parse().ok().filter(|pt| *pt < 128)?;
        let mut parts = enc.trim().split('/');
        let name = parts.next().filter(|n| !n.is_empty())?;
        let rate: u32 = parts.next()?.parse().ok()?;
        let channels = match parts.next() {
            Some(c) => Some(c.parse().ok()?),
            None => None,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(RtpMap {
            pt,
            name: name.into(),
            rate,
            channels,
        })
    }
}

impl fmt::Display for RtpMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.pt, self.name, self.rate)?;
        if let Some(c) = self.channels {
            write!(f, "/{c}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtpmap_and_static_table() {
        let m = RtpMap::parse("101 telephone-event/8000").unwrap();
        assert_eq!(
            (m.pt, m.name.as_str(), m.rate),
            (101, "telephone-event", 8000)
        );
        assert_eq!(
            RtpMap::parse("96 opus/48000/2").unwrap().to_string(),
            "96 opus/48000/2"
        );
        assert!(RtpMap::parse("200 x/8000").is_none());
        assert!(RtpMap::parse("96 opus").is_none());
        assert_eq!(static_codec(9).unwrap().name, "G722");
        assert_eq!(CodecSpec::pcma().static_pt(), Some(8));
        assert_eq!(CodecSpec::new("opus", 48000).static_pt(), None);
    }
}
