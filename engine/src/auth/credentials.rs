//! Reading `Authorization` / `Proxy-Authorization: Digest …` values.

use crate::error::Error;
use crate::sip::scan::Scanner;

/// The fields of a Digest credentials header, borrowed (quotes removed, escapes kept).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Credentials<'a> {
    pub username: &'a str,
    pub realm: &'a str,
    pub nonce: &'a str,
    pub uri: &'a str,
    pub response: &'a str,
    pub algorithm: Option<&'a str>,
    pub cnonce: Option<&'a str>,
    pub nc: Option<&'a str>,
    pub qop: Option<&'a str>,
    pub opaque: Option<&'a str>,
}

impl<'a> Credentials<'a> {
    pub fn parse(value: &'a str) -> Result<Credentials<'a>, Error> {
        let mut sc = Scanner::new(value, "Authorization");
        sc.skip_ws();
        let scheme = sc.token()?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(Error::BadCredentials("not a Digest scheme"));
        }
        let mut c = Credentials::default();
        let (mut have_user, mut have_nonce, mut have_response) = (false, false, false);
        loop {
            sc.skip_ws();
            let name = sc.token()?;
            if !sc.eat_sep(b'=') {
                return Err(Error::BadCredentials("expected name=value"));
            }
            let raw = sc.param_value()?;
            let v = raw
                .strip_prefix('"')
                .and_then(|r| r.strip_suffix('"'))
                .unwrap_or(raw);
            match name.to_ascii_lowercase().as_str() {
                "username" => {
                    c.username = v;
                    have_user = true;
                }
                "realm" => c.realm = v,
                "nonce" => {
                    c.nonce = v;
                    have_nonce = true;
                }
                "uri" => c.uri = v,
                "response" => {
                    c.response = v;
                    have_response = true;
                }
                "algorithm" => c.algorithm = Some(v),
                "cnonce" => c.cnonce = Some(v),
                "nc" => c.nc = Some(v),
                "qop" => c.qop = Some(v),
                "opaque" => c.opaque = Some(v),
                _ => {}
            }
            if !sc.eat_sep(b',') {
                break;
            }
        }
        sc.skip_ws();
        if !sc.at_end() {
            return Err(Error::BadCredentials("unexpected text"));
        }
        if !(have_user && have_nonce && have_response) {
            return Err(Error::BadCredentials(
                "username, nonce and response are required",
            ));
        }
        if c.qop.is_some() && (c.cnonce.is_none() || c.nc.is_none()) {
            return Err(Error::BadCredentials("qop needs cnonce and nc"));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_typical_phone_credentials() {
        let v = "Digest username=\"100\",realm=\"127.0.0.1\", nonce=\"abc\", uri=\"sip:127.0.0.1\", response=\"0123\", algorithm=MD5, cnonce=\"x\", qop=auth, nc=00000001";
        let c = Credentials::parse(v).unwrap();
        assert_eq!(c.username, "100");
        assert_eq!(c.qop, Some("auth"));
        assert_eq!(c.nc, Some("00000001"));
        assert!(Credentials::parse("Basic abc").is_err());
        assert!(Credentials::parse("Digest username=\"a\"").is_err());
    }
}
