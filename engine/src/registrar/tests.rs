use super::*;
use crate::auth::{ha1, response_for, Algorithm, Credentials, Nonces};
use crate::sip::{HeaderName, Message};

const NOW: u64 = 1_800_000_000;

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
        "udp:127.0.0.1:5062",
        NOW,
    );
    assert_eq!(first.code, 401);
    let auth = answer(&first.response, alg, "secret100");
    r.handle(
        &register(cseq + 1, contact, expires, Some(auth)),
        &creds(),
        &n,
        "udp:127.0.0.1:5062",
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
        "f",
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
        "f",
        NOW,
    );
    let auth = answer(&first.response, Algorithm::Md5, "wrong");
    let out = r.handle(
        &register(2, Some("<sip:100@h>"), None, Some(auth)),
        &creds(),
        &n,
        "f",
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
        "f",
        NOW,
    );
    let auth = answer(&first.response, Algorithm::Md5, "secret100");
    let out = r.handle(
        &register(2, Some("<sip:100@h>"), None, Some(auth)),
        &creds(),
        &n,
        "f",
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
