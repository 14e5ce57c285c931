//! Busy-lamp fields (RFC 4235) on `pbx serve`: a phone of line 102 subscribes to line
//! 101's `dialog` events and is NOTIFYed as 101 is called (early), answers
//! (confirmed) and hangs up (no dialog); another tenant's line cannot be watched.

mod common;

use common::call_helpers::*;
use common::sip_client::SipClient;
use common::{temp_dir, Pbx};
use engine::sip::Message;

/// `c` (a phone of `user`) SUBSCRIBEs to `watched`'s dialogs at `domain`, answering the
/// challenge: the final response.
fn subscribe(c: &mut SipClient, user: &str, watched: &str, domain: &str) -> Message {
    let uri = format!("sip:{watched}@{domain}");
    let local = c.local;
    let build = |cseq: u32, auth: Option<&str>| {
        let mut w = engine::sip::MessageWriter::request("SUBSCRIBE", &uri);
        w.header_fmt(
            "Via",
            format_args!("SIP/2.0/UDP {local};branch=z9hG4bKblf{cseq};rport"),
        )
        .header("Max-Forwards", "70")
        .header_fmt("From", format_args!("<sip:{user}@{domain}>;tag=blf"))
        .header_fmt("To", format_args!("<{uri}>"))
        .header("Call-ID", &format!("blf-{local}"))
        .header_fmt("CSeq", format_args!("{cseq} SUBSCRIBE"))
        .header_fmt("Contact", format_args!("<sip:{user}@{local}>"))
        .header("Event", "dialog")
        .header("Accept", "application/dialog-info+xml")
        .header("Expires", "600");
        if let Some(a) = auth {
            w.header("Proxy-Authorization", a);
        }
        w.finish()
    };
    let final_of = |c: &mut SipClient, seq: u32| loop {
        let m = c.recv().expect("an answer to SUBSCRIBE");
        if m.code().is_some_and(|code| code >= 200)
            && m.cseq()
                .is_some_and(|s| s.method == "SUBSCRIBE" && s.seq == seq)
        {
            return m;
        }
    };
    c.send_raw(&build(1, None));
    let first = final_of(c, 1);
    if first.code() != Some(407) {
        return first;
    }
    let auth = common::sip_client::authorization(
        &first,
        engine::auth::Algorithm::Md5,
        user,
        &format!("secret{user}"),
        &uri,
        "SUBSCRIBE",
    );
    c.send_raw(&build(2, Some(&auth)));
    final_of(c, 2)
}

/// The next dialog-info NOTIFY `c` gets (answered 200): its body.
fn next_state(c: &mut SipClient) -> String {
    loop {
        let m = c.recv().expect("a NOTIFY");
        if m.method().map(|x| x.as_str()) == Some("NOTIFY") {
            assert_eq!(m.values_named("Event").next(), Some("dialog"));
            let ok = engine::sip::MessageWriter::response_to(&m, 200, "OK", None).finish();
            c.send_raw(&ok);
            return String::from_utf8_lossy(m.body()).into_owned();
        }
    }
}

#[test]
fn a_key_on_102_follows_line_101_through_a_call() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let mut key = SipClient::udp(pbx.addr);
    let ok = subscribe(&mut key, "102", "101", "127.0.0.1");
    assert_eq!(ok.code(), Some(200), "{ok:?}");
    let idle = next_state(&mut key);
    assert!(idle.contains("entity=\"sip:101@127.0.0.1\""), "{idle}");
    assert!(!idle.contains("<dialog "), "101 is idle: {idle}");
    // 103 calls 101: the key shows it ringing, then in the call, then idle again.
    let mut phone = Device::register(&pbx, "101");
    let mut call = Caller::call(&pbx, "103", "101");
    let invite = phone.next_invite(&[]).expect("101 rings");
    phone.respond(&invite, 180, "Ringing");
    assert_eq!(call.expect(180), 180);
    let mut state = next_state(&mut key);
    while !state.contains("<state>early</state>") {
        state = next_state(&mut key);
    }
    assert!(state.contains("direction=\"recipient\""), "{state}");
    assert!(
        state.contains("sip:103@127.0.0.1"),
        "the caller shows: {state}"
    );
    phone.answer_invite(&invite, 43000);
    assert_eq!(call.expect(200), 200);
    call.ack();
    let mut state = next_state(&mut key);
    while !state.contains("<state>confirmed</state>") {
        state = next_state(&mut key);
    }
    call.bye();
    let mut state = next_state(&mut key);
    while state.contains("<dialog ") {
        state = next_state(&mut key);
    }
    // A line of another tenant, or none, cannot be watched.
    pbx_admin(
        dir.path(),
        &["tenant", "add", "other", "--domain", "other.test"],
    );
    pbx_admin(
        dir.path(),
        &[
            "line",
            "add",
            "--tenant",
            "other",
            "201",
            "--password",
            "secret201",
        ],
    );
    let mut stranger = SipClient::udp(pbx.addr);
    let refused = subscribe(&mut stranger, "102", "201", "127.0.0.1");
    assert_eq!(refused.code(), Some(404));
}
