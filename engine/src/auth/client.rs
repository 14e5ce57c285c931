//! The client side of digest: answering a challenge (401 `WWW-Authenticate`, 407
//! `Proxy-Authenticate`) as a phone does: pick the MD5 offer (or SHA-256 when it is the
//! only one), or the offer of a given algorithm; compute the response; print the
//! credentials header. The simulator's phones, the tests' phones and (later) trunks
//! registering with a carrier answer challenges with it.

use super::{ha1, response_for, Algorithm, Credentials};
use crate::sip::{HeaderName, Message};

/// One offer of a challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub algorithm: Algorithm,
    pub opaque: Option<String>,
    /// Whether the offer allows `qop=auth`.
    pub qop_auth: bool,
    /// `stale=true`: the credentials were right but their nonce was not taken (too
    /// old, or issued by another server); answer again without asking the user.
    pub stale: bool,
}

impl Challenge {
    /// The offer to answer in a 401 or 407: MD5 preferred.
    pub fn from_response(resp: &Message) -> Option<Challenge> {
        let offers = Self::offers(resp);
        offers
            .iter()
            .find(|c| c.algorithm == Algorithm::Md5)
            .or_else(|| offers.first())
            .cloned()
    }

    /// The offer for `alg` in a 401 or 407, if the challenge makes one.
    pub fn for_algorithm(resp: &Message, alg: Algorithm) -> Option<Challenge> {
        Self::offers(resp).into_iter().find(|c| c.algorithm == alg)
    }

    /// Every offer of a 401 (`WWW-Authenticate`) or 407 (`Proxy-Authenticate`).
    pub fn offers(resp: &Message) -> Vec<Challenge> {
        let name = match resp.code() {
            Some(407) => HeaderName::ProxyAuthenticate,
            _ => HeaderName::WwwAuthenticate,
        };
        resp.values(name).filter_map(Challenge::parse).collect()
    }

    /// Reads one `Digest realm="…", nonce="…", …` value.
    pub fn parse(value: &str) -> Option<Challenge> {
        let rest = value.trim_start();
        let (scheme, params) = rest.split_once(char::is_whitespace)?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return None;
        }
        let (mut realm, mut nonce, mut alg, mut opaque, mut qop) = (None, None, None, None, None);
        let mut stale = false;
        for (k, v) in params_of(params) {
            match k.to_ascii_lowercase().as_str() {
                "realm" => realm = Some(v),
                "nonce" => nonce = Some(v),
                "algorithm" => alg = Some(v),
                "opaque" => opaque = Some(v),
                "qop" => qop = Some(v),
                "stale" => stale = v.eq_ignore_ascii_case("true"),
                _ => {}
            }
        }
        Some(Challenge {
            realm: realm?,
            nonce: nonce?,
            algorithm: Algorithm::parse(alg.as_deref())?,
            opaque,
            qop_auth: qop
                .is_some_and(|q| q.split(',').any(|o| o.trim().eq_ignore_ascii_case("auth"))),
            stale,
        })
    }

    /// The credentials header value for `method uri` (nonce count 1: every challenge
    /// the sim answers carries a fresh nonce).
    pub fn answer(
        &self,
        user: &str,
        password: &str,
        method: &str,
        uri: &str,
        cnonce: &str,
    ) -> String {
        let h = ha1(self.algorithm, user, &self.realm, password);
        let (qop, nc, cn) = if self.qop_auth {
            (Some("auth"), Some("00000001"), Some(cnonce))
        } else {
            (None, None, None)
        };
        let c = Credentials {
            username: user,
            realm: &self.realm,
            nonce: &self.nonce,
            uri,
            response: "",
            algorithm: Some(self.algorithm.as_str()),
            cnonce: cn,
            nc,
            qop,
            opaque: self.opaque.as_deref(),
        };
        let r = response_for(self.algorithm, &h, method, &c);
        let mut out = format!(
            "Digest username=\"{user}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", response=\"{r}\", algorithm={}",
            quoted(&self.realm),
            quoted(&self.nonce),
            self.algorithm.as_str()
        );
        if self.qop_auth {
            out.push_str(&format!(", cnonce=\"{cnonce}\", nc=00000001, qop=auth"));
        }
        if let Some(o) = &self.opaque {
            out.push_str(&format!(", opaque=\"{}\"", quoted(o)));
        }
        out
    }
}

/// `s` with `"` and `\` escaped for a quoted-string.
fn quoted(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// `name=value` pairs separated by commas; values may be quoted (with `\` escapes).
fn params_of(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            name.push(c);
            chars.next();
        }
        if name.trim().is_empty() {
            return out;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => value.extend(chars.next()),
                        '"' => break,
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
        }
        out.push((name.trim().to_owned(), value.trim().to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::verify;

    #[test]
    fn picks_md5_and_answers_so_the_switch_accepts() {
        let text = "SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:1@h>;tag=f\r\nTo: <sip:1@h>;tag=t\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\nWWW-Authenticate: Digest realm=\"demo\", nonce=\"n1\", algorithm=SHA-256, qop=\"auth\"\r\nWWW-Authenticate: Digest realm=\"demo\", nonce=\"n2\", algorithm=MD5, qop=\"auth,auth-int\", opaque=\"o\\\"x\"\r\nContent-Length: 0\r\n\r\n";
        let m = Message::parse(text.as_bytes().to_vec()).unwrap();
        let c = Challenge::from_response(&m).unwrap();
        assert_eq!(c.algorithm, Algorithm::Md5);
        assert_eq!((c.realm.as_str(), c.nonce.as_str()), ("demo", "n2"));
        assert_eq!(c.opaque.as_deref(), Some("o\"x"));
        assert!(c.qop_auth);
        let value = c.answer("100", "secret100", "REGISTER", "sip:h", "cn");
        let creds = Credentials::parse(&value).unwrap();
        let h = ha1(Algorithm::Md5, "100", "demo", "secret100");
        assert!(verify(Algorithm::Md5, &h, "REGISTER", &creds));
    }

    #[test]
    fn without_qop_the_answer_has_none() {
        let c = Challenge::parse("Digest realm=\"r\",nonce=\"n\"").unwrap();
        assert_eq!(c.algorithm, Algorithm::Md5);
        assert!(!c.qop_auth && !c.stale);
        let again = Challenge::parse("Digest realm=\"r\", nonce=\"n2\", stale=TRUE").unwrap();
        assert!(again.stale);
        let value = c.answer("u", "p", "INVITE", "sip:x@r", "cn");
        assert!(!value.contains("qop"));
        let creds = Credentials::parse(&value).unwrap();
        assert!(verify(
            Algorithm::Md5,
            &ha1(Algorithm::Md5, "u", "r", "p"),
            "INVITE",
            &creds
        ));
    }

    #[test]
    fn not_digest_is_none() {
        assert_eq!(Challenge::parse("Basic realm=\"r\""), None);
        assert_eq!(Challenge::parse("Digest nonce=\"n\""), None);
    }
}
