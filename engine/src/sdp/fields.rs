//! Typed views of the SDP lines the switch reads and writes (RFC 4566 §5): origin,
//! connection data, media descriptions, and the direction attributes of RFC 3264.

use std::fmt;
use std::net::IpAddr;

use crate::error::{Error, Result};

fn bad(reason: &'static str) -> Error {
    Error::BadSdp(reason)
}

/// True for the characters of a `token` in RFC 4566 §9 (no space, no control).
fn is_field(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_graphic())
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub username: String,
    pub session_id: String,
    pub version: u64,
    pub nettype: String,
    pub addrtype: String,
    pub address: String,
}

impl Origin {
    pub fn parse(value: &str) -> Result<Origin> {
        let mut f = value.split(' ');
        let mut next = || f.next().filter(|s| is_field(s)).ok_or(bad("bad o= line"));
        let username = next()?.to_owned();
        let session_id = next()?.to_owned();
        let version_text = next()?;
        if !version_text.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad("o= version is not a number"));
        }
        let version = version_text
            .parse()
            .map_err(|_| bad("o= version too large"))?;
        let (nettype, addrtype, address) = (next()?.into(), next()?.into(), next()?.into());
        if f.next().is_some() {
            return Err(bad("extra fields in o= line"));
        }
        Ok(Origin {
            username,
            session_id,
            version,
            nettype,
            addrtype,
            address,
        })
    }

    /// An origin for a description the switch writes itself.
    pub fn new(username: &str, session_id: &str, version: u64, address: IpAddr) -> Origin {
        Origin {
            username: username.into(),
            session_id: session_id.into(),
            version,
            nettype: "IN".into(),
            addrtype: addrtype_of(address).into(),
            address: address.to_string(),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {}",
            self.username, self.session_id, self.version, self.nettype, self.addrtype, self.address
        )
    }
}

/// `IP4` or `IP6` for an address.
pub fn addrtype_of(addr: IpAddr) -> &'static str {
    match addr {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

/// `c=<nettype> <addrtype> <connection-address>`; the address keeps any `/ttl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub nettype: String,
    pub addrtype: String,
    pub address: String,
}

impl Connection {
    pub fn parse(value: &str) -> Result<Connection> {
        let mut f = value.split(' ');
        let mut next = || f.next().filter(|s| is_field(s)).ok_or(bad("bad c= line"));
        let c = Connection {
            nettype: next()?.into(),
            addrtype: next()?.into(),
            address: next()?.into(),
        };
        if f.next().is_some() {
            return Err(bad("extra fields in c= line"));
        }
        Ok(c)
    }

    pub fn new(addr: IpAddr) -> Connection {
        Connection {
            nettype: "IN".into(),
            addrtype: addrtype_of(addr).into(),
            address: addr.to_string(),
        }
    }

    /// The address as an IP address (without a multicast `/ttl`), when it is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.address.split('/').next()?.parse().ok()
    }
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.nettype, self.addrtype, self.address)
    }
}

/// `m=<media> <port>[/<number of ports>] <proto> <fmt> ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaLine {
    /// `audio`, `video`, `image` …
    pub kind: String,
    pub port: u16,
    pub port_count: Option<u16>,
    /// `RTP/AVP`, `RTP/SAVP`, `udptl` …
    pub proto: String,
    /// The formats as written (payload type numbers for RTP).
    pub formats: Vec<String>,
}

impl MediaLine {
    pub fn parse(value: &str) -> Result<MediaLine> {
        let mut f = value.split(' ');
        let kind = f.next().filter(|s| is_field(s)).ok_or(bad("bad m= line"))?;
        let port_text = f.next().ok_or(bad("m= line without port"))?;
        let (port, count) = match port_text.split_once('/') {
            Some((p, n)) => (p, Some(n)),
            None => (port_text, None),
        };
        let num = |s: &str| -> Result<u16> {
            if s.is_empty() || s.len() > 5 || !s.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad("bad port in m= line"));
            }
            s.parse().map_err(|_| bad("bad port in m= line"))
        };
        let port = num(port)?;
        let port_count = count.map(num).transpose()?;
        let proto = f.next().filter(|s| is_field(s)).ok_or(bad("bad m= line"))?;
        let mut formats = Vec::new();
        for fmt in f {
            if !is_field(fmt) {
                return Err(bad("bad format in m= line"));
            }
            formats.push(fmt.to_owned());
        }
        Ok(MediaLine {
            kind: kind.into(),
            port,
            port_count,
            proto: proto.into(),
            formats,
        })
    }

    /// True for RTP profiles, whose formats are payload type numbers.
    pub fn is_rtp(&self) -> bool {
        self.proto.to_ascii_uppercase().starts_with("RTP/")
    }

    /// The formats that are valid RTP payload types (0–127), in order.
    pub fn payload_types(&self) -> Vec<u8> {
        if !self.is_rtp() {
            return Vec::new();
        }
        self.formats
            .iter()
            .filter_map(|f| f.parse::<u8>().ok())
            .filter(|pt| *pt < 128)
            .collect()
    }
}

impl fmt::Display for MediaLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.port)?;
        if let Some(n) = self.port_count {
            write!(f, "/{n}")?;
        }
        write!(f, " {}", self.proto)?;
        for fmt in &self.formats {
            write!(f, " {fmt}")?;
        }
        Ok(())
    }
}

/// The media direction attributes (RFC 3264 §5.1); `SendRecv` when none is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn parse(attr: &str) -> Option<Direction> {
        match attr {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction of an offer that puts this stream on hold (RFC 3264 §8.4): a
    /// stream we received on becomes send-only, one we only sent on becomes inactive.
    pub fn hold(self) -> Direction {
        match self {
            Direction::SendRecv | Direction::SendOnly => Direction::SendOnly,
            Direction::RecvOnly | Direction::Inactive => Direction::Inactive,
        }
    }

    /// The direction of an offer that takes this stream off hold.
    pub fn resume(self) -> Direction {
        match self {
            Direction::SendRecv | Direction::SendOnly => Direction::SendRecv,
            Direction::RecvOnly | Direction::Inactive => Direction::RecvOnly,
        }
    }

    /// The answer's direction to an offer with this direction, given what the answerer
    /// wants itself (RFC 3264 §6.1).
    pub fn answer(self, wanted: Direction) -> Direction {
        let send = self.receives() && wanted.sends();
        let recv = self.sends() && wanted.receives();
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_round_trips() {
        let o = Origin::parse("- 3724394400 3724394405 IN IP4 192.0.2.10").unwrap();
        assert_eq!(o.version, 3724394405);
        assert_eq!(o.to_string(), "- 3724394400 3724394405 IN IP4 192.0.2.10");
        assert!(Origin::parse("- 1 x IN IP4 h").is_err());
        assert!(Origin::parse("- 1 1 IN IP4").is_err());
        assert!(Origin::parse("- 1 99999999999999999999999 IN IP4 h").is_err());
    }

    #[test]
    fn media_line_forms() {
        let m = MediaLine::parse("audio 49170/2 RTP/AVP 0 8 101").unwrap();
        assert_eq!(m.port_count, Some(2));
        assert_eq!(m.payload_types(), vec![0, 8, 101]);
        assert_eq!(m.to_string(), "audio 49170/2 RTP/AVP 0 8 101");
        let t38 = MediaLine::parse("image 0 udptl t38").unwrap();
        assert!(t38.payload_types().is_empty());
        assert!(MediaLine::parse("audio 70000 RTP/AVP 0").is_err());
        assert!(MediaLine::parse("audio").is_err());
    }

    #[test]
    fn hold_and_answer_directions() {
        assert_eq!(Direction::SendRecv.hold(), Direction::SendOnly);
        assert_eq!(Direction::RecvOnly.hold(), Direction::Inactive);
        assert_eq!(Direction::SendOnly.resume(), Direction::SendRecv);
        assert_eq!(
            Direction::SendOnly.answer(Direction::SendRecv),
            Direction::RecvOnly
        );
        assert_eq!(
            Direction::Inactive.answer(Direction::SendRecv),
            Direction::Inactive
        );
        assert_eq!(
            Direction::SendRecv.answer(Direction::SendRecv),
            Direction::SendRecv
        );
    }
}
