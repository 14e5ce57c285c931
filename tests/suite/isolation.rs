//! Tenant isolation over SIP: two tenants with the same extension numbers on one
//! switch. A line's credentials register nothing in the other tenant; a call from one
//! tenant's line rings its own tenant's extension of that number, never the other
//! tenant's phone; a phone cannot watch (BLF) or read the mailbox (MWI) of the other
//! tenant's line, even naming that tenant's domain. (The API's keys are kept to their
//! tenant by `api::keys_reach_only_their_scope_and_tenant`.)

use std::time::Duration;

use engine::auth::Algorithm;
use engine::sip::Message;

use crate::common::call_helpers::*;
use crate::common::sip_client::{authorization, SipClient};
use crate::common::{temp_dir, Pbx};

/// A REGISTER of `user@domain` with `password` from a fresh socket (kept for what
/// reaches the phone): the socket and the final response.
fn register_at(pbx: &Pbx, user: &str, password: &str, domain: &str) -> (SipClient, Message) {
    let mut c = SipClient::udp(pbx.addr);
    c.set_timeout(Duration::from_secs(3));
    let contact = format!("<sip:{user}@{}>", c.local);
    let m = c.register(
        user,
        password,
        domain,
        Some(&contact),
        Some(600),
        Algorithm::Md5,
    );
    (c, m)
}

/// A SUBSCRIBE from line `user@domain` (password `password`) to `target` (a full
/// URI) for `event`, answering the challenge: the final response.
fn subscribe(
    pbx: &Pbx,
    (user, password, domain): (&str, &str, &str),
    target: &str,
    event: (&str, &str),
) -> Message {
    let mut c = SipClient::udp(pbx.addr);
    c.set_timeout(Duration::from_secs(3));
    let local = c.local;
    let build = |cseq: u32, auth: Option<&str>| {
        let mut w = engine::sip::MessageWriter::request("SUBSCRIBE", target);
        w.header_fmt(
            "Via",
            format_args!("SIP/2.0/UDP {local};branch=z9hG4bKiso{cseq};rport"),
        )
        .header("Max-Forwards", "70")
        .header_fmt("From", format_args!("<sip:{user}@{domain}>;tag=iso"))
        .header_fmt("To", format_args!("<{target}>"))
        .header("Call-ID", "isolation-sub")
        .header_fmt("CSeq", format_args!("{cseq} SUBSCRIBE"))
        .header_fmt("Contact", format_args!("<sip:{user}@{local}>"))
        .header("Event", event.0)
        .header("Accept", event.1)
        .header("Expires", "600");
        if let Some(a) = auth {
            w.header("Proxy-Authorization", a);
        }
        w.finish()
    };
    c.send_raw(&build(1, None));
    let first = c.recv().expect("an answer");
    if !matches!(first.code(), Some(401 | 407)) {
        return first;
    }
    let auth = authorization(&first, Algorithm::Md5, user, password, target, "SUBSCRIBE");
    c.send_raw(&build(2, Some(&auth)));
    loop {
        let m = c.recv().expect("a final answer");
        if m.code().is_some_and(|code| code >= 200) {
            return m;
        }
    }
}

#[test]
fn tenants_sharing_extension_numbers_stay_apart_in_registration_calls_blf_and_mwi() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    pbx.stop();
    pbx_admin(
        dir.path(),
        &["tenant", "add", "other", "--domain", "other.test"],
    );
    for ext in ["100", "101"] {
        let pw = format!("otherpw{ext}");
        pbx_admin(
            dir.path(),
            &["line", "add", "--tenant", "other", ext, "--password", &pw],
        );
    }
    pbx.restart();

    // Registration: each line's credentials work in its own tenant only.
    let (_, m) = register_at(&pbx, "100", "secret100", "other.test");
    assert_ne!(
        m.code(),
        Some(200),
        "demo's password in the other tenant: {m:?}"
    );
    let (_, m) = register_at(&pbx, "100", "otherpw100", "127.0.0.1");
    assert_ne!(m.code(), Some(200), "the other's password in demo: {m:?}");
    let (mut other_100, m) = register_at(&pbx, "100", "otherpw100", "other.test");
    assert_eq!(m.code(), Some(200), "{m:?}");
    let mut demo_100 = Device::register(&pbx, "100");
    demo_100.c.set_timeout(Duration::from_millis(1500));

    // A call from the other tenant's 101 to "100" rings the other tenant's 100 only.
    let mut caller = SipClient::udp(pbx.addr);
    caller.set_timeout(Duration::from_secs(3));
    let account = sim::ua::Account {
        user: "101",
        domain: "other.test",
        local: caller.local,
        transport: "UDP",
    };
    let sdp = sim::ua::sdp_offer(caller.local.ip(), 41000, &[(0, "PCMU")], None, 1);
    let invite = |seq: u32, auth: &str| {
        let branch = format!("z9hG4bKisoinv{seq}");
        let ids = sim::ua::Ids {
            call_id: "isolation-call",
            cseq: seq,
            branch: &branch,
            from_tag: "isocaller",
        };
        let mut w = account.invite("100", "", &ids);
        sim::ua::raw_headers(&mut w, auth);
        w.body("application/sdp", sdp.as_bytes())
    };
    caller.send_raw(&invite(1, ""));
    let challenge = caller.recv().expect("a challenge");
    assert_eq!(challenge.code(), Some(407), "{challenge:?}");
    let auth = authorization(
        &challenge,
        Algorithm::Md5,
        "101",
        "otherpw101",
        "sip:100@other.test",
        "INVITE",
    );
    caller.send_raw(&invite(2, &format!("Proxy-Authorization: {auth}\r\n")));
    let rung = loop {
        let m = other_100.recv().expect("the other tenant's 100 rings");
        if m.method().map(|x| x.as_str()) == Some("INVITE") {
            break m;
        }
    };
    assert!(
        rung.header(engine::sip::HeaderName::From)
            .is_some_and(|f| f.contains("101")),
        "{rung:?}"
    );
    assert!(
        demo_100.next_invite(&[]).is_none(),
        "demo's 100 never rings"
    );
    let busy =
        engine::sip::MessageWriter::response_to(&rung, 486, "Busy Here", Some("iso")).finish();
    other_100.send_raw(&busy);

    // BLF and MWI: demo's 102 cannot watch or read the other tenant's lines, even by
    // that tenant's domain; its own tenant's line of the same number it may.
    let dialog = ("dialog", "application/dialog-info+xml");
    let mwi = ("message-summary", "application/simple-message-summary");
    let demo_102 = ("102", "secret102", "127.0.0.1");
    for (target, event) in [("sip:101@other.test", dialog), ("sip:100@other.test", mwi)] {
        let m = subscribe(&pbx, demo_102, target, event);
        assert!(
            matches!(m.code(), Some(403 | 404)),
            "{} of {target}: {m:?}",
            event.0
        );
    }
    let m = subscribe(&pbx, demo_102, "sip:101@127.0.0.1", dialog);
    assert_eq!(m.code(), Some(200), "its own tenant's 101: {m:?}");
}
