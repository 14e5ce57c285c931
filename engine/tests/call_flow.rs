//! A B2BUA call driven through two sides with virtual time: the caller's leg (a
//! Yealink phone calling the switch) and a fork of outgoing legs (Snom phones called
//! by the switch). The glue in `Call` is what a call actor will do: feed the legs,
//! anchor the SDP at the switch, and pass ringing, answer and hang-up across.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use engine::call::{Fork, Leg, LegConfig, LegEvent, LegState, OutgoingInvite, Output};
use engine::sdp::Sdp;
use engine::sip::{HeaderName, Message};
use engine::timer::TimerConfig;

const YEALINK_INVITE: &str = include_str!("data/calls/yealink_invite.sip");
const SNOM_180: &str = include_str!("data/calls/snom_180.sip");
const SNOM_200: &str = include_str!("data/calls/snom_200.sip");

const SWITCH_RTP: &str = "203.0.113.5";
const PORT_TO_CALLER: u16 = 20000;
const PORT_TO_CALLEE: u16 = 20002;

fn switch_ip() -> IpAddr {
    SWITCH_RTP.parse().unwrap()
}

fn parse(text: &str) -> Message {
    Message::parse(text.as_bytes().to_vec()).unwrap()
}

/// A phone's response: the template with the request's dialog headers copied in.
fn respond(template: &str, req: &Message, device: usize) -> Message {
    let vias: Vec<&str> = req.values(HeaderName::Via).collect();
    let text = template
        .replace("{via}", &vias.join(", "))
        .replace("{from}", req.header(HeaderName::From).unwrap())
        .replace("{to}", req.header(HeaderName::To).unwrap())
        .replace("{call_id}", req.call_id().unwrap())
        .replace("{cseq}", req.header(HeaderName::CSeq).unwrap())
        .replace("192.168.1.33", &format!("192.168.1.{}", 33 + device))
        .replace("kqd4nqmz3w", &format!("snom{device}"));
    parse(&text)
}

fn simple(req: &Message, code: u16, reason: &str, device: usize) -> Message {
    let to_tag = if req.to().unwrap().tag().is_some() {
        ""
    } else {
        ";tag=kqd4nqmz3w"
    };
    respond(
        &format!("SIP/2.0 {code} {reason}\r\nVia: {{via}}\r\nFrom: {{from}}\r\nTo: {{to}}{to_tag}\r\nCall-ID: {{call_id}}\r\nCSeq: {{cseq}}\r\nContent-Length: 0\r\n\r\n"),
        req,
        device,
    )
}

/// A request from the caller inside its dialog with the switch.
fn caller_request(method: &str, seq: u32, branch: &str) -> Message {
    parse(&format!(
        "{method} sip:pbx@203.0.113.5:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.168.1.21:5062;branch={branch};rport\r\n\
From: \"Desk 100\" <sip:100@pbx.example.com>;tag=2763148580\r\n\
To: <sip:200@pbx.example.com>;tag=sw-b\r\n\
Call-ID: 0_3418497393@192.168.1.21\r\n\
CSeq: {seq} {method}\r\n\
Max-Forwards: 70\r\n\
Content-Length: 0\r\n\r\n"
    ))
}

fn caller_cancel() -> Message {
    parse(
        "CANCEL sip:200@pbx.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.168.1.21:5062;branch=z9hG4bK1466439539;rport\r\n\
From: \"Desk 100\" <sip:100@pbx.example.com>;tag=2763148580\r\n\
To: <sip:200@pbx.example.com>\r\n\
Call-ID: 0_3418497393@192.168.1.21\r\n\
CSeq: 2 CANCEL\r\n\
Max-Forwards: 70\r\n\
Content-Length: 0\r\n\r\n",
    )
}

fn cfg(seed: &str) -> LegConfig {
    LegConfig {
        timers: TimerConfig::default(),
        reliable: false,
        transport: "UDP".into(),
        sent_by: "203.0.113.5:5060".into(),
        contact: "<sip:pbx@203.0.113.5:5060>".into(),
        branch_seed: seed.into(),
        ring_timeout: Some(Duration::from_secs(30)),
        auth: None,
    }
}

/// Where a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum To {
    Caller,
    Callee(usize),
}

/// The call: what a call actor does with its legs, minus the IO.
struct Call {
    now: Instant,
    a: Leg,
    b: Fork,
    /// Everything the switch sent, in order.
    wire: Vec<(To, Message)>,
}

impl Call {
    fn start(invite: &Message, contacts: &[&str], t0: Instant) -> Call {
        let a = Leg::incoming(cfg("a"), invite, "sw-b").unwrap();
        let mut offer = a.remote_offer().unwrap();
        offer.anchor(switch_ip(), &[PORT_TO_CALLEE]);
        let legs = contacts
            .iter()
            .enumerate()
            .map(|(i, contact)| {
                let mut leg = Leg::outgoing(cfg(&format!("b{i}")));
                leg.send_invite(
                    &OutgoingInvite {
                        request_uri: (*contact).into(),
                        from: "\"Desk 100\" <sip:100@pbx.example.com>;tag=sw-a".into(),
                        to: "<sip:200@pbx.example.com>".into(),
                        call_id: format!("b2b-{i}@203.0.113.5"),
                        cseq: 1,
                        max_forwards: 69,
                        headers: Vec::new(),
                        sdp: Some(offer.clone()),
                    },
                    t0,
                );
                leg
            })
            .collect();
        let b = Fork::new(legs, t0);
        let mut call = Call {
            now: t0,
            a,
            b,
            wire: Vec::new(),
        };
        call.pump();
        call
    }

    /// Drains both sides, passing events across, until nothing moves.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(o) = self.a.poll_output() {
                moved = true;
                match o {
                    Output::Send(b) | Output::Respond(engine::call::Response { bytes: b, .. }) => {
                        self.wire.push((To::Caller, Message::parse(b).unwrap()))
                    }
                    // The caller left: end every callee leg.
                    Output::Event(LegEvent::Ended(_)) => {
                        self.b.hangup(487, "Request Terminated", self.now)
                    }
                    Output::Event(_) => {}
                }
            }
            while let Some((i, o)) = self.b.poll_output() {
                moved = true;
                match o {
                    Output::Send(b) | Output::Respond(engine::call::Response { bytes: b, .. }) => {
                        self.wire.push((To::Callee(i), Message::parse(b).unwrap()))
                    }
                    Output::Event(LegEvent::Ringing) => self.a.ring(None),
                    Output::Event(LegEvent::EarlyMedia(mut sdp)) => {
                        sdp.anchor(switch_ip(), &[PORT_TO_CALLER]);
                        self.a.ring(Some(&sdp));
                    }
                    Output::Event(LegEvent::Answered(sdp)) => {
                        let sdp = sdp.map(|mut s| {
                            s.anchor(switch_ip(), &[PORT_TO_CALLER]);
                            s
                        });
                        self.a.answer(sdp.as_ref(), self.now);
                    }
                    Output::Event(LegEvent::Ended(c)) => {
                        self.a.hangup(c.code, &c.reason, self.now);
                    }
                    Output::Event(_) => {}
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn caller_sends(&mut self, m: &Message) {
        if m.is_request() {
            self.a.on_request(m, self.now);
        } else {
            self.a.on_response(m, self.now);
        }
        self.pump();
    }

    fn callee_sends(&mut self, m: &Message) {
        let handled = if m.is_request() {
            self.b.on_request(m, self.now)
        } else {
            self.b.on_response(m, self.now)
        };
        assert!(handled, "no leg for {}", line(To::Callee(9), m));
        self.pump();
    }

    /// Moves virtual time to `at`, firing every deadline on the way.
    fn advance_to(&mut self, at: Instant) {
        loop {
            let next = [self.a.next_timeout(), self.b.next_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= at => {
                    self.now = self.now.max(t);
                    self.a.on_timeout(self.now);
                    self.b.on_timeout(self.now);
                    self.pump();
                }
                _ => break,
            }
        }
        self.now = at;
    }

    /// The messages sent since the last call, as transcript lines.
    fn take(&mut self) -> Vec<(To, Message)> {
        std::mem::take(&mut self.wire)
    }

    fn sent(&mut self) -> Vec<String> {
        self.take().iter().map(|(to, m)| line(*to, m)).collect()
    }
}

/// One transcript line: destination, request line or status, CSeq, tags.
fn line(to: To, m: &Message) -> String {
    let who = match to {
        To::Caller => "A".to_string(),
        To::Callee(i) => format!("B{i}"),
    };
    let tags = format!(
        "from-tag={} to-tag={}",
        m.from()
            .and_then(|f| f.tag().map(str::to_owned))
            .unwrap_or_default(),
        m.to()
            .and_then(|f| f.tag().map(str::to_owned))
            .unwrap_or_default()
    );
    let cseq = m.header(HeaderName::CSeq).unwrap();
    match m.code() {
        Some(code) => format!("{who} <- {code} {} | {cseq} | {tags}", m.reason().unwrap()),
        None => format!(
            "{who} <- {} {} | {cseq} | {tags}",
            m.method().unwrap(),
            m.uri_str().unwrap()
        ),
    }
}

fn find<'a>(msgs: &'a [(To, Message)], to: To, what: &str) -> &'a Message {
    &msgs
        .iter()
        .find(|(t, m)| *t == to && line(*t, m).contains(what))
        .unwrap_or_else(|| panic!("no {what} to {to:?}"))
        .1
}

const SNOM: &str = "sip:200@192.168.1.33:5060;line=k3x8f7v1";

fn assert_anchored(m: &Message, port: u16) {
    let sdp = Sdp::parse(m.body()).unwrap();
    assert_eq!(sdp.connection().unwrap().address, SWITCH_RTP);
    assert_eq!(sdp.origin().unwrap().address, SWITCH_RTP);
    assert_eq!(sdp.media()[0].port(), port);
    assert!(sdp
        .media()
        .iter()
        .all(|m| m.connection().is_none_or(|c| c.address == SWITCH_RTP)));
}

#[test]
fn basic_call_invite_ring_answer_ack_bye() {
    let t0 = Instant::now();
    let invite = parse(YEALINK_INVITE);
    let mut call = Call::start(&invite, &[SNOM], t0);
    let out = call.take();
    assert_eq!(
        out.iter().map(|(t, m)| line(*t, m)).collect::<Vec<_>>(),
        [
            "A <- 100 Trying | 2 INVITE | from-tag=2763148580 to-tag=",
            "B0 <- INVITE sip:200@192.168.1.33:5060;line=k3x8f7v1 | 1 INVITE | from-tag=sw-a to-tag=",
        ]
    );
    let b_invite = out[1].1.clone();
    assert_anchored(&b_invite, PORT_TO_CALLEE);
    let offer = Sdp::parse(b_invite.body()).unwrap();
    assert_eq!(
        offer.origin().unwrap().version,
        20519,
        "origin version bumped"
    );
    assert_eq!(offer.media()[0].payload_types(), vec![0, 8, 9, 18, 101]);

    call.now += Duration::from_millis(40);
    call.callee_sends(&simple(&b_invite, 100, "Trying", 0));
    call.callee_sends(&respond(SNOM_180, &b_invite, 0));
    assert_eq!(
        call.sent(),
        ["A <- 180 Ringing | 2 INVITE | from-tag=2763148580 to-tag=sw-b"]
    );

    call.advance_to(t0 + Duration::from_secs(5));
    assert!(
        call.sent().is_empty(),
        "nothing is retransmitted after a provisional"
    );
    call.callee_sends(&respond(SNOM_200, &b_invite, 0));
    let out = call.take();
    assert_eq!(
        out.iter().map(|(t, m)| line(*t, m)).collect::<Vec<_>>(),
        [
            "B0 <- ACK sip:200@192.168.1.33:5060;line=k3x8f7v1 | 1 ACK | from-tag=sw-a to-tag=snom0",
            "A <- 200 OK | 2 INVITE | from-tag=2763148580 to-tag=sw-b",
        ]
    );
    assert_anchored(&out[1].1, PORT_TO_CALLER);
    assert_eq!(
        out[1].1.header(HeaderName::Contact),
        Some("<sip:pbx@203.0.113.5:5060>")
    );

    // The caller's ACK is late: the 200 goes out again at T1.
    call.advance_to(t0 + Duration::from_millis(5600));
    assert_eq!(
        call.sent(),
        ["A <- 200 OK | 2 INVITE | from-tag=2763148580 to-tag=sw-b"]
    );
    call.caller_sends(&caller_request("ACK", 2, "z9hG4bKack"));
    call.advance_to(t0 + Duration::from_secs(60));
    assert!(call.sent().is_empty());
    assert_eq!(call.a.state(), LegState::Answered);

    // The caller hangs up.
    call.caller_sends(&caller_request("BYE", 3, "z9hG4bKbye"));
    let out = call.take();
    assert_eq!(
        out.iter().map(|(t, m)| line(*t, m)).collect::<Vec<_>>(),
        [
            "A <- 200 OK | 3 BYE | from-tag=2763148580 to-tag=sw-b",
            "B0 <- BYE sip:200@192.168.1.33:5060;line=k3x8f7v1 | 2 BYE | from-tag=sw-a to-tag=snom0",
        ]
    );
    call.callee_sends(&simple(&out[1].1, 200, "OK", 0));
    assert!(call.a.is_ended() && call.b.is_ended());
    assert_eq!(call.b.next_timeout(), None);
}

#[test]
fn cancel_before_answer_gives_487() {
    let t0 = Instant::now();
    let mut call = Call::start(&parse(YEALINK_INVITE), &[SNOM], t0);
    let b_invite = call.take()[1].1.clone();
    call.callee_sends(&respond(SNOM_180, &b_invite, 0));
    call.take();
    call.now += Duration::from_secs(2);
    call.caller_sends(&caller_cancel());
    let out = call.take();
    assert_eq!(
        out.iter().map(|(t, m)| line(*t, m)).collect::<Vec<_>>(),
        [
            "A <- 200 OK | 2 CANCEL | from-tag=2763148580 to-tag=sw-b",
            "A <- 487 Request Terminated | 2 INVITE | from-tag=2763148580 to-tag=sw-b",
            "B0 <- CANCEL sip:200@192.168.1.33:5060;line=k3x8f7v1 | 1 CANCEL | from-tag=sw-a to-tag=",
        ]
    );
    let cancel = &out[2].1;
    assert_eq!(
        cancel.top_via(),
        b_invite.top_via(),
        "CANCEL keeps the INVITE's branch"
    );
    call.callee_sends(&simple(cancel, 200, "OK", 0));
    call.callee_sends(&simple(&b_invite, 487, "Request Terminated", 0));
    assert_eq!(
        call.sent(),
        ["B0 <- ACK sip:200@192.168.1.33:5060;line=k3x8f7v1 | 1 ACK | from-tag=sw-a to-tag=snom0"]
    );
    assert!(call.a.is_ended() && call.b.is_ended());
}

#[test]
fn busy_callee_gives_486_to_caller() {
    let t0 = Instant::now();
    let mut call = Call::start(&parse(YEALINK_INVITE), &[SNOM], t0);
    let b_invite = call.take()[1].1.clone();
    call.callee_sends(&simple(&b_invite, 486, "Busy Here", 0));
    assert_eq!(
        call.sent(),
        [
            "B0 <- ACK sip:200@192.168.1.33:5060;line=k3x8f7v1 | 1 ACK | from-tag=sw-a to-tag=snom0",
            "A <- 486 Busy Here | 2 INVITE | from-tag=2763148580 to-tag=sw-b",
        ]
    );
    assert!(call.a.is_ended());
}

#[test]
fn no_answer_cancels_and_gives_480() {
    let t0 = Instant::now();
    let mut call = Call::start(&parse(YEALINK_INVITE), &[SNOM], t0);
    let b_invite = call.take()[1].1.clone();
    call.callee_sends(&respond(SNOM_180, &b_invite, 0));
    call.take();
    call.advance_to(t0 + Duration::from_millis(29_999));
    assert!(call.sent().is_empty());
    call.advance_to(t0 + Duration::from_secs(30));
    let out = call.take();
    assert_eq!(
        out.iter().map(|(t, m)| line(*t, m)).collect::<Vec<_>>(),
        ["B0 <- CANCEL sip:200@192.168.1.33:5060;line=k3x8f7v1 | 1 CANCEL | from-tag=sw-a to-tag="]
    );
    call.callee_sends(&simple(&out[0].1, 200, "OK", 0));
    call.callee_sends(&simple(&b_invite, 487, "Request Terminated", 0));
    assert_eq!(
        call.sent(),
        [
            "B0 <- ACK sip:200@192.168.1.33:5060;line=k3x8f7v1 | 1 ACK | from-tag=sw-a to-tag=snom0",
            "A <- 480 No Answer | 2 INVITE | from-tag=2763148580 to-tag=sw-b",
        ]
    );
}

const SECOND: &str = "sip:200@192.168.1.34:5060";

#[test]
fn fork_first_answer_wins_other_cancelled() {
    let t0 = Instant::now();
    let mut call = Call::start(&parse(YEALINK_INVITE), &[SNOM, SECOND], t0);
    let out = call.take();
    let inv0 = find(&out, To::Callee(0), "INVITE").clone();
    let inv1 = find(&out, To::Callee(1), "INVITE").clone();
    assert_eq!(inv1.uri_str(), Some(SECOND));
    assert_ne!(inv0.call_id(), inv1.call_id());
    assert_anchored(&inv1, PORT_TO_CALLEE);

    call.callee_sends(&respond(SNOM_180, &inv0, 0));
    call.callee_sends(&respond(SNOM_180, &inv1, 1));
    assert_eq!(
        call.sent(),
        ["A <- 180 Ringing | 2 INVITE | from-tag=2763148580 to-tag=sw-b"],
        "one 180"
    );

    call.callee_sends(&respond(SNOM_200, &inv1, 1));
    let out = call.take();
    assert_eq!(
        out.iter().map(|(t, m)| line(*t, m)).collect::<Vec<_>>(),
        [
            "B1 <- ACK sip:200@192.168.1.34:5060;line=k3x8f7v1 | 1 ACK | from-tag=sw-a to-tag=snom1",
            "B0 <- CANCEL sip:200@192.168.1.33:5060;line=k3x8f7v1 | 1 CANCEL | from-tag=sw-a to-tag=",
            "A <- 200 OK | 2 INVITE | from-tag=2763148580 to-tag=sw-b",
        ]
    );
    assert_eq!(
        out[1].1.values_named("Reason").next(),
        Some("SIP;cause=200;text=\"Call completed elsewhere\"")
    );
    assert_anchored(&out[2].1, PORT_TO_CALLER);
    call.callee_sends(&simple(&out[1].1, 200, "OK", 0));
    call.callee_sends(&simple(&inv0, 487, "Request Terminated", 0));
    assert_eq!(
        call.sent(),
        ["B0 <- ACK sip:200@192.168.1.33:5060;line=k3x8f7v1 | 1 ACK | from-tag=sw-a to-tag=snom0"]
    );
    assert_eq!(call.b.winner(), Some(1));
    assert!(call.b.legs()[0].is_ended());
    assert_eq!(call.a.state(), LegState::Answered);

    // The winner hangs up: BYE to the caller.
    let bye = parse(
        "BYE sip:pbx@203.0.113.5:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.168.1.34:5060;branch=z9hG4bKsnom9\r\n\
From: <sip:200@pbx.example.com>;tag=snom1\r\n\
To: \"Desk 100\" <sip:100@pbx.example.com>;tag=sw-a\r\n\
Call-ID: b2b-1@203.0.113.5\r\n\
CSeq: 7 BYE\r\n\
Content-Length: 0\r\n\r\n",
    );
    call.caller_sends(&caller_request("ACK", 2, "z9hG4bKack"));
    call.callee_sends(&bye);
    assert_eq!(
        call.sent(),
        [
            "B1 <- 200 OK | 7 BYE | from-tag=snom1 to-tag=sw-a",
            "A <- BYE sip:100@192.168.1.21:5062 | 1 BYE | from-tag=sw-b to-tag=2763148580",
        ]
    );
}

#[test]
fn fork_late_answer_gets_ack_then_bye() {
    let t0 = Instant::now();
    let mut call = Call::start(&parse(YEALINK_INVITE), &[SNOM, SECOND], t0);
    let out = call.take();
    let inv0 = find(&out, To::Callee(0), "INVITE").clone();
    let inv1 = find(&out, To::Callee(1), "INVITE").clone();
    call.callee_sends(&respond(SNOM_180, &inv0, 0));
    call.callee_sends(&respond(SNOM_180, &inv1, 1));
    call.callee_sends(&respond(SNOM_200, &inv0, 0));
    let out = call.take();
    let cancel = find(&out, To::Callee(1), "CANCEL").clone();
    // Device 1 answered before the CANCEL reached it.
    call.callee_sends(&respond(SNOM_200, &inv1, 1));
    call.callee_sends(&simple(&cancel, 200, "OK", 1));
    let out = call.take();
    assert_eq!(
        out.iter().map(|(t, m)| line(*t, m)).collect::<Vec<_>>(),
        [
            "B1 <- ACK sip:200@192.168.1.34:5060;line=k3x8f7v1 | 1 ACK | from-tag=sw-a to-tag=snom1",
            "B1 <- BYE sip:200@192.168.1.34:5060;line=k3x8f7v1 | 2 BYE | from-tag=sw-a to-tag=snom1",
        ]
    );
    call.callee_sends(&simple(&out[1].1, 200, "OK", 1));
    assert!(call.b.legs()[1].is_ended());
    assert_eq!(call.b.winner(), Some(0));
    assert_eq!(
        call.a.state(),
        LegState::Answered,
        "the caller never hears of it"
    );
}
