//! The switch as one node of several behind an edge proxy: probed with OPTIONS
//! without credentials, and drained on SIGTERM: new calls and probes get 503 (the
//! edge sends them to another node) while the calls in progress go on to their end.

use std::time::Duration;

use crate::common::call_helpers::*;
use crate::common::sip_client::SipClient;
use crate::common::{temp_dir, Pbx};

#[test]
fn sigterm_drains_the_calls_in_progress_and_turns_new_ones_away() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    let mut probe = SipClient::udp(pbx.addr);
    assert_eq!(
        options(&mut probe),
        Some(200),
        "a probe needs no credentials"
    );
    // A call in progress: 100 in the conference.
    let mut call = Caller::call(&pbx, "100", "500");
    assert_eq!(call.expect(200), 200);
    call.ack();

    pbx.signal("TERM");
    let mut drained = false;
    for _ in 0..50 {
        if options(&mut probe) == Some(503) {
            drained = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(drained, "probes are answered 503 while the switch drains");
    // A new call is turned away before any challenge, with a Retry-After.
    let mut other = SipClient::udp(pbx.addr);
    let refusal = invite_unsigned(&mut other, "101", "500");
    assert_eq!(refusal.code(), Some(503));
    assert!(refusal
        .header(engine::sip::HeaderName::RetryAfter)
        .is_some());
    // The call in progress goes on until its caller hangs up; then the switch stops.
    assert!(
        pbx.wait_exit(Duration::from_millis(500)).is_none(),
        "the switch waits for the call"
    );
    call.bye();
    let status = pbx
        .wait_exit(Duration::from_secs(10))
        .expect("the switch stops once its last call ended");
    assert!(status.success(), "pbx exited with {status}");
    let db = rusqlite::Connection::open(dir.path().join("pbx.sqlite3")).unwrap();
    let done: i64 = db
        .query_row(
            "SELECT count(*) FROM calls WHERE to_number = '500' AND state = 'done'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(done, 1, "the drained call is journalled");
}

/// A phone registers through an edge proxy the switch trusts (127.0.0.5): the
/// binding keeps its Path and the node's id, the 200 echoes the Path, and a call
/// to the phone goes to the edge with the Path as its Route, not to the phone's
/// Contact. The same Path from an address that is no edge is ignored.
#[test]
fn a_phone_registered_through_a_trusted_edge_is_called_through_it() {
    use engine::auth::Algorithm;
    use engine::sip::HeaderName;
    let dir = temp_dir();
    let pbx = Pbx::start_with(
        dir.path(),
        "127.0.0.1:0",
        &["--node-id", "node-a", "--edge", "127.0.0.5"],
    );
    let mut edge = SipClient::udp_from(pbx.addr, "127.0.0.5");
    let path = format!("<sip:{};lr;received=sip:127.0.0.1:5999>", edge.local);
    // The phone listens on 5999 behind the edge; nothing there answers the switch.
    let contact = "<sip:101@127.0.0.1:5999>";
    let ok = edge.register_with(
        "101",
        "secret101",
        "127.0.0.1",
        Some(contact),
        Some(600),
        Algorithm::Md5,
        &format!("Path: {path}\r\n"),
    );
    assert_eq!(ok.code(), Some(200));
    assert_eq!(ok.values_named("Path").collect::<Vec<_>>(), [path.as_str()]);
    let db = rusqlite::Connection::open(dir.path().join("pbx.sqlite3")).unwrap();
    let (stored, node): (Option<String>, Option<String>) = db
        .query_row(
            "SELECT path, node FROM bindings WHERE ext = '101'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(stored.as_deref(), Some(path.as_str()));
    assert_eq!(node.as_deref(), Some("node-a"));

    // 100 calls 101: the INVITE reaches the edge, routed by the Path.
    let mut caller = Caller::call(&pbx, "100", "101");
    edge.set_timeout(Duration::from_secs(5));
    let invite = loop {
        let m = edge.recv().expect("the INVITE for 101 reaches the edge");
        if m.method().map(|m| m.as_str()) == Some("INVITE") {
            break m;
        }
    };
    assert_eq!(invite.uri().unwrap().raw, "sip:101@127.0.0.1:5999");
    assert_eq!(
        invite.values(HeaderName::Route).collect::<Vec<_>>(),
        [path.as_str()]
    );
    let busy = format!(
        "SIP/2.0 486 Busy Here\r\n{}To: {};tag=edge\r\nContent-Length: 0\r\n\r\n",
        ["Via", "From", "Call-ID", "CSeq"]
            .iter()
            .flat_map(|h| invite.values_named(h).map(move |v| format!("{h}: {v}\r\n")))
            .collect::<String>(),
        invite.header(HeaderName::To).unwrap()
    );
    edge.send_raw(busy.as_bytes());
    assert_eq!(caller.expect(486), 486);

    // A Path from a phone that is no edge is not kept.
    let mut phone = SipClient::udp(pbx.addr);
    let ok = phone.register_with(
        "102",
        "secret102",
        "127.0.0.1",
        Some(&format!("<sip:102@{}>", phone.local)),
        Some(600),
        Algorithm::Md5,
        "Path: <sip:10.9.9.9;lr>\r\n",
    );
    assert_eq!(ok.code(), Some(200));
    assert_eq!(ok.values_named("Path").count(), 0);
    let stored: Option<String> = db
        .query_row("SELECT path FROM bindings WHERE ext = '102'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(stored, None);
}

/// Guessing passwords through a trusted edge penalises the guesser behind it (the
/// address the edge recorded in its client's Via), not the edge: a phone behind the
/// same edge registers right after.
#[test]
fn guessing_through_an_edge_penalises_the_guesser_not_the_edge() {
    use engine::auth::Algorithm;
    let dir = temp_dir();
    let pbx = Pbx::start_with(dir.path(), "127.0.0.1:0", &["--edge", "127.0.0.5"]);
    let mut edge = SipClient::udp_from(pbx.addr, "127.0.0.5");
    // The edge's client's Via, below the edge's own.
    let behind = |ip: &str| {
        format!("Via: SIP/2.0/UDP 10.0.0.7:5060;branch=z9hG4bKphone;received={ip};rport=5062\r\n")
    };
    let guesser = behind("192.0.2.66");
    let contact = Some("<sip:101@10.0.0.7:5060>");
    for _ in 0..6 {
        let resp = edge.register_with(
            "101",
            "guess",
            "127.0.0.1",
            contact,
            None,
            Algorithm::Md5,
            &guesser,
        );
        assert_eq!(resp.code(), Some(403));
    }
    // The guesser's right password is not looked at any more.
    edge.set_timeout(Duration::from_secs(1));
    assert!(
        edge.register_past_challenge("101", contact, &guesser)
            .is_none(),
        "the guesser behind the edge is penalised"
    );
    // Another phone behind the same edge is not.
    edge.set_timeout(Duration::from_secs(3));
    let ok = edge.register_with(
        "102",
        "secret102",
        "127.0.0.1",
        Some("<sip:102@10.0.0.8:5060>"),
        None,
        Algorithm::Md5,
        &behind("192.0.2.77"),
    );
    assert_eq!(ok.code(), Some(200), "the edge itself is not penalised");
}

/// `pbx cluster check` on a running node's data: the store, the node by its
/// registrations, an edge that answers (here the node itself, which answers probes)
/// and one that does not (exit code 1, named).
#[test]
fn cluster_check_reports_the_store_its_nodes_and_each_edge() {
    use engine::auth::Algorithm;
    let dir = temp_dir();
    let pbx = Pbx::start_with(dir.path(), "127.0.0.1:0", &["--node-id", "node-a"]);
    let mut phone = SipClient::udp(pbx.addr);
    let contact = format!("<sip:101@{}>", phone.local);
    let ok = phone.register(
        "101",
        "secret101",
        "127.0.0.1",
        Some(&contact),
        None,
        Algorithm::Md5,
    );
    assert_eq!(ok.code(), Some(200));
    let edge = pbx.addr.to_string();
    let out = pbx_admin(
        dir.path(),
        &["cluster", "check", "--node-id", "node-a", "--edge", &edge],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("reachable, schema version"), "{text}");
    assert!(text.contains("node node-a: 1 live registrations"), "{text}");
    assert!(text.contains(&format!("edge {edge}: 200 OK")), "{text}");
    assert!(text.contains("writable"), "{text}");
    // Nothing answers on this port.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent = silent.local_addr().unwrap().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pbx"))
        .args(["cluster", "check", "--edge", &silent, "--timeout-ms", "300"])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("edge {silent}: no answer")),
        "{text}"
    );
}

/// The tenant's calls on a node, as its journal says.
fn calls_done(node: &Pbx) -> i64 {
    let db = rusqlite::Connection::open(node.data_dir.join("pbx.sqlite3")).unwrap();
    db.query_row("SELECT count(*) FROM calls WHERE state = 'done'", [], |r| {
        r.get(0)
    })
    .unwrap()
}

/// Two nodes behind the Kamailio edge (`deploy/kamailio/edge.cfg`): the tenant's
/// primary on 127.0.0.2 (the higher priority) and its backup on 127.0.0.3, each with
/// the demo tenant in a SQLite store of its own (no shared store: the calls go to the
/// conference, which needs no registration; `cluster.rs` fails over phones through a
/// shared PostgreSQL). Calls go to the
/// primary; after a `kill -9` of it, the edge finds it silent, marks it down and
/// passes the call on to the backup: calls succeed again within 15 s of the kill.
/// The primary started again gets the calls back once it answers the edge's probes.
#[test]
fn the_edge_fails_calls_over_to_the_backup_node_and_back() {
    use crate::common::{edge::Edge, free_port, sipp};
    use std::time::Instant;
    let dir = temp_dir();
    let node = |name: &'static str, ip: &str| {
        let addr = format!("{ip}:{}", free_port());
        let args = ["--edge", "127.0.0.1", "--node-id", name];
        (dir.path().join(name), addr, args)
    };
    let (a_dir, a_addr, a_args) = node("node-a", "127.0.0.2");
    let (b_dir, b_addr, b_args) = node("node-b", "127.0.0.3");
    let mut a = Pbx::start_with(&a_dir, &a_addr, &a_args);
    let b = Pbx::start_with(&b_dir, &b_addr, &b_args);
    let edge = Edge::start(
        &dir.path().join("edge"),
        &[(1, a.addr, 10), (1, b.addr, 5)],
        &[("127.0.0.1", 1)],
    );
    let call = |n: usize| {
        let inject = vec!["100;secret100;500;127.0.0.1".to_owned(); n];
        sipp::run(
            edge.addr,
            "call_caller.xml",
            &inject,
            "u1",
            free_port(),
            dir.path(),
        )
        .success
    };
    assert!(call(3), "calls through the edge");
    assert_eq!((calls_done(&a), calls_done(&b)), (3, 0), "on the primary");

    a.kill();
    let killed = Instant::now();
    while !call(1) {
        assert!(
            killed.elapsed() < Duration::from_secs(15),
            "no call went through within 15 s of the kill"
        );
    }
    let failover = killed.elapsed();
    assert!(call(3), "the backup takes the calls");
    assert_eq!(calls_done(&b), 4, "on the backup");
    eprintln!("first call through after the kill: {failover:?}");

    // The primary again: once it answers the probes, the calls come back to it.
    let a = Pbx::start_with(&a_dir, &a_addr, &a_args);
    let back = Instant::now();
    loop {
        assert!(call(1));
        if calls_done(&a) > 3 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(15),
            "the primary got no call back within 15 s"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// `pbx sim` through the edge. Direct (`--uac-only`) to the conference: the edge
/// record-routes the calls, so the simulator's ACK and BYE carry the route set (RFC
/// 3261 §12.1.2) and every call ends with its BYE answered. Then the demo tenant's
/// phones register through the edge (their bindings keep its Path) and call each
/// other: the switch reaches each callee back through the edge, and every call's
/// audio is heard both ways.
#[test]
fn the_simulator_calls_through_the_edge() {
    use crate::common::{edge::Edge, free_port};
    let dir = temp_dir();
    let pbx = Pbx::start_with(
        &dir.path().join("node"),
        &format!("127.0.0.2:{}", free_port()),
        &["--edge", "127.0.0.1"],
    );
    let edge = Edge::start(
        &dir.path().join("edge"),
        &[(1, pbx.addr, 10)],
        &[("127.0.0.1", 1)],
    );
    let json = dir.path().join("sim.json");
    let target = edge.addr.to_string();
    let more = [
        "--rate",
        "10",
        "--duration",
        "2s",
        "--hold",
        "200ms",
        "--rtp",
        "off",
    ];
    let direct = crate::sim::conference_calls(&target, &more);
    let (out, report) = crate::sim::sim_report(&direct, &json, Duration::from_secs(60));
    assert_eq!(report["attempted"], 20, "{report}");
    assert_eq!(report["answered"], 20, "{report}");
    assert_eq!(report["failed"], serde_json::json!({}), "{report}");
    assert!(out.status.success());

    let phones = [
        "--target",
        &target,
        "--rate",
        "2",
        "--duration",
        "3s",
        "--hold",
        "1s",
    ];
    let (out, report) = crate::sim::sim_report(&phones, &json, Duration::from_secs(60));
    assert_eq!(report["registered"], 10, "{report}");
    assert_eq!(report["attempted"], 6, "{report}");
    assert_eq!(report["answered"], 6, "{report}");
    assert_eq!(report["audio_ok"], 6, "{report}");
    assert_eq!(report["failed"], serde_json::json!({}), "{report}");
    assert!(out.status.success());
}

/// A node behind 1:1 NAT (`--advertise`): what it writes for its peers names the
/// advertised address, not the one it listens on: the Contact and the SDP of its
/// answer to a caller, the Via and Contact of its INVITE to a phone.
#[test]
fn a_node_writes_its_advertised_address() {
    let dir = temp_dir();
    let pbx = Pbx::start_with(dir.path(), "127.0.0.1:0", &["--advertise", "127.0.0.9"]);
    let port = pbx.addr.port();
    let mut call = Caller::call(&pbx, "100", "500");
    assert_eq!(call.expect(200), 200);
    let answer = call.last.clone().unwrap();
    let contact = answer.header(engine::sip::HeaderName::Contact).unwrap();
    assert!(contact.contains(&format!("127.0.0.9:{port}")), "{contact}");
    let sdp = engine::sdp::Sdp::parse(answer.body()).unwrap();
    assert_eq!(sdp.media_connection(0).unwrap().address, "127.0.0.9");
    call.ack();
    call.bye();

    let mut phone = Device::register(&pbx, "101");
    let _caller = Caller::call(&pbx, "100", "101");
    let invite = phone.next_invite(&[]).expect("101 rings");
    let via = invite.top_via().unwrap();
    assert_eq!((via.host, via.port), ("127.0.0.9", Some(port)));
    let contact = invite.header(engine::sip::HeaderName::Contact).unwrap();
    assert!(contact.contains(&format!("127.0.0.9:{port}")), "{contact}");
    let offer = engine::sdp::Sdp::parse(invite.body()).unwrap();
    assert_eq!(offer.media_connection(0).unwrap().address, "127.0.0.9");
    phone.respond(&invite, 486, "Busy Here");
}

/// SIGTERM to a node behind the edge while it carries a call: the node answers the
/// edge's probes and new INVITEs with 503, so new calls go to the other node at
/// once; the call in progress goes on through the edge to its end, and then the
/// drained node stops by itself. No call is lost.
#[test]
fn a_draining_node_behind_the_edge_loses_no_call() {
    use crate::common::{edge::Edge, free_port, sipp};
    let dir = temp_dir();
    let start = |name: &str, ip: &str| {
        Pbx::start_with(
            &dir.path().join(name),
            &format!("{ip}:{}", free_port()),
            &["--edge", "127.0.0.1", "--node-id", name],
        )
    };
    let mut a = start("node-a", "127.0.0.2");
    let b = start("node-b", "127.0.0.3");
    let edge = Edge::start(
        &dir.path().join("edge"),
        &[(1, a.addr, 10), (1, b.addr, 5)],
        &[("127.0.0.1", 1)],
    );
    // One long call through the edge, on the primary.
    let json = dir.path().join("long.json");
    let target = edge.addr.to_string();
    let more = [
        "--rate",
        "1",
        "--duration",
        "1s",
        "--hold",
        "4s",
        "--rtp",
        "off",
    ];
    let mut long = crate::sim::spawn_sim(&crate::sim::conference_calls(&target, &more), &json);
    let rows = |node: &Pbx| -> i64 {
        let db = rusqlite::Connection::open(node.data_dir.join("pbx.sqlite3")).unwrap();
        db.query_row("SELECT count(*) FROM calls", [], |r| r.get(0))
            .unwrap_or(0)
    };
    let up = std::time::Instant::now();
    while rows(&a) == 0 {
        assert!(
            up.elapsed() < Duration::from_secs(5),
            "the long call reached no node"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    a.signal("TERM");
    let inject = vec!["100;secret100;500;127.0.0.1".to_owned(); 3];
    let ok = sipp::run(
        edge.addr,
        "call_caller.xml",
        &inject,
        "u1",
        free_port(),
        dir.path(),
    );
    assert!(
        ok.success,
        "new calls go to the other node while the primary drains"
    );
    assert_eq!(calls_done(&b), 3);

    assert_eq!(
        crate::sim::wait_for(&mut long, Duration::from_secs(30)),
        Some(0)
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["answered"], 1, "{report}");
    assert_eq!(
        report["failed"],
        serde_json::json!({}),
        "the long call ended well: {report}"
    );
    let status = a
        .wait_exit(Duration::from_secs(10))
        .expect("the drained node stops once its call has ended");
    assert!(status.success());
    assert_eq!(
        calls_done(&a),
        1,
        "the drained call is journalled on its node"
    );
}
