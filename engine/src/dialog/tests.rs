use std::time::{Duration, Instant};

use super::*;
use crate::fixtures::{self, parse, SNOM_200, YEALINK_INVITE};
use crate::sip::{HeaderName, Message, Method};
use crate::timer::TimerConfig;

const VIA: LocalVia<'static> = LocalVia {
    transport: "UDP",
    sent_by: "203.0.113.5:5060",
};
const CONTACT: &str = "<sip:pbx@203.0.113.5:5060>";

/// The switch's INVITE to the Snom phone, through two record-routing proxies.
fn switch_invite() -> Message {
    parse(
        "INVITE sip:200@192.168.1.33:5060;line=k3x8f7v1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bKsw1;rport\r\n\
Max-Forwards: 70\r\n\
From: \"Desk 100\" <sip:100@pbx.example.com>;tag=sw-a\r\n\
To: <sip:200@pbx.example.com>\r\n\
Call-ID: b2b-1@203.0.113.5\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:pbx@203.0.113.5:5060>\r\n\
Content-Length: 0\r\n\r\n",
    )
}

fn with_record_route(resp: &Message, rr: &[&str]) -> Message {
    let mut text = String::from_utf8(resp.as_bytes().to_vec()).unwrap();
    let at = text.find("Contact:").unwrap();
    for r in rr.iter().rev() {
        text.insert_str(at, &format!("Record-Route: {r}\r\n"));
    }
    Message::parse(text.into_bytes()).unwrap()
}

fn lines(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    text.split("\r\n").map(str::to_owned).collect()
}

#[test]
fn uas_dialog_from_yealink_invite_and_bye() {
    let invite = parse(YEALINK_INVITE);
    let mut d = Dialog::uas(&invite, "sw-b", CONTACT).unwrap();
    assert_eq!(
        d.id(),
        &DialogId::new("0_3418497393@192.168.1.21", "sw-b", "2763148580")
    );
    assert_eq!(d.remote_target(), "sip:100@192.168.1.21:5062");
    assert_eq!(d.remote_seq(), Some(2));
    assert_eq!(d.state(), DialogState::Early);
    d.confirm();
    let bye = d.request(&Method::Bye, VIA, "z9hG4bKbye1").finish();
    assert_eq!(
        lines(&bye),
        [
            "BYE sip:100@192.168.1.21:5062 SIP/2.0",
            "Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bKbye1;rport",
            "Max-Forwards: 70",
            "From: <sip:200@pbx.example.com>;tag=sw-b",
            "To: \"Desk 100\" <sip:100@pbx.example.com>;tag=2763148580",
            "Call-ID: 0_3418497393@192.168.1.21",
            "CSeq: 1 BYE",
            "Content-Length: 0",
            "",
            "",
        ]
    );
    let again = Message::parse(bye).unwrap();
    assert_eq!(DialogId::of_response(&fixtures::answer("SIP/2.0 200 OK\r\nVia: {via}\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\nContent-Length: 0\r\n\r\n", &again)).unwrap(), *d.id());
}

#[test]
fn uac_dialog_with_loose_route_set() {
    let invite = switch_invite();
    let ok = with_record_route(
        &fixtures::answer(SNOM_200, &invite),
        &[
            "<sip:p2.example.com;lr>",
            "<sip:p1.example.com;lr>, <sip:p0.example.com;lr>",
        ],
    );
    let mut d = Dialog::uac(&invite, &ok, CONTACT).unwrap();
    assert_eq!(d.state(), DialogState::Confirmed);
    assert_eq!(d.remote_target(), "sip:200@192.168.1.33:5060;line=k3x8f7v1");
    assert_eq!(
        d.route_set(),
        [
            "<sip:p0.example.com;lr>",
            "<sip:p1.example.com;lr>",
            "<sip:p2.example.com;lr>"
        ]
    );
    let ack = d.ack(VIA, "z9hG4bKack1").finish();
    assert_eq!(
        lines(&ack)[..10],
        [
            "ACK sip:200@192.168.1.33:5060;line=k3x8f7v1 SIP/2.0",
            "Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bKack1;rport",
            "Max-Forwards: 70",
            "From: \"Desk 100\" <sip:100@pbx.example.com>;tag=sw-a",
            "To: <sip:200@pbx.example.com>;tag=kqd4nqmz3w",
            "Call-ID: b2b-1@203.0.113.5",
            "CSeq: 1 ACK",
            "Route: <sip:p0.example.com;lr>",
            "Route: <sip:p1.example.com;lr>",
            "Route: <sip:p2.example.com;lr>",
        ]
    );
    let reinvite = Message::parse(d.request(&Method::Invite, VIA, "z9hG4bKre").finish()).unwrap();
    assert_eq!(reinvite.cseq().unwrap().seq, 2);
    assert_eq!(reinvite.header(HeaderName::Contact), Some(CONTACT));
    assert!(d.local_invite_pending());
    let ack2 = Message::parse(d.ack(VIA, "z9hG4bKack2").finish()).unwrap();
    assert_eq!(ack2.cseq().unwrap().seq, 2);
    for (m, seq) in [
        (Method::Update, 3),
        (Method::Info, 4),
        (Method::Refer, 5),
        (Method::Notify, 6),
    ] {
        let r = Message::parse(d.request(&m, VIA, "z9hG4bKx").finish()).unwrap();
        assert_eq!(r.method(), Some(&m));
        assert_eq!(r.cseq().unwrap().seq, seq);
        assert_eq!(r.count(HeaderName::Route), 3);
        assert_eq!(r.count(HeaderName::Contact), usize::from(m != Method::Info));
    }
}

#[test]
fn strict_route_moves_target_into_route() {
    let invite = switch_invite();
    let ok = with_record_route(
        &fixtures::answer(SNOM_200, &invite),
        &["<sip:old.example.com>"],
    );
    let mut d = Dialog::uac(&invite, &ok, CONTACT).unwrap();
    let bye = Message::parse(d.request(&Method::Bye, VIA, "z9hG4bKb").finish()).unwrap();
    assert_eq!(bye.uri_str(), Some("sip:old.example.com"));
    assert_eq!(
        bye.values(HeaderName::Route).collect::<Vec<_>>(),
        ["<sip:200@192.168.1.33:5060;line=k3x8f7v1>"]
    );
}

#[test]
fn early_dialog_confirmed_by_2xx() {
    let invite = switch_invite();
    let ringing = fixtures::answer(fixtures::SNOM_180, &invite);
    let mut d = Dialog::uac(&invite, &ringing, CONTACT).unwrap();
    assert_eq!(d.state(), DialogState::Early);
    let ok = with_record_route(
        &fixtures::answer(SNOM_200, &invite),
        &["<sip:p.example.com;lr>"],
    );
    d.on_response(&ok);
    assert_eq!(d.state(), DialogState::Confirmed);
    assert_eq!(d.route_set(), ["<sip:p.example.com;lr>"]);
    let no_tag = parse("SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(
        Dialog::uac(&invite, &no_tag, CONTACT),
        Err(crate::Error::Dialog("response without tags"))
    );
}

fn in_dialog(method: &str, seq: u32, to_tag: &str, contact: Option<&str>) -> Message {
    let contact = contact
        .map(|c| format!("Contact: {c}\r\n"))
        .unwrap_or_default();
    parse(&format!(
        "{method} sip:pbx@203.0.113.5:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.168.1.21:5062;branch=z9hG4bK{method}{seq}\r\n\
From: \"Desk 100\" <sip:100@pbx.example.com>;tag=2763148580\r\n\
To: <sip:200@pbx.example.com>;tag={to_tag}\r\n\
Call-ID: 0_3418497393@192.168.1.21\r\n\
CSeq: {seq} {method}\r\n{contact}\
Content-Length: 0\r\n\r\n"
    ))
}

#[test]
fn in_dialog_requests_are_checked() {
    let mut d = Dialog::uas(&parse(YEALINK_INVITE), "sw-b", CONTACT).unwrap();
    d.confirm();
    assert_eq!(
        d.accept_request(&in_dialog("ACK", 2, "sw-b", None), 0),
        Ok(())
    );
    assert_eq!(
        d.accept_request(&in_dialog("BYE", 3, "other", None), 0),
        Err(Reject::NO_DIALOG)
    );
    assert_eq!(
        d.accept_request(&in_dialog("INFO", 3, "sw-b", None), 0),
        Ok(())
    );
    assert_eq!(
        d.accept_request(&in_dialog("INFO", 3, "sw-b", None), 0),
        Err(Reject::OUT_OF_ORDER)
    );
    // A re-INVITE moves the remote target.
    assert_eq!(
        d.accept_request(
            &in_dialog("INVITE", 4, "sw-b", Some("<sip:100@10.9.9.9:5062>")),
            0
        ),
        Ok(())
    );
    assert_eq!(d.remote_target(), "sip:100@10.9.9.9:5062");
    // A second re-INVITE before ours answered: 500 + Retry-After.
    let r = d
        .accept_request(&in_dialog("INVITE", 5, "sw-b", None), 7)
        .unwrap_err();
    assert_eq!((r.code, r.retry_after), (500, Some(7)));
    let resp = Message::parse(r.response(&in_dialog("INVITE", 5, "sw-b", None))).unwrap();
    assert_eq!(resp.header(HeaderName::RetryAfter), Some("7"));
    d.remote_invite_answered();
    // Glare: our re-INVITE is pending when theirs arrives.
    d.request(&Method::Invite, VIA, "z9hG4bKours");
    let r = d
        .accept_request(&in_dialog("INVITE", 6, "sw-b", None), 0)
        .unwrap_err();
    assert_eq!(r, Reject::REQUEST_PENDING);
    assert_eq!(d.glare_retry(), RetryRange::OTHER);
    d.terminate();
    assert_eq!(
        d.accept_request(&in_dialog("BYE", 9, "sw-b", None), 0),
        Err(Reject::NO_DIALOG)
    );
}

#[test]
fn glare_ranges() {
    let r = RetryRange::OWNER;
    assert_eq!(r.pick(0), Duration::from_millis(2100));
    assert_eq!(r.pick(190), Duration::from_millis(4000));
    assert_eq!(r.pick(191), Duration::from_millis(2100));
    for x in [1, 77, 12345, u32::MAX] {
        assert!(RetryRange::OWNER.contains(RetryRange::OWNER.pick(x)));
        assert!(RetryRange::OTHER.contains(RetryRange::OTHER.pick(x)));
        assert!(RetryRange::OVERLAP.contains(RetryRange::OVERLAP.pick(x)));
    }
}

#[test]
fn two_hundred_retransmitted_until_ack_or_given_up() {
    let t0 = Instant::now();
    let cfg = TimerConfig::default();
    let mut w = AckWait::new(bytes::Bytes::from_static(b"200"), 2, t0, cfg);
    let mut sends = Vec::new();
    let mut gave_up = None;
    while let Some(at) = w.next_timeout() {
        match w.on_timeout(at) {
            Some(AckWaitOutput::Retransmit(_)) => sends.push((at - t0).as_millis()),
            Some(AckWaitOutput::GiveUp) => gave_up = Some(at - t0),
            None => {}
        }
    }
    assert_eq!(&sends[..6], &[500, 1500, 3500, 7500, 11500, 15500]);
    assert_eq!(*sends.last().unwrap(), 31500);
    assert_eq!(gave_up, Some(Duration::from_secs(32)));

    let mut w = AckWait::new(bytes::Bytes::from_static(b"200"), 2, t0, cfg);
    assert!(w.on_timeout(t0 + cfg.t1).is_some());
    assert!(!w.on_ack(1), "ACK of another INVITE");
    assert!(w.on_ack(2));
    assert!(w.is_done() && w.next_timeout().is_none());
    assert_eq!(w.on_invite_retransmission(), None);
}
