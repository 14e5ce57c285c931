use super::*;
use crate::auth::{ha1, response_for, Algorithm, Credentials, Nonces};
use crate::sip::{HeaderName, Message};

const NOW: u64 = 1_800_000_000;
const SRC: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

fn creds() -> LineCredentials {
    LineCredentials {
        username: "100".into(),
        realm: "pbx.test".into(),
        ha1_md5: ha1(Algorithm::Md5, "100", "pbx.test", "secret100"),
        ha1_sha256: ha1(Algorithm::Sha256, "100", "pbx.test", "secret100"),
        offer: vec![Algorithm::Md5, Algorithm::Sha256],
    }
}

fn register(
    cseq: u32,
    contact: Option<&str>,
    expires: Option<u32>,
    auth: Option<String>,
) -> Message {
    let mut s = format!(
        "REGISTER sip:pbx.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK{cseq}\r\nFrom: <sip:100@pbx.test>;tag=f\r\nTo: <sip:100@pbx.test>\r\nCall-ID: reg-1\r\nCSeq: {cseq} REGISTER\r\nMax-Forwards: 70\r\n"
    );
    if let Some(c) = contact {
        s.push_str(&format!("Contact: {c}\r\n"));
    }
    if let Some(e) = expires {
        s.push_str(&format!("Expires: {e}\r\n"));
    }
    if let Some(a) = auth {
        s.push_str(&format!("Authorization: {a}\r\n"));
    }
    s.push_str("Content-Length: 0\r\n\r\n");
    Message::parse(s.into_bytes()).unwrap()
}

/// Answers the challenge in `resp` for `alg` the way a phone does.
fn answer(resp: &[u8], alg: Algorithm, password: &str) -> String {
    let resp = Message::parse(resp.to_vec()).unwrap();
    let ch = resp
        .values(HeaderName::WwwAuthenticate)
        .find(|v| v.contains(alg.as_str()))
        .unwrap();
    let nonce = ch
        .split("nonce=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let h = ha1(alg, "100", "pbx.test", password);
    let c = Credentials {
        username: "100",
        realm: "pbx.test",
        nonce,
        uri: "sip:pbx.test",
        response: "",
        algorithm: Some(alg.as_str()),
        cnonce: Some("abcd"),
        nc: Some("00000001"),
        qop: Some("auth"),
        opaque: None,
    };
    let r = response_for(alg, &h, "REGISTER", &c);
    format!(
        "Digest username=\"100\", realm=\"pbx.test\", nonce=\"{nonce}\", uri=\"sip:pbx.test\", response=\"{r}\", algorithm={}, cnonce=\"abcd\", nc=00000001, qop=auth",
        alg.as_str()
    )
}

fn nonces() -> Nonces {
    Nonces::new([1; 32], 300)
}

fn authed(
    r: &mut Registrar,
    cseq: u32,
    contact: Option<&str>,
    expires: Option<u32>,
    alg: Algorithm,
) -> RegisterOutcome {
    let n = nonces();
    let first = r.handle(
        &register(cseq, contact, expires, None),
        &creds(),
        &n,
        SRC,
        &|_| "udp:127.0.0.1:5062".into(),
        None,
        NOW,
    );
    assert_eq!(first.code, 401);
    let auth = answer(&first.response, alg, "secret100");
    r.handle(
        &register(cseq + 1, contact, expires, Some(auth)),
        &creds(),
        &n,
        SRC,
        &|_| "udp:127.0.0.1:5062".into(),
        None,
        NOW,
    )
}

#[test]
fn challenge_then_register_md5_and_sha256() {
    for alg in [Algorithm::Md5, Algorithm::Sha256] {
        let mut r = Registrar::default();
        let out = authed(&mut r, 1, Some("<sip:100@127.0.0.1:5062>"), Some(600), alg);
        assert_eq!(out.code, 200, "{alg:?}");
        assert_eq!(r.bindings().len(), 1);
        assert_eq!(r.bindings()[0].expires_at, NOW + 600);
        let resp = Message::parse(out.response).unwrap();
        assert_eq!(
            resp.header(HeaderName::Contact),
            Some("<sip:100@127.0.0.1:5062>;expires=600")
        );
        assert!(resp.to().unwrap().tag().is_some());
    }
}

#[test]
fn challenge_offers_both_algorithms_md5_first() {
    let mut r = Registrar::default();
    let out = r.handle(
        &register(1, Some("<sip:100@h>"), None, None),
        &creds(),
        &nonces(),
        SRC,
        &|_| "f".into(),
        None,
        NOW,
    );
    let resp = Message::parse(out.response).unwrap();
    let ch: Vec<_> = resp.values(HeaderName::WwwAuthenticate).collect();
    assert_eq!(ch.len(), 2);
    assert!(ch[0].contains("algorithm=MD5") && ch[0].contains("qop=\"auth\""));
    assert!(ch[1].contains("algorithm=SHA-256"));
}

#[test]
fn wrong_password_is_forbidden_and_flagged() {
    let mut r = Registrar::default();
    let n = nonces();
    let first = r.handle(
        &register(1, Some("<sip:100@h>"), None, None),
        &creds(),
        &n,
        SRC,
        &|_| "f".into(),
        None,
        NOW,
    );
    let auth = answer(&first.response, Algorithm::Md5, "wrong");
    let out = r.handle(
        &register(2, Some("<sip:100@h>"), None, Some(auth)),
        &creds(),
        &n,
        SRC,
        &|_| "f".into(),
        None,
        NOW,
    );
    assert_eq!(out.code, 403);
    assert!(out.auth_failed);
    assert!(r.bindings().is_empty());
}

#[test]
fn expired_nonce_is_challenged_stale() {
    let mut r = Registrar::default();
    let n = nonces();
    let first = r.handle(
        &register(1, Some("<sip:100@h>"), None, None),
        &creds(),
        &n,
        SRC,
        &|_| "f".into(),
        None,
        NOW,
    );
    let auth = answer(&first.response, Algorithm::Md5, "secret100");
    let out = r.handle(
        &register(2, Some("<sip:100@h>"), None, Some(auth)),
        &creds(),
        &n,
        SRC,
        &|_| "f".into(),
        None,
        NOW + 301,
    );
    assert_eq!(out.code, 401);
    let resp = Message::parse(out.response).unwrap();
    assert!(resp
        .header(HeaderName::WwwAuthenticate)
        .unwrap()
        .contains("stale=true"));
}

#[test]
fn too_brief_gets_423_with_min_expires() {
    let mut r = Registrar::default();
    let out = authed(&mut r, 1, Some("<sip:100@h>"), Some(10), Algorithm::Md5);
    assert_eq!(out.code, 423);
    let resp = Message::parse(out.response).unwrap();
    assert_eq!(resp.header(HeaderName::MinExpires), Some("60"));
    assert!(r.bindings().is_empty());
}

#[test]
fn several_contacts_fetch_unregister_and_star() {
    let mut r = Registrar::default();
    assert_eq!(
        authed(
            &mut r,
            1,
            Some("<sip:100@10.0.0.1>, <sip:100@10.0.0.2>;expires=120"),
            Some(600),
            Algorithm::Md5
        )
        .code,
        200
    );
    assert_eq!(
        authed(&mut r, 3, Some("<sip:100@10.0.0.3>"), None, Algorithm::Md5).code,
        200
    );
    assert_eq!(r.bindings().len(), 3);
    assert_eq!(r.bindings()[1].expires_at, NOW + 120);
    assert_eq!(r.bindings()[2].expires_at, NOW + 3600);
    // Fetch: no Contact, nothing changes, all listed.
    let out = authed(&mut r, 5, None, None, Algorithm::Md5);
    assert_eq!(
        Message::parse(out.response)
            .unwrap()
            .count(HeaderName::Contact),
        3
    );
    assert!(out.changes.is_empty());
    // Unregister one.
    let out = authed(
        &mut r,
        7,
        Some("<sip:100@10.0.0.2>"),
        Some(0),
        Algorithm::Md5,
    );
    assert_eq!(
        out.changes,
        vec![BindingChange::Remove {
            contact: "sip:100@10.0.0.2".into()
        }]
    );
    assert_eq!(r.bindings().len(), 2);
    // Contact: * without Expires: 0 is a 400; with it everything goes.
    assert_eq!(
        authed(&mut r, 9, Some("*"), Some(60), Algorithm::Md5).code,
        400
    );
    let out = authed(&mut r, 11, Some("*"), Some(0), Algorithm::Md5);
    assert_eq!(out.code, 200);
    assert_eq!(out.changes.len(), 2);
    assert!(r.bindings().is_empty());
}

#[test]
fn bindings_expire() {
    let mut r = Registrar::default();
    authed(&mut r, 1, Some("<sip:100@h>"), Some(60), Algorithm::Md5);
    assert_eq!(r.next_expiry(), Some(NOW + 60));
    assert!(r.expire(NOW + 59).is_empty());
    assert_eq!(r.expire(NOW + 60).len(), 1);
    assert!(r.bindings().is_empty());
}

/// The first REGISTER's challenge, and an answer to it built by `edit` from the
/// phone's usual credentials.
fn challenged_answer(r: &mut Registrar, edit: impl Fn(String) -> String) -> Message {
    let first = r.handle(
        &register(1, Some("<sip:100@h>"), None, None),
        &creds(),
        &nonces(),
        SRC,
        &|_| "f".into(),
        None,
        NOW,
    );
    let auth = edit(answer(&first.response, Algorithm::Md5, "secret100"));
    register(2, Some("<sip:100@h>"), None, Some(auth))
}

#[test]
fn a_replayed_authorization_is_challenged_again() {
    let mut r = Registrar::default();
    let req = challenged_answer(&mut r, |a| a);
    let ok = r.handle(&req, &creds(), &nonces(), SRC, &|_| "f".into(), None, NOW);
    assert_eq!(ok.code, 200);
    // The very same credentials again (a new transaction, as a replay would be).
    let text = String::from_utf8_lossy(req.as_bytes()).replace("CSeq: 2", "CSeq: 3");
    let replay = Message::parse(text.into_bytes()).unwrap();
    let out = r.handle(
        &replay,
        &creds(),
        &nonces(),
        SRC,
        &|_| "f".into(),
        None,
        NOW + 1,
    );
    assert_eq!(out.code, 401, "nc 1 was used on this nonce already");
    assert!(!out.auth_failed);
    assert_eq!(out.changes, vec![]);
}

#[test]
fn credentials_without_qop_or_for_another_uri_or_source_are_refused() {
    // No qop: the response cannot be bound to a count, so it is not taken.
    let mut r = Registrar::default();
    let req = challenged_answer(&mut r, |a| {
        a.replace(", cnonce=\"abcd\", nc=00000001, qop=auth", "")
    });
    assert_eq!(
        r.handle(&req, &creds(), &nonces(), SRC, &|_| "f".into(), None, NOW)
            .code,
        401
    );
    // A digest uri that is not the Request-URI.
    let mut r = Registrar::default();
    let req = challenged_answer(&mut r, |a| {
        a.replace("uri=\"sip:pbx.test\"", "uri=\"sip:other.test\"")
    });
    let out = r.handle(&req, &creds(), &nonces(), SRC, &|_| "f".into(), None, NOW);
    assert_eq!(out.code, 403);
    assert!(r.bindings().is_empty());
    // The nonce was issued to another address.
    let mut r = Registrar::default();
    let req = challenged_answer(&mut r, |a| a);
    let elsewhere = "192.0.2.7".parse().unwrap();
    let out = r.handle(
        &req,
        &creds(),
        &nonces(),
        elsewhere,
        &|_| "f".into(),
        None,
        NOW,
    );
    assert_eq!(out.code, 401);
    assert!(r.bindings().is_empty());
}

#[test]
fn only_offered_algorithms_are_accepted() {
    let mut sha_only = creds();
    sha_only.offer = vec![Algorithm::Sha256];
    let mut r = Registrar::default();
    let first = r.handle(
        &register(1, Some("<sip:100@h>"), None, None),
        &sha_only,
        &nonces(),
        SRC,
        &|_| "f".into(),
        None,
        NOW,
    );
    // An MD5 answer built on the SHA-256 challenge's nonce.
    let text = String::from_utf8_lossy(&first.response).replace("SHA-256", "MD5");
    let auth = answer(text.as_bytes(), Algorithm::Md5, "secret100");
    let req = register(2, Some("<sip:100@h>"), None, Some(auth));
    let out = r.handle(&req, &sha_only, &nonces(), SRC, &|_| "f".into(), None, NOW);
    assert_eq!(out.code, 401);
    assert!(r.bindings().is_empty());
}

#[test]
fn too_many_contacts_changes_nothing() {
    let mut r = Registrar::default();
    r.policy.max_contacts = 2;
    assert_eq!(
        authed(&mut r, 1, Some("<sip:100@10.0.0.1>"), None, Algorithm::Md5).code,
        200
    );
    let out = authed(
        &mut r,
        3,
        Some("<sip:100@10.0.0.1>;expires=0, <sip:100@10.0.0.2>, <sip:100@10.0.0.3>, <sip:100@10.0.0.4>"),
        None,
        Algorithm::Md5,
    );
    assert_eq!(out.code, 403);
    assert!(out.changes.is_empty());
    assert_eq!(r.bindings().len(), 1, "the first binding is still there");
    assert_eq!(r.bindings()[0].contact, "sip:100@10.0.0.1");
}
