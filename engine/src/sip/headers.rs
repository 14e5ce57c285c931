//! Typed views of the headers the switch reads. Each borrows from the message text and
//! is parsed on demand from the unfolded header value.

use super::scan::{is_token, is_uri_char, parse_bounded, Scanner};
use super::uri::Uri;
use crate::error::{bad, Error};

/// Header parameters (`;tag=x;expires=60`), kept as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Params<'a> {
    pub raw: &'a str,
}

impl<'a> Params<'a> {
    /// Scans `*(SEMI generic-param)` and returns them as written.
    pub fn scan(sc: &mut Scanner<'a>) -> Result<Params<'a>, Error> {
        let start = sc.pos();
        while sc.eat_sep(b';') {
            sc.token()?;
            if sc.eat_sep(b'=') {
                sc.param_value()?;
            }
        }
        Ok(Params {
            raw: sc.slice(start),
        })
    }

    /// Iterates `(name, value)`; a parameter without value yields `""`.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        let mut sc = Scanner::new(self.raw, "params");
        std::iter::from_fn(move || {
            if !sc.eat_sep(b';') {
                return None;
            }
            let name = sc.token().ok()?;
            let value = if sc.eat_sep(b'=') {
                sc.param_value().ok()?
            } else {
                ""
            };
            Some((name, value))
        })
    }

    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

/// `name-addr` or `addr-spec` with header parameters (From, To, Contact, Route …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// Display name as written (quoted strings keep their quotes).
    pub display: Option<&'a str>,
    pub uri: Uri<'a>,
    pub params: Params<'a>,
}

impl<'a> NameAddr<'a> {
    pub fn parse(value: &'a str, header: &'static str) -> Result<NameAddr<'a>, Error> {
        let mut sc = Scanner::new(value, header);
        let na = Self::scan(&mut sc)?;
        sc.skip_ws();
        if !sc.at_end() {
            return Err(sc.err("unexpected text after address"));
        }
        Ok(na)
    }

    /// Scans one address from the cursor (stops before a `,` or the end).
    pub fn scan(sc: &mut Scanner<'a>) -> Result<NameAddr<'a>, Error> {
        sc.skip_ws();
        let mut display = None;
        let angle = match sc.peek() {
            Some(b'"') => {
                display = Some(sc.quoted()?);
                sc.skip_ws();
                if sc.peek() != Some(b'<') {
                    return Err(sc.err("expected < after display name"));
                }
                true
            }
            Some(b'<') => true,
            _ => {
                // Either display-name tokens followed by `<`, or an addr-spec.
                let save = sc.clone();
                let start = sc.pos();
                let mut end = start;
                loop {
                    let t = sc.take_while(is_token);
                    if t.is_empty() {
                        break;
                    }
                    end = sc.pos();
                    sc.skip_ws();
                }
                if sc.peek() == Some(b'<') && end > start {
                    display = Some(&sc.slice(start)[..end - start]);
                    true
                } else {
                    *sc = save;
                    false
                }
            }
        };
        let uri = if angle {
            sc.bump();
            let start = sc.pos();
            sc.take_while(|c| c != b'>' && is_uri_char(c));
            let text = sc.slice(start);
            if !sc.eat(b'>') {
                return Err(sc.err("unterminated <URI>"));
            }
            Uri::parse(text, header_of(sc))?
        } else {
            let start = sc.pos();
            sc.take_while(|c| is_uri_char(c) && c != b';' && c != b',' && c != b'?');
            let text = sc.slice(start);
            if sc.peek() == Some(b'?') {
                return Err(sc.err("URI with headers must be enclosed in <>"));
            }
            Uri::parse(text, header_of(sc))?
        };
        let params = Params::scan(sc)?;
        Ok(NameAddr {
            display,
            uri,
            params,
        })
    }

    pub fn tag(&self) -> Option<&'a str> {
        self.params.get("tag")
    }
}

fn header_of(sc: &Scanner<'_>) -> &'static str {
    match sc.err("") {
        Error::BadHeader { header, .. } => header,
        _ => "header",
    }
}

/// One Via value (RFC 3261 §20.42).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via<'a> {
    /// The transport token (`UDP`, `TCP`, `TLS`, …) as written.
    pub transport: &'a str,
    pub host: &'a str,
    pub port: Option<u16>,
    pub params: Params<'a>,
}

impl<'a> Via<'a> {
    /// Parses every Via value of one header line.
    pub fn parse_list(value: &'a str) -> Result<Vec<Via<'a>>, Error> {
        let mut sc = Scanner::new(value, "Via");
        let mut out = Vec::with_capacity(2);
        loop {
            out.push(Self::scan(&mut sc)?);
            if !sc.eat_sep(b',') {
                break;
            }
        }
        sc.skip_ws();
        if !sc.at_end() {
            return Err(sc.err("unexpected text"));
        }
        Ok(out)
    }

    /// Checks every Via value of one header line without collecting them.
    pub fn validate(sc: &mut Scanner<'a>) -> Result<(), Error> {
        loop {
            Self::scan(sc)?;
            if !sc.eat_sep(b',') {
                break;
            }
        }
        sc.skip_ws();
        if sc.at_end() {
            Ok(())
        } else {
            Err(sc.err("unexpected text"))
        }
    }

    /// The first Via value of a header line.
    pub fn parse_first(value: &'a str) -> Result<Via<'a>, Error> {
        let mut sc = Scanner::new(value, "Via");
        Self::scan(&mut sc)
    }

    fn scan(sc: &mut Scanner<'a>) -> Result<Via<'a>, Error> {
        sc.skip_ws();
        let proto = sc.token()?;
        if !proto.eq_ignore_ascii_case("SIP") {
            return Err(sc.err("protocol is not SIP"));
        }
        sc.expect_sep(b'/', "expected /")?;
        if sc.token()? != "2.0" {
            return Err(sc.err("unsupported SIP version"));
        }
        sc.expect_sep(b'/', "expected /")?;
        let transport = sc.token()?;
        sc.skip_ws();
        let host = if sc.peek() == Some(b'[') {
            let start = sc.pos();
            sc.take_while(|c| c != b']');
            if !sc.eat(b']') {
                return Err(sc.err("unterminated IPv6 reference"));
            }
            sc.slice(start)
        } else {
            sc.take_while(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
        };
        if host.is_empty() {
            return Err(sc.err("missing sent-by host"));
        }
        let port = if sc.eat_sep(b':') {
            let p = sc.take_while(|c| c.is_ascii_digit());
            Some(parse_bounded(p, 65535, "Via")? as u16)
        } else {
            None
        };
        let params = Params::scan(sc)?;
        Ok(Via {
            transport,
            host,
            port,
            params,
        })
    }

    /// The sent-by host without IPv6 brackets.
    pub fn host_bare(&self) -> &'a str {
        self.host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(self.host)
    }

    pub fn branch(&self) -> Option<&'a str> {
        self.params.get("branch")
    }

    /// Where the hop that wrote this Via sent its request from, as the next hop
    /// recorded it (`received` and `rport`, RFC 3261 §18.2.1, RFC 3581), else its
    /// sent-by (port 5060 by default). `None` when no IP address is given.
    pub fn source(&self) -> Option<std::net::SocketAddr> {
        let host = self.params.get("received").unwrap_or(self.host_bare());
        let ip: std::net::IpAddr = host.trim_matches(['[', ']']).parse().ok()?;
        let port = self
            .params
            .get("rport")
            .and_then(|p| p.parse().ok())
            .or(self.port)
            .unwrap_or(5060);
        Some(std::net::SocketAddr::new(ip, port))
    }

    /// True when the branch carries the RFC 3261 magic cookie.
    pub fn is_rfc3261(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with("z9hG4bK"))
    }
}

/// `CSeq: 4711 INVITE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    pub seq: u32,
    pub method: &'a str,
}

impl<'a> CSeq<'a> {
    pub fn parse(value: &'a str) -> Result<CSeq<'a>, Error> {
        let mut sc = Scanner::new(value, "CSeq");
        sc.skip_ws();
        let n = sc.take_while(|c| c.is_ascii_digit());
        let seq = parse_bounded(n, u32::MAX as u64, "CSeq")? as u32;
        sc.skip_ws();
        let method = sc.token()?;
        sc.skip_ws();
        if !sc.at_end() {
            return Err(sc.err("unexpected text"));
        }
        Ok(CSeq { seq, method })
    }
}

/// One Contact value.
pub type Contact<'a> = NameAddr<'a>;

/// The Contact header: `*` or a list of addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactList<'a> {
    Star,
    List(Vec<Contact<'a>>),
}

impl<'a> ContactList<'a> {
    /// Appends the contacts of one Contact line to `out`; `Ok(true)` for `*`.
    pub fn parse_into(value: &'a str, out: &mut Vec<Contact<'a>>) -> Result<bool, Error> {
        Self::for_each(value, |c| out.push(c))
    }

    /// Checks one Contact line without keeping what it reads.
    pub fn validate(value: &'a str) -> Result<(), Error> {
        Self::for_each(value, |_| {}).map(|_| ())
    }

    fn for_each(value: &'a str, mut f: impl FnMut(Contact<'a>)) -> Result<bool, Error> {
        if value.trim() == "*" {
            return Ok(true);
        }
        let mut sc = Scanner::new(value, "Contact");
        loop {
            let c = NameAddr::scan(&mut sc)?;
            if let Some(e) = c.params.get("expires") {
                parse_bounded(e, u32::MAX as u64, "Contact")?;
            }
            f(c);
            if !sc.eat_sep(b',') {
                break;
            }
        }
        sc.skip_ws();
        if !sc.at_end() {
            return Err(sc.err("unexpected text"));
        }
        Ok(false)
    }
}

/// Parses a delta-seconds value (Expires, Min-Expires, Retry-After's first token).
pub fn delta_seconds(value: &str, header: &'static str) -> Result<u32, Error> {
    let mut sc = Scanner::new(value, header);
    sc.skip_ws();
    let n = sc.take_while(|c| c.is_ascii_digit());
    let v = parse_bounded(n, u32::MAX as u64, header)? as u32;
    Ok(v)
}

/// Checks the Date header ends in GMT (RFC 3261 §20.17, RFC 4475 §3.1.2.12).
pub fn check_date(value: &str) -> Result<(), Error> {
    if value.trim_end().ends_with(" GMT") {
        Ok(())
    } else {
        Err(bad("Date", "time zone must be GMT"))
    }
}

/// Checks each Warning value starts with a three-digit code.
pub fn check_warning(value: &str) -> Result<(), Error> {
    // Only the first code is checked; warning texts may hold commas inside quotes.
    let code = value.split_whitespace().next().unwrap_or("");
    if code.len() != 3 || !code.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad("Warning", "warn-code must have three digits"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_addr_forms() {
        let na =
            NameAddr::parse("\"Alice \\\"A\\\"\" <sip:alice@a.example>;tag=1", "From").unwrap();
        assert_eq!(na.display, Some("\"Alice \\\"A\\\"\""));
        assert_eq!(na.uri.user, Some("alice"));
        assert_eq!(na.tag(), Some("1"));
        let na = NameAddr::parse("Bob Smith<sip:bob@b.example>", "To").unwrap();
        assert_eq!(na.display, Some("Bob Smith"));
        let na = NameAddr::parse("sip:bob@b.example ; tag = 7", "To").unwrap();
        assert_eq!(na.tag(), Some("7"));
        assert_eq!(na.uri.raw, "sip:bob@b.example");
    }

    #[test]
    fn name_addr_rejects() {
        for s in [
            "\"open <sip:a@b>",
            "Bell, Alexander <sip:a@b>",
            "< sip:a@b >",
            "sip:a@b?Route=x",
        ] {
            assert!(NameAddr::parse(s, "To").is_err(), "{s}");
        }
    }

    #[test]
    fn a_via_names_where_its_hop_sent_from() {
        let src = |v: &str| Via::parse_first(v).unwrap().source();
        // As the next hop saw it (behind a NAT).
        assert_eq!(
            src("SIP/2.0/UDP 192.168.1.5:5062;branch=z9hG4bKa;received=203.0.113.7;rport=40000"),
            Some("203.0.113.7:40000".parse().unwrap())
        );
        // As sent: no `received`, an empty `rport`, no port.
        assert_eq!(
            src("SIP/2.0/UDP 198.51.100.2;branch=z9hG4bKb;rport"),
            Some("198.51.100.2:5060".parse().unwrap())
        );
        assert_eq!(
            src("SIP/2.0/UDP [2001:db8::1]:5070;branch=z9hG4bKc"),
            Some("[2001:db8::1]:5070".parse().unwrap())
        );
        // A name and no `received`: unknown.
        assert_eq!(src("SIP/2.0/UDP phone.example;branch=z9hG4bKd"), None);
    }

    #[test]
    fn via_list_with_lws() {
        let v = Via::parse_list(
            "SIP / 2.0 / UDP 10.0.0.1 : 5062 ; branch = z9hG4bKx , SIP/2.0/TCP [::1];rport",
        )
        .unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].port, Some(5062));
        assert_eq!(v[0].branch(), Some("z9hG4bKx"));
        assert_eq!(v[1].host, "[::1]");
        assert_eq!(v[1].params.get("rport"), Some(""));
        assert!(Via::parse_list("SIP/2.0/UDP 192.0.2.15;;,;,,").is_err());
    }

    #[test]
    fn cseq_bounds() {
        assert_eq!(CSeq::parse("0009\r\n INVITE").unwrap().seq, 9);
        assert!(CSeq::parse("36893488147419103232 REGISTER").is_err());
    }
}
