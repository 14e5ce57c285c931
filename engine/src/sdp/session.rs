//! A session description (RFC 4566) kept as its lines: every line the switch does not
//! understand is printed back as it came, so parse → print is byte-exact.

use std::fmt;
use std::net::IpAddr;

use super::fields::{Connection, Direction, MediaLine, Origin};
use super::media::{attributes, direction_of, MediaSection};
use crate::error::{Error, Result};

/// The largest description the parser accepts (a SIP message is smaller anyway).
pub const MAX_SDP_SIZE: usize = 16_384;

/// One `<type>=<value>` line and the line ending it was written with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub kind: u8,
    pub value: String,
    /// `"\r\n"`, `"\n"`, or `""` for a last line without ending.
    pub(crate) eol: &'static str,
}

impl Line {
    pub(crate) fn new(kind: u8, value: String, eol: &'static str) -> Line {
        Line { kind, value, eol }
    }

    fn print(&self, out: &mut Vec<u8>) {
        out.push(self.kind);
        out.push(b'=');
        out.extend_from_slice(self.value.as_bytes());
        out.extend_from_slice(self.eol.as_bytes());
    }
}

/// A parsed session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sdp {
    /// The session-level lines, `v=` first.
    pub(crate) session: Vec<Line>,
    pub(crate) media: Vec<MediaSection>,
    /// Blank lines after the last line, kept for the round trip.
    pub(crate) trailer: String,
    /// The line ending for lines the switch adds.
    pub(crate) eol: &'static str,
}

impl Sdp {
    /// Parses a description; CRLF and bare LF line endings are both accepted.
    pub fn parse(bytes: &[u8]) -> Result<Sdp> {
        if bytes.len() > MAX_SDP_SIZE {
            return Err(Error::BadSdp("description too large"));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| Error::BadSdp("not UTF-8"))?;
        let mut sdp = Sdp {
            session: Vec::new(),
            media: Vec::new(),
            trailer: String::new(),
            eol: "\r\n",
        };
        let mut rest = text;
        while !rest.is_empty() {
            let (line, eol, next) = match rest.find('\n') {
                Some(nl) if nl > 0 && rest.as_bytes()[nl - 1] == b'\r' => {
                    (&rest[..nl - 1], "\r\n", &rest[nl + 1..])
                }
                Some(nl) => (&rest[..nl], "\n", &rest[nl + 1..]),
                None => (rest, "", ""),
            };
            if line.is_empty() {
                if next.bytes().all(|c| c == b'\r' || c == b'\n') {
                    sdp.trailer = rest.to_owned();
                    break;
                }
                return Err(Error::BadSdp("empty line"));
            }
            let b = line.as_bytes();
            if b.len() < 2 || !b[0].is_ascii_lowercase() || b[1] != b'=' {
                return Err(Error::BadSdp("line is not <type>=<value>"));
            }
            if line.contains('\r') {
                return Err(Error::BadSdp("stray CR in line"));
            }
            let (kind, value) = (b[0], &line[2..]);
            if sdp.session.is_empty() {
                if line != "v=0" {
                    return Err(Error::BadSdp("first line must be v=0"));
                }
                sdp.eol = if eol.is_empty() { "\r\n" } else { eol };
            }
            match kind {
                b'o' => drop(Origin::parse(value)?),
                b'c' => drop(Connection::parse(value)?),
                _ => {}
            }
            let l = Line::new(kind, value.to_owned(), eol);
            if kind == b'm' {
                let m = MediaLine::parse(value)?;
                sdp.media.push(MediaSection { lines: vec![l], m });
            } else if let Some(section) = sdp.media.last_mut() {
                section.lines.push(l);
            } else {
                sdp.session.push(l);
            }
            rest = next;
        }
        if sdp.session.is_empty() {
            return Err(Error::BadSdp("empty description"));
        }
        if !sdp.session.iter().any(|l| l.kind == b'o') {
            return Err(Error::BadSdp("missing o= line"));
        }
        Ok(sdp)
    }

    /// A new description with `v=`, `o=`, `s=-`, `c=` and `t=0 0`, and no media.
    pub fn new(origin: &Origin, addr: IpAddr) -> Sdp {
        let eol = "\r\n";
        Sdp {
            session: vec![
                Line::new(b'v', "0".into(), eol),
                Line::new(b'o', origin.to_string(), eol),
                Line::new(b's', "-".into(), eol),
                Line::new(b'c', Connection::new(addr).to_string(), eol),
                Line::new(b't', "0 0".into(), eol),
            ],
            media: Vec::new(),
            trailer: String::new(),
            eol,
        }
    }

    pub fn print(&self, out: &mut Vec<u8>) {
        let mut lines = self
            .session
            .iter()
            .chain(self.media.iter().flat_map(|m| &m.lines))
            .peekable();
        while let Some(l) = lines.next() {
            l.print(out);
            // A line that ended the input without a line ending is no longer last once
            // lines were added after it.
            if l.eol.is_empty() && lines.peek().is_some() {
                out.extend_from_slice(self.eol.as_bytes());
            }
        }
        out.extend_from_slice(self.trailer.as_bytes());
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        self.print(&mut out);
        out
    }

    // ----- getters -----

    pub fn session_lines(&self) -> &[Line] {
        &self.session
    }

    pub fn media(&self) -> &[MediaSection] {
        &self.media
    }

    pub fn media_mut(&mut self) -> &mut [MediaSection] {
        &mut self.media
    }

    pub fn origin(&self) -> Option<Origin> {
        self.session
            .iter()
            .find(|l| l.kind == b'o')
            .and_then(|l| Origin::parse(&l.value).ok())
    }

    /// The session-level `c=` line.
    pub fn connection(&self) -> Option<Connection> {
        self.session
            .iter()
            .find(|l| l.kind == b'c')
            .and_then(|l| Connection::parse(&l.value).ok())
    }

    /// Where the media of section `index` goes: its own `c=` or the session's.
    pub fn media_connection(&self, index: usize) -> Option<Connection> {
        self.media
            .get(index)?
            .connection()
            .or_else(|| self.connection())
    }

    /// Session-level attribute values `a=<name>:<value>`.
    pub fn attributes<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> {
        attributes(&self.session, name)
    }

    /// The effective direction of section `index` (media level, then session level,
    /// then sendrecv).
    pub fn direction(&self, index: usize) -> Direction {
        self.media
            .get(index)
            .and_then(MediaSection::direction)
            .or_else(|| direction_of(&self.session))
            .unwrap_or_default()
    }

    /// True when some audio section has a non-zero port.
    pub fn has_active_audio(&self) -> bool {
        self.active_audio().is_some()
    }

    /// The first audio section not rejected (port 0).
    pub fn active_audio(&self) -> Option<&super::media::MediaSection> {
        self.media
            .iter()
            .find(|m| m.kind() == "audio" && m.port() != 0)
    }

    // ----- rewriting for anchored media -----

    /// Replaces the origin line.
    pub fn set_origin(&mut self, origin: &Origin) {
        if let Some(l) = self.session.iter_mut().find(|l| l.kind == b'o') {
            l.value = origin.to_string();
        }
    }

    /// Adds one to the origin's session version (RFC 3264 §8: every changed offer).
    pub fn bump_version(&mut self) {
        if let Some(mut o) = self.origin() {
            o.version = o.version.wrapping_add(1);
            self.set_origin(&o);
        }
    }

    /// Points every connection line (and the origin's address) at `addr`. A session
    /// `c=` line is added when the description has none.
    pub fn set_connection_address(&mut self, addr: IpAddr) {
        let c = Connection::new(addr);
        let mut session_c = false;
        for l in &mut self.session {
            if l.kind == b'c' {
                l.value = c.to_string();
                session_c = true;
            }
        }
        if let Some(mut o) = self.origin() {
            o.addrtype = c.addrtype.clone();
            o.address = c.address.clone();
            self.set_origin(&o);
        }
        for m in &mut self.media {
            if m.has_connection_line() {
                m.set_connection(&c);
            }
        }
        if !session_c {
            // RFC 4566 §5: c= comes before b=, t= and the attributes.
            let at = self
                .session
                .iter()
                .position(|l| matches!(l.kind, b'b' | b't' | b'r' | b'z' | b'k' | b'a'))
                .unwrap_or(self.session.len());
            self.session
                .insert(at, Line::new(b'c', c.to_string(), self.eol));
        }
    }

    /// Sets the port of section `index`; rejected sections (port 0) stay rejected.
    pub fn set_media_port(&mut self, index: usize, port: u16) {
        if let Some(m) = self.media.get_mut(index) {
            if m.port() != 0 {
                m.set_port(port);
            }
        }
    }

    /// Everything that anchors the media at the switch: connection address, the port
    /// of each section (`ports[i]` for section `i`), and a new origin version.
    pub fn anchor(&mut self, addr: IpAddr, ports: &[u16]) {
        self.set_connection_address(addr);
        for (i, port) in ports.iter().enumerate() {
            self.set_media_port(i, *port);
        }
        self.bump_version();
    }

    /// Sets the direction of every section (a session-level attribute is removed so the
    /// media-level ones decide).
    pub fn set_direction(&mut self, dir: Direction) {
        self.session
            .retain(|l| l.kind != b'a' || Direction::parse(&l.value).is_none());
        for m in &mut self.media {
            m.set_direction(dir);
        }
    }

    /// Puts every section on hold (RFC 3264 §8.4) or takes it off hold.
    pub fn set_hold(&mut self, hold: bool) {
        let dirs: Vec<Direction> = (0..self.media.len()).map(|i| self.direction(i)).collect();
        self.session
            .retain(|l| l.kind != b'a' || Direction::parse(&l.value).is_none());
        for (m, d) in self.media.iter_mut().zip(dirs) {
            m.set_direction(if hold { d.hold() } else { d.resume() });
        }
    }

    pub(crate) fn push_media(&mut self, m: MediaSection) {
        self.media.push(m);
    }
}

impl fmt::Display for Sdp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}
