//! Digest computations: HA1, the expected response, and challenges.

use md5::{Digest as _, Md5};
use sha2::Sha256;

use super::Credentials;

/// The digest algorithms the switch offers and accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    /// Reads an `algorithm=` value; absent means MD5 (RFC 3261 §22.4).
    pub fn parse(s: Option<&str>) -> Option<Algorithm> {
        match s {
            None => Some(Algorithm::Md5),
            Some(a) if a.eq_ignore_ascii_case("MD5") => Some(Algorithm::Md5),
            Some(a) if a.eq_ignore_ascii_case("SHA-256") => Some(Algorithm::Sha256),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    fn hash(self, parts: &[&[u8]]) -> String {
        match self {
            Algorithm::Md5 => {
                let mut h = Md5::new();
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        h.update(b":");
                    }
                    h.update(p);
                }
                hex(&h.finalize())
            }
            Algorithm::Sha256 => {
                let mut h = Sha256::new();
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        h.update(b":");
                    }
                    h.update(p);
                }
                hex(&h.finalize())
            }
        }
    }
}

/// Lower-case hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

/// HA1 = H(username:realm:password): what the store keeps instead of the password.
pub fn ha1(alg: Algorithm, user: &str, realm: &str, password: &str) -> String {
    alg.hash(&[user.as_bytes(), realm.as_bytes(), password.as_bytes()])
}

/// The response a client with `ha1` must send for `method` and these credentials.
pub fn response_for(alg: Algorithm, ha1: &str, method: &str, c: &Credentials<'_>) -> String {
    let ha2 = alg.hash(&[method.as_bytes(), c.uri.as_bytes()]);
    match c.qop {
        Some(qop) => alg.hash(&[
            ha1.as_bytes(),
            c.nonce.as_bytes(),
            c.nc.unwrap_or("").as_bytes(),
            c.cnonce.unwrap_or("").as_bytes(),
            qop.as_bytes(),
            ha2.as_bytes(),
        ]),
        None => alg.hash(&[ha1.as_bytes(), c.nonce.as_bytes(), ha2.as_bytes()]),
    }
}

/// Checks credentials against the stored HA1 in constant time for equal lengths.
pub fn verify(alg: Algorithm, ha1: &str, method: &str, c: &Credentials<'_>) -> bool {
    let expected = response_for(alg, ha1, method, c);
    let got = c.response.to_ascii_lowercase();
    super::constant_time_eq(expected.as_bytes(), got.as_bytes())
}

/// A `WWW-Authenticate`/`Proxy-Authenticate` value.
pub fn challenge(realm: &str, nonce: &str, alg: Algorithm, stale: bool) -> String {
    let mut s = format!(
        "Digest realm=\"{realm}\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\"",
        alg.as_str()
    );
    if stale {
        s.push_str(", stale=true");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_style_example() {
        // The RFC 2617 §3.5 example, with method GET and qop=auth.
        let ha1 = ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        assert_eq!(ha1, "939e7578ed9e3c518a452acee763bce9");
        let c = Credentials {
            username: "Mufasa",
            realm: "testrealm@host.com",
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            uri: "/dir/index.html",
            response: "6629fae49393a05397450978507c4ef1",
            algorithm: None,
            cnonce: Some("0a4f113b"),
            nc: Some("00000001"),
            qop: Some("auth"),
            opaque: None,
        };
        assert!(verify(Algorithm::Md5, &ha1, "GET", &c));
        assert!(!verify(Algorithm::Md5, &ha1, "POST", &c));
    }

    #[test]
    fn sha256_ha1_differs_and_verifies() {
        let h = ha1(Algorithm::Sha256, "100", "pbx", "secret100");
        assert_eq!(h.len(), 64);
        let mut c = Credentials {
            username: "100",
            realm: "pbx",
            nonce: "n",
            uri: "sip:pbx",
            response: "",
            algorithm: Some("SHA-256"),
            cnonce: Some("c"),
            nc: Some("00000001"),
            qop: Some("auth"),
            opaque: None,
        };
        let r = response_for(Algorithm::Sha256, &h, "REGISTER", &c);
        c.response = &r;
        assert!(verify(Algorithm::Sha256, &h, "REGISTER", &c));
    }
}
