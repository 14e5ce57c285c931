//! Checking a request's digest credentials against a line's stored hashes, for
//! REGISTER (401 / WWW-Authenticate) and for calls (407 / Proxy-Authenticate).

use super::{challenge, verify, Algorithm, Credentials, NonceCheck, Nonces};
use crate::sip::{HeaderName, Message, MessageWriter};

/// What a line knows of its secret: user name, realm and HA1 per algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineCredentials {
    pub username: String,
    pub realm: String,
    pub ha1_md5: String,
    pub ha1_sha256: String,
    /// The order in which challenges are offered (the first is the preferred one).
    pub offer: Vec<Algorithm>,
}

impl LineCredentials {
    pub fn ha1(&self, alg: Algorithm) -> &str {
        match alg {
            Algorithm::Md5 => &self.ha1_md5,
            Algorithm::Sha256 => &self.ha1_sha256,
        }
    }
}

/// Why a request is not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No usable credentials (or an old nonce): challenge.
    Challenge { stale: bool },
    /// Credentials that are wrong: refuse (403), and count it against the source.
    Forbidden(&'static str),
}

/// Which pair of headers a check uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// 401 with WWW-Authenticate, answered in Authorization (registrars).
    Www,
    /// 407 with Proxy-Authenticate, answered in Proxy-Authorization (calls).
    Proxy,
}

impl AuthKind {
    fn credentials_header(self) -> HeaderName {
        match self {
            AuthKind::Www => HeaderName::Authorization,
            AuthKind::Proxy => HeaderName::ProxyAuthorization,
        }
    }
}

/// Checks `req`'s credentials for `creds` at `now_unix`.
pub fn check(
    req: &Message,
    kind: AuthKind,
    creds: &LineCredentials,
    nonces: &Nonces,
    now_unix: u64,
) -> Result<(), AuthFailure> {
    // A phone may send credentials for several realms; take the one for ours.
    let mut found = None;
    for v in req.values(kind.credentials_header()) {
        match Credentials::parse(v) {
            Ok(c) if c.realm == creds.realm => {
                found = Some(c);
                break;
            }
            Ok(_) => {}
            Err(_) => return Err(AuthFailure::Forbidden("Malformed Credentials")),
        }
    }
    let Some(c) = found else {
        return Err(AuthFailure::Challenge { stale: false });
    };
    let Some(alg) = Algorithm::parse(c.algorithm) else {
        return Err(AuthFailure::Challenge { stale: false });
    };
    if c.qop.is_some_and(|q| !q.eq_ignore_ascii_case("auth")) {
        return Err(AuthFailure::Challenge { stale: false });
    }
    match nonces.check(c.nonce, &creds.realm, now_unix) {
        NonceCheck::Valid => {}
        NonceCheck::Stale => return Err(AuthFailure::Challenge { stale: true }),
        NonceCheck::Invalid => return Err(AuthFailure::Challenge { stale: false }),
    }
    if c.username != creds.username {
        return Err(AuthFailure::Forbidden("Forbidden"));
    }
    let method = req.method().map(|m| m.as_str()).unwrap_or("");
    if verify(alg, creds.ha1(alg), method, &c) {
        Ok(())
    } else {
        Err(AuthFailure::Forbidden("Forbidden"))
    }
}

/// The challenge response (401 or 407) to `req`, offering every algorithm of `creds`.
pub fn challenge_response(
    req: &Message,
    kind: AuthKind,
    creds: &LineCredentials,
    nonces: &Nonces,
    stale: bool,
    to_tag: &str,
    now_unix: u64,
) -> Vec<u8> {
    let (code, reason, header) = match kind {
        AuthKind::Www => (401, "Unauthorized", "WWW-Authenticate"),
        AuthKind::Proxy => (407, "Proxy Authentication Required", "Proxy-Authenticate"),
    };
    let mut w = MessageWriter::response_to(req, code, reason, Some(to_tag));
    let nonce = nonces.issue(now_unix, &creds.realm);
    for alg in &creds.offer {
        w.header(header, &challenge(&creds.realm, &nonce, *alg, stale));
    }
    w.finish()
}
