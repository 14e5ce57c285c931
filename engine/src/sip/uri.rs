//! SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966), borrowed from the message buffer.

use std::borrow::Cow;
use std::fmt;

use super::scan::is_uri_char;
use crate::error::{bad, Error};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriScheme {
    Sip,
    Sips,
    Tel,
    /// Any other absolute URI (`http:`, `isbn:`, `name:` …): kept, never routed.
    Other,
}

/// A URI as it stands in the message; every part borrows from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri<'a> {
    pub scheme: UriScheme,
    /// The whole URI text.
    pub raw: &'a str,
    /// User part (without password), still escaped; for tel: the number.
    pub user: Option<&'a str>,
    /// Host as written (IPv6 references keep their brackets); empty for tel: and others.
    pub host: &'a str,
    pub port: Option<u16>,
    /// The parameters including their leading `;`, e.g. `;transport=tcp;lr`.
    pub params: &'a str,
    /// The headers part after `?`, without the `?`.
    pub headers: Option<&'a str>,
}

impl<'a> Uri<'a> {
    /// Parses one URI; `header` names the header for error messages.
    pub fn parse(s: &'a str, header: &'static str) -> Result<Uri<'a>, Error> {
        if s.is_empty() || !s.bytes().all(is_uri_char) {
            return Err(bad(header, "invalid character in URI"));
        }
        let colon = s.find(':').ok_or(bad(header, "URI without scheme"))?;
        let scheme_text = &s[..colon];
        let rest = &s[colon + 1..];
        let scheme = if scheme_text.eq_ignore_ascii_case("sip") {
            UriScheme::Sip
        } else if scheme_text.eq_ignore_ascii_case("sips") {
            UriScheme::Sips
        } else if scheme_text.eq_ignore_ascii_case("tel") {
            UriScheme::Tel
        } else {
            let valid = scheme_text
                .bytes()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
                && scheme_text
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"+-.".contains(&c));
            if !valid || rest.is_empty() {
                return Err(bad(header, "invalid URI scheme"));
            }
            UriScheme::Other
        };
        match scheme {
            UriScheme::Sip | UriScheme::Sips => Self::parse_sip(s, scheme, rest, header),
            UriScheme::Tel => {
                let end = rest.find(';').unwrap_or(rest.len());
                let number = &rest[..end];
                if number.is_empty() {
                    return Err(bad(header, "tel URI without a number"));
                }
                check_params(&rest[end..], header)?;
                Ok(Uri {
                    scheme,
                    raw: s,
                    user: Some(number),
                    host: "",
                    port: None,
                    params: &rest[end..],
                    headers: None,
                })
            }
            UriScheme::Other => Ok(Uri {
                scheme,
                raw: s,
                user: None,
                host: "",
                port: None,
                params: "",
                headers: None,
            }),
        }
    }

    fn parse_sip(
        raw: &'a str,
        scheme: UriScheme,
        rest: &'a str,
        header: &'static str,
    ) -> Result<Uri<'a>, Error> {
        // The user part may hold `;`, `?` and `,` (RFC 4475 §3.1.1.2); it ends at the
        // first `@`. Parameters and headers follow the host.
        let (userinfo, after_user) = match rest.find('@') {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };
        let (hostpart, headers) = match after_user.find('?') {
            Some(q) => (&after_user[..q], Some(&after_user[q + 1..])),
            None => (after_user, None),
        };
        let user = match userinfo {
            Some(u) => {
                let user = u.split(':').next().unwrap_or(u);
                if user.is_empty() {
                    return Err(bad(header, "empty user part in URI"));
                }
                Some(user)
            }
            None => None,
        };
        let (hostport, params) = match hostpart.find(';') {
            Some(p) => (&hostpart[..p], &hostpart[p..]),
            None => (hostpart, ""),
        };
        let (host, port) = split_host_port(hostport, header)?;
        check_params(params, header)?;
        Ok(Uri {
            scheme,
            raw,
            user,
            host,
            port,
            params,
            headers,
        })
    }

    /// The user part with `%HH` escapes decoded.
    pub fn user_unescaped(&self) -> Option<Cow<'a, str>> {
        self.user.map(unescape)
    }

    /// The value of a URI parameter (`None` when absent, `Some("")` when it has no value).
    pub fn param(&self, name: &str) -> Option<&'a str> {
        find_param(self.params, name)
    }

    /// Host without IPv6 brackets, lower-cased comparison is up to the caller.
    pub fn host_bare(&self) -> &'a str {
        self.host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(self.host)
    }
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}

/// Splits `host[:port]`, accepting IPv6 references.
pub fn split_host_port<'a>(
    hostport: &'a str,
    header: &'static str,
) -> Result<(&'a str, Option<u16>), Error> {
    let (host, port_text) = if hostport.starts_with('[') {
        let close = hostport
            .find(']')
            .ok_or(bad(header, "unterminated IPv6 reference"))?;
        let host = &hostport[..=close];
        let after = &hostport[close + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(bad(header, "garbage after IPv6 reference")),
        };
        if !host[1..host.len() - 1]
            .bytes()
            .all(|c| c.is_ascii_hexdigit() || c == b':' || c == b'.')
        {
            return Err(bad(header, "invalid IPv6 address"));
        }
        (host, port)
    } else {
        match hostport.find(':') {
            Some(c) => (&hostport[..c], Some(&hostport[c + 1..])),
            None => (hostport, None),
        }
    };
    if host.is_empty()
        || !(host.starts_with('[')
            || host
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.'))
    {
        return Err(bad(header, "invalid host"));
    }
    let port = match port_text {
        Some(p) => {
            if p.is_empty() || p.len() > 5 || !p.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad(header, "invalid port"));
            }
            Some(p.parse::<u16>().map_err(|_| bad(header, "invalid port"))?)
        }
        None => None,
    };
    Ok((host, port))
}

/// Checks `;name[=value]` parameters: no empty names.
fn check_params(params: &str, header: &'static str) -> Result<(), Error> {
    if params.is_empty() {
        return Ok(());
    }
    for p in params[1..].split(';') {
        let name = p.split('=').next().unwrap_or("");
        if name.is_empty() {
            return Err(bad(header, "empty URI parameter"));
        }
    }
    Ok(())
}

/// Finds `name` in a `;a=b;c` parameter string (names compare case-insensitively).
pub fn find_param<'a>(params: &'a str, name: &str) -> Option<&'a str> {
    params.split(';').skip(1).find_map(|p| {
        let (n, v) = match p.find('=') {
            Some(eq) => (&p[..eq], &p[eq + 1..]),
            None => (p, ""),
        };
        n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

/// Decodes `%HH` escapes; invalid escapes are kept as written (RFC 4475 §3.1.1.5).
pub fn unescape(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_with_dot_stays_in_user_part() {
        let u = Uri::parse("sip:john.doe@example.com", "t").unwrap();
        assert_eq!(u.user, Some("john.doe"));
        assert_eq!(u.host, "example.com");
    }

    #[test]
    fn ipv6_host_with_port_and_params() {
        let u = Uri::parse("sip:100@[2001:db8::10]:5070;transport=tcp;lr", "t").unwrap();
        assert_eq!(u.host, "[2001:db8::10]");
        assert_eq!(u.host_bare(), "2001:db8::10");
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.param("transport"), Some("tcp"));
        assert_eq!(u.param("lr"), Some(""));
    }

    #[test]
    fn tel_uri() {
        let u = Uri::parse("tel:+4930123456;phone-context=example.com", "t").unwrap();
        assert_eq!(u.scheme, UriScheme::Tel);
        assert_eq!(u.user, Some("+4930123456"));
    }

    #[test]
    fn escapes_decode() {
        let u = Uri::parse("sip:%75se%72@example.com", "t").unwrap();
        assert_eq!(u.user_unescaped().unwrap(), "user");
        assert_eq!(unescape("100%"), "100%");
    }

    #[test]
    fn bad_uris_fail() {
        for s in [
            "sip:",
            "sip:user@",
            "sip:a b@c",
            "sip:host:99999",
            "sip:h;;x",
            "1:x",
        ] {
            assert!(Uri::parse(s, "t").is_err(), "{s}");
        }
    }
}
