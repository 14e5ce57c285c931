//! Busy-lamp fields (RFC 4235) on `pbx serve`: a phone of line 102 subscribes to line
//! 101's `dialog` events and is NOTIFYed as 101 is called (early), answers
//! (confirmed) and hangs up (no dialog); another tenant's line cannot be watched.

use crate::common::call_helpers::*;
use crate::common::sip_client::SipClient;
use crate::common::{temp_dir, Pbx};
use engine::sip::Message;

/// `c` (a phone of `user`) SUBSCRIBEs to `watched`'s dialogs, answering the
/// challenge: the final response.
fn subscribe(c: &mut SipClient, user: &str, watched: &str) -> Message {
    let dialog = Package {
        event: "dialog",
        accept: "application/dialog-info+xml",
    };
    let call_id = format!("blf-{}", c.local);
    subscribe_to(c, (user, watched), &dialog, (&call_id, 1), (None, 600))
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
    let ok = subscribe(&mut key, "102", "101");
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
    // The presence package: the same line as a PIDF document.
    let mut presence = SipClient::udp(pbx.addr);
    let pidf = Package {
        event: "presence",
        accept: "application/pidf+xml",
    };
    let call_id = format!("pres-{}", presence.local);
    let ok = subscribe_to(
        &mut presence,
        ("102", "101"),
        &pidf,
        (&call_id, 1),
        (None, 600),
    );
    assert_eq!(ok.code(), Some(200));
    let doc = loop {
        let m = presence.recv().expect("a presence NOTIFY");
        if m.method().map(|x| x.as_str()) == Some("NOTIFY") {
            assert_eq!(m.values_named("Event").next(), Some("presence"));
            break String::from_utf8_lossy(m.body()).into_owned();
        }
    };
    assert!(
        doc.contains("<basic>open</basic>") && doc.contains("Available"),
        "{doc}"
    );
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
    let refused = subscribe(&mut stranger, "102", "201");
    assert_eq!(refused.code(), Some(404));
}

/// The value of attribute `name` in the first `<dialog` element of `doc`.
fn attr(doc: &str, name: &str) -> String {
    let dialog = &doc[doc.find("<dialog ").expect("a dialog element")..];
    let at = dialog
        .find(&format!(" {name}=\""))
        .unwrap_or_else(|| panic!("no {name}: {doc}"));
    let rest = &dialog[at + name.len() + 3..];
    rest[..rest.find('"').unwrap()].to_owned()
}

#[test]
fn a_key_picks_up_the_call_ringing_its_line_by_replaces() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let mut key = SipClient::udp(pbx.addr);
    assert_eq!(subscribe(&mut key, "102", "101").code(), Some(200));
    next_state(&mut key);
    // 103 calls 101, whose phone rings: the key names the ringing dialog.
    let mut phone = Device::register(&pbx, "101");
    let mut call = Caller::call(&pbx, "103", "101");
    let invite = phone.next_invite(&[]).expect("101 rings");
    phone.respond(&invite, 180, "Ringing");
    assert_eq!(call.expect(180), 180);
    let mut state = next_state(&mut key);
    while !state.contains("local-tag=") {
        state = next_state(&mut key);
    }
    let (call_id, local, remote) = (
        attr(&state, "call-id"),
        attr(&state, "local-tag"),
        attr(&state, "remote-tag"),
    );
    assert_eq!(Some(call_id.as_str()), invite.call_id(), "{state}");
    assert_eq!(local, "dev1", "the ringing phone's own tag: {state}");
    // The key's phone (102) picks it up: INVITE with Replaces naming that dialog.
    let replaces = format!("Replaces: {call_id};to-tag={local};from-tag={remote};early-only\r\n");
    let mut picker = Caller::call_full(&pbx, "102", "101", 40500, (0, "PCMU"), &replaces);
    assert_eq!(picker.expect(200), 200, "the pickup is answered");
    picker.ack();
    // The caller is connected; 101's phone stops ringing.
    assert_eq!(call.expect(200), 200);
    call.ack();
    let cancel = recv_until(&mut phone.c, "the CANCEL at 101", |m| {
        is_request(m, "CANCEL")
    });
    phone
        .c
        .send_raw(&engine::sip::MessageWriter::response_to(&cancel, 200, "OK", None).finish());
    // Replaces naming no ringing dialog: nothing is picked up.
    let bogus = "Replaces: nothing@pbx;to-tag=a;from-tag=b;early-only\r\n";
    let mut none = Caller::call_full(&pbx, "102", "101", 40502, (0, "PCMU"), bogus);
    assert_eq!(none.expect(481), 481);
    call.bye();
}

#[test]
fn a_line_that_hides_its_callers_shows_its_keys_only_that_it_rings() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    pbx.stop();
    line_set(dir.path(), "101", &["--blf-private", "on"]);
    pbx.restart();
    let mut key = SipClient::udp(pbx.addr);
    assert_eq!(subscribe(&mut key, "102", "101").code(), Some(200));
    next_state(&mut key);
    let mut phone = Device::register(&pbx, "101");
    let mut call = Caller::call(&pbx, "103", "101");
    let invite = phone.next_invite(&[]).expect("101 rings");
    phone.respond(&invite, 180, "Ringing");
    let mut state = next_state(&mut key);
    while !state.contains("<state>early</state>") {
        state = next_state(&mut key);
    }
    assert!(state.contains("sip:anonymous@anonymous.invalid"), "{state}");
    // (The dialog's id is a random number that may hold the digits 103.)
    assert!(
        !state.contains("sip:103@") && !state.contains(">103<"),
        "the caller is hidden: {state}"
    );
    phone.respond(&invite, 486, "Busy Here");
    assert_eq!(call.expect(486), 486);
}
