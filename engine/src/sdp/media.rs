//! One media description (`m=` and the lines up to the next `m=`) and its attributes.

use super::codec::{static_codec, Codec, RtpMap};
use super::fields::{Connection, Direction, MediaLine};
use super::session::Line;

/// A media description; its first line is always the `m=` line (checked at parse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSection {
    pub(crate) lines: Vec<Line>,
    /// The parsed `m=` line, kept in step with `lines[0]`.
    pub(crate) m: MediaLine,
}

impl MediaSection {
    pub(crate) fn new(m: MediaLine, eol: &'static str) -> MediaSection {
        MediaSection {
            lines: vec![Line::new(b'm', m.to_string(), eol)],
            m,
        }
    }

    pub fn line(&self) -> &MediaLine {
        &self.m
    }

    pub fn kind(&self) -> &str {
        &self.m.kind
    }

    pub fn port(&self) -> u16 {
        self.m.port
    }

    pub fn proto(&self) -> &str {
        &self.m.proto
    }

    pub fn payload_types(&self) -> Vec<u8> {
        self.m.payload_types()
    }

    /// Every line of this section, `m=` first.
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// A media-level `c=` line, if it has one and it parses.
    pub fn connection(&self) -> Option<Connection> {
        self.lines
            .iter()
            .find(|l| l.kind == b'c')
            .and_then(|l| Connection::parse(&l.value).ok())
    }

    /// The values of `a=<name>:<value>` attributes, in order.
    pub fn attributes<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> {
        attributes(&self.lines, name)
    }

    /// True when the section holds the flag attribute `a=<name>`.
    pub fn has_flag(&self, name: &str) -> bool {
        self.lines.iter().any(|l| l.kind == b'a' && l.value == name)
    }

    pub fn rtpmap(&self, pt: u8) -> Option<RtpMap> {
        self.attributes("rtpmap")
            .filter_map(RtpMap::parse)
            .find(|m| m.pt == pt)
    }

    pub fn fmtp(&self, pt: u8) -> Option<&str> {
        self.attributes("fmtp").find_map(|v| {
            let (p, params) = v.split_once(' ').unwrap_or((v, ""));
            (p.parse::<u8>().ok() == Some(pt)).then_some(params)
        })
    }

    pub fn ptime(&self) -> Option<u32> {
        self.attributes("ptime").find_map(|v| v.trim().parse().ok())
    }

    /// The media-level direction attribute, if any (see `Sdp::direction` for the
    /// effective one).
    pub fn direction(&self) -> Option<Direction> {
        direction_of(&self.lines)
    }

    /// The payload formats in `m=` order, each resolved through its rtpmap or the
    /// static table; formats the switch cannot name are left out.
    pub fn codecs(&self) -> Vec<Codec> {
        self.payload_types()
            .into_iter()
            .filter_map(|pt| {
                let mut c = match self.rtpmap(pt) {
                    Some(m) => Codec {
                        pt,
                        name: m.name,
                        rate: m.rate,
                        channels: m.channels.unwrap_or(1),
                        fmtp: None,
                    },
                    None => static_codec(pt)?,
                };
                c.fmtp = self.fmtp(pt).map(str::to_owned);
                Some(c)
            })
            .collect()
    }

    /// The telephone-event format (RFC 4733), if offered.
    pub fn telephone_event(&self) -> Option<Codec> {
        self.codecs().into_iter().find(Codec::is_telephone_event)
    }

    // ----- mutators -----

    pub fn set_port(&mut self, port: u16) {
        self.m.port = port;
        self.sync_m();
    }

    /// Sets this section's direction attribute, replacing any there is.
    pub fn set_direction(&mut self, dir: Direction) {
        let eol = self.lines[0].eol;
        set_direction_in(&mut self.lines, dir, eol, 1);
    }

    /// Keeps only the payload types in `keep`, in that order, and drops the rtpmap and
    /// fmtp lines of the others. Non-RTP sections are left alone.
    pub fn retain_payload_types(&mut self, keep: &[u8]) {
        if !self.m.is_rtp() {
            return;
        }
        let present = self.payload_types();
        self.m.formats = keep
            .iter()
            .filter(|pt| present.contains(pt))
            .map(|pt| pt.to_string())
            .collect();
        let kept = self.payload_types();
        self.lines.retain(|l| {
            let Some(pt) = pt_attribute(l) else {
                return true;
            };
            kept.contains(&pt)
        });
        self.sync_m();
    }

    /// Replaces (or adds, after the `m=` line) the media-level `c=` line.
    pub fn set_connection(&mut self, c: &Connection) {
        match self.lines.iter_mut().find(|l| l.kind == b'c') {
            Some(l) => l.value = c.to_string(),
            None => {
                let eol = self.lines[0].eol;
                self.lines.insert(1, Line::new(b'c', c.to_string(), eol));
            }
        }
    }

    pub(crate) fn has_connection_line(&self) -> bool {
        self.lines.iter().any(|l| l.kind == b'c')
    }

    pub(crate) fn push(&mut self, kind: u8, value: String) {
        let eol = self.lines[0].eol;
        self.lines.push(Line::new(kind, value, eol));
    }

    pub(crate) fn sync_m(&mut self) {
        self.lines[0].value = self.m.to_string();
    }
}

/// The payload type an `a=rtpmap:` or `a=fmtp:` line is about.
fn pt_attribute(l: &Line) -> Option<u8> {
    if l.kind != b'a' {
        return None;
    }
    let rest = l
        .value
        .strip_prefix("rtpmap:")
        .or_else(|| l.value.strip_prefix("fmtp:"))?;
    rest.split(' ').next()?.parse().ok()
}

pub(crate) fn attributes<'s>(lines: &'s [Line], name: &'s str) -> impl Iterator<Item = &'s str> {
    lines
        .iter()
        .filter(|l| l.kind == b'a')
        .filter_map(move |l| {
            let (n, v) = l.value.split_once(':')?;
            (n == name).then_some(v)
        })
}

pub(crate) fn direction_of(lines: &[Line]) -> Option<Direction> {
    lines
        .iter()
        .filter(|l| l.kind == b'a')
        .find_map(|l| Direction::parse(&l.value))
}

/// Replaces the direction attribute in `lines`, or inserts one: after the last `a=`
/// line, or at the end, but never before `min_index`.
pub(crate) fn set_direction_in(
    lines: &mut Vec<Line>,
    dir: Direction,
    eol: &'static str,
    min_index: usize,
) {
    let mut found = false;
    lines.retain_mut(|l| {
        if l.kind != b'a' || Direction::parse(&l.value).is_none() {
            return true;
        }
        if found {
            return false;
        }
        found = true;
        l.value = dir.as_str().into();
        true
    });
    if !found {
        let at = lines.len().max(min_index);
        lines.insert(at, Line::new(b'a', dir.as_str().into(), eol));
    }
}
