//! Checking a request's digest credentials against a line's stored hashes, for
//! REGISTER (401 / WWW-Authenticate) and for calls (407 / Proxy-Authenticate).
//!
//! Replay is closed on every side: `qop=auth` is required with a count that rises per
//! nonce (`NonceCounts`), the digest `uri` must be the Request-URI, the nonce is bound
//! to the method and the source address, and only the algorithms offered are taken.

use std::net::IpAddr;

use super::{
    challenge, constant_time_eq, verify, Algorithm, Credentials, NonceCheck, NonceCounts,
    NonceScope, Nonces,
};
use crate::sip::{HeaderName, Message, MessageWriter, Uri};

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
    /// No usable credentials (or an old nonce, or one used already): challenge.
    Challenge { stale: bool },
    /// Credentials that are wrong: refuse (403), and count it against the source.
    Forbidden(&'static str),
    /// Credentials that cannot be checked (malformed, a URI other than the
    /// Request-URI): refuse (403). No password was tried, so it does not count as a
    /// guess.
    Refused(&'static str),
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

/// The request being authenticated and where it came from.
#[derive(Debug, Clone, Copy)]
pub struct AuthRequest<'a> {
    pub msg: &'a Message,
    pub kind: AuthKind,
    pub source: IpAddr,
    pub now_unix: u64,
}

impl AuthRequest<'_> {
    fn scope<'b>(&'b self, realm: &'b str) -> NonceScope<'b> {
        NonceScope {
            realm,
            method: self.msg.method().map(|m| m.as_str()).unwrap_or(""),
            source: self.source,
        }
    }
}

/// Checks the request's credentials for `creds`; on success the nonce count is
/// recorded in `counts`.
pub fn check(
    req: &AuthRequest<'_>,
    creds: &LineCredentials,
    nonces: &Nonces,
    counts: &mut NonceCounts,
) -> Result<(), AuthFailure> {
    // A phone may send credentials for several realms; take the one for ours.
    let mut found = None;
    for v in req.msg.values(req.kind.credentials_header()) {
        match Credentials::parse(v) {
            Ok(c) if c.realm == creds.realm => {
                found = Some(c);
                break;
            }
            Ok(_) => {}
            Err(_) => return Err(AuthFailure::Refused("Malformed Credentials")),
        }
    }
    let Some(c) = found else {
        return Err(AuthFailure::Challenge { stale: false });
    };
    let challenge_again = Err(AuthFailure::Challenge { stale: false });
    let Some(alg) = Algorithm::parse(c.algorithm).filter(|a| creds.offer.contains(a)) else {
        return challenge_again;
    };
    // qop=auth with a count is required: without it a response can be replayed.
    if !c.qop.is_some_and(|q| q.eq_ignore_ascii_case("auth")) {
        return challenge_again;
    }
    let Some(nc) = c.nc.and_then(|n| u32::from_str_radix(n, 16).ok()) else {
        return Err(AuthFailure::Refused("Bad Nonce Count"));
    };
    match nonces.check(c.nonce, &req.scope(&creds.realm), req.now_unix) {
        NonceCheck::Valid => {}
        NonceCheck::Stale => return Err(AuthFailure::Challenge { stale: true }),
        // Not ours (another switch start, or forged): ask again without prompting the
        // user (stale=true), as for an expired one.
        NonceCheck::Invalid => return Err(AuthFailure::Challenge { stale: true }),
    }
    if !req
        .msg
        .uri()
        .is_some_and(|ruri| same_uri(c.uri, ruri.raw, &ruri))
    {
        return Err(AuthFailure::Refused("Digest URI Mismatch"));
    }
    if !constant_time_eq(c.username.as_bytes(), creds.username.as_bytes()) {
        return Err(AuthFailure::Forbidden("Forbidden"));
    }
    let method = req.msg.method().map(|m| m.as_str()).unwrap_or("");
    if !verify(alg, creds.ha1(alg), method, &c) {
        // A wrong answer uses the nonce up: every guess needs a new challenge.
        counts.record(c.nonce, u32::MAX, req.now_unix, nonces.lifetime_secs());
        return Err(AuthFailure::Forbidden("Forbidden"));
    }
    // A right response on a count used before is a replay (or a nonce used up by a
    // wrong answer): ask for fresh credentials, without prompting the user.
    if !counts.is_fresh(c.nonce, nc) {
        return Err(AuthFailure::Challenge { stale: true });
    }
    counts.record(c.nonce, nc, req.now_unix, nonces.lifetime_secs());
    Ok(())
}

/// A number that differs between requests (FNV-1a of Call-ID, CSeq and branch).
fn salt_of(msg: &Message) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    let branch = msg.top_via().and_then(|v| v.branch()).unwrap_or("");
    let cseq = msg.header(HeaderName::CSeq).unwrap_or("");
    for part in [msg.call_id().unwrap_or(""), cseq, branch] {
        for b in part.bytes().chain([0]) {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
    }
    h
}

/// True when the digest `uri` names the Request-URI: the same text, or the same
/// scheme, host and user, with the port compared where both give one. A `uri`
/// without a user part (SIPp writes the switch's address, `sip:host:port`) is taken
/// when the host matches: the request's own user is then covered by the nonce
/// binding and the nonce count, not by the URI.
fn same_uri(digest_uri: &str, ruri_raw: &str, ruri: &Uri<'_>) -> bool {
    if digest_uri == ruri_raw {
        return true;
    }
    let Ok(d) = Uri::parse(digest_uri, "Authorization") else {
        return false;
    };
    let port_ok = match (d.port, ruri.port) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    d.scheme == ruri.scheme
        && d.host_bare().eq_ignore_ascii_case(ruri.host_bare())
        && port_ok
        && (d.user.is_none() || d.user == ruri.user)
}

/// The challenge response (401 or 407) to the request, offering every algorithm of
/// `creds`, with a nonce bound to its method and source, and salted with the request
/// itself so that two challenges in one second differ.
pub fn challenge_response(
    req: &AuthRequest<'_>,
    creds: &LineCredentials,
    nonces: &Nonces,
    stale: bool,
    to_tag: &str,
) -> Vec<u8> {
    let (code, reason, header) = match req.kind {
        AuthKind::Www => (401, "Unauthorized", "WWW-Authenticate"),
        AuthKind::Proxy => (407, "Proxy Authentication Required", "Proxy-Authenticate"),
    };
    let mut w = MessageWriter::response_to(req.msg, code, reason, Some(to_tag));
    let nonce = nonces.issue(req.now_unix, salt_of(req.msg), &req.scope(&creds.realm));
    for alg in &creds.offer {
        w.header(header, &challenge(&creds.realm, &nonce, *alg, stale));
    }
    w.finish()
}
