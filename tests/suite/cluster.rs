//! Three switch nodes sharing one PostgreSQL store behind the Kamailio edge
//! (`deploy/kamailio/edge.cfg`), all on this machine: the test starts its own
//! PostgreSQL, the edge on 127.0.0.1 and the nodes on 127.0.0.2–127.0.0.4.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common::edge::Edge;
use crate::common::postgres::Postgres;
use crate::common::{free_port, temp_dir, Pbx};

/// `pbx ARGS… --store URL` (an admin command against the shared store).
fn admin(url: &str, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_pbx"))
        .args(args)
        .args(["--store", url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pbx {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A node's arguments: the shared store and files, its id, the edge it trusts.
fn node_args<'a>(url: &'a str, files: &'a str, id: &'a str) -> [&'a str; 8] {
    [
        "--store",
        url,
        "--files-dir",
        files,
        "--node-id",
        id,
        "--edge",
        "127.0.0.1",
    ]
}

/// Phones of a tenant registering through the edge and calling each other, with
/// their audio checked, for `secs` seconds at `rate` calls/s.
fn phones<'a>(
    edge: &'a str,
    domain: &'a str,
    exts: &'a str,
    rate: &'a str,
    secs: &'a str,
) -> Vec<&'a str> {
    vec![
        "--target",
        edge,
        "--domain",
        domain,
        "--extensions",
        exts,
        "--password",
        "secret{ext}",
        "--rate",
        rate,
        "--duration",
        secs,
        "--hold",
        "1s",
    ]
}

/// Waits up to `limit` for a simulator to end by itself.
fn ended(child: &mut std::process::Child, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    crate::common::wait_or_kill(child);
    false
}

fn n(v: &serde_json::Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("{key} in {v}"))
}

/// Tenant acme is served by node n2 with n3 as its backup, tenant beta by n4 with n3
/// as its backup; their phones register through the edge. Under load (acme's phones
/// call each other at 5 calls/s, beta's at 2), n2 is killed with `kill -9`: acme's
/// new calls go to n3, which reaches the callees through the registrations and Paths
/// n2 stored in the shared store, without any phone registering again; beta loses
/// nothing. n2 started again serves acme again; a configuration change made through
/// one node's store is in force on the others at once; SIGTERM drains a node with
/// no call lost.
#[test]
fn three_nodes_share_the_store_and_a_tenant_fails_over_without_registering_again() {
    let dir = temp_dir();
    let pg = Postgres::start();
    let url = pg.create_db("pbx");
    // The directory the nodes share (an NFS mount on real machines).
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    let files = files.to_str().unwrap();
    admin(&url, &["tenant", "add", "acme", "--domain", "acme.test"]);
    admin(&url, &["tenant", "add", "beta", "--domain", "beta.test"]);
    for (tenant, from, to) in [("acme", "1000", "1019"), ("beta", "2000", "2009")] {
        admin(
            &url,
            &[
                "line",
                "add-range",
                "--tenant",
                tenant,
                "--from",
                from,
                "--to",
                to,
                "--password",
                "secret{ext}",
            ],
        );
    }
    let start = |id: &str, ip: &str, port: u16| {
        Pbx::start_with(
            &dir.path().join(id),
            &format!("{ip}:{port}"),
            &node_args(&url, files, id),
        )
    };
    let n2_port = free_port();
    let mut n2 = start("n2", "127.0.0.2", n2_port);
    let mut n3 = start("n3", "127.0.0.3", free_port());
    let n4 = start("n4", "127.0.0.4", free_port());
    let edge = Edge::start(
        &dir.path().join("edge"),
        &[
            (1, n2.addr, 10),
            (1, n3.addr, 5),
            (2, n4.addr, 10),
            (2, n3.addr, 5),
        ],
        &[("acme.test", 1), ("beta.test", 2)],
    );
    let target = edge.addr.to_string();
    let calls_on = |node: &str, tenant: &str| -> u64 {
        pg.query(
            "pbx",
            &format!(
                "SELECT count(*) FROM calls c JOIN tenants t ON t.id = c.tenant_id
                 WHERE c.node = '{node}' AND t.name = '{tenant}' AND c.disposition = 'answered'"
            ),
        )
        .parse()
        .unwrap()
    };

    // Both tenants under load; acme's primary dies 8 s in.
    let acme_json = dir.path().join("acme.json");
    let beta_json = dir.path().join("beta.json");
    let mut acme = crate::sim::spawn_sim(
        &phones(&target, "acme.test", "1000-1019", "5", "30s"),
        &acme_json,
    );
    let mut beta = crate::sim::spawn_sim(
        &phones(&target, "beta.test", "2000-2009", "2", "30s"),
        &beta_json,
    );
    let warm = Instant::now();
    while calls_on("n2", "acme") < 10 {
        assert!(
            warm.elapsed() < Duration::from_secs(20),
            "acme's calls do not reach n2"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let registered_on_n2 = pg.query(
        "pbx",
        "SELECT count(*) FROM bindings b JOIN tenants t ON t.id = b.tenant_id
         WHERE t.name = 'acme' AND b.node = 'n2' AND b.path IS NOT NULL",
    );
    assert_eq!(
        registered_on_n2, "20",
        "acme's phones registered on n2 with the edge's Path"
    );
    let answered_before = calls_on("n2", "acme");
    n2.kill();
    let killed_ms = actors::clock::unix_millis();
    let killed = Instant::now();

    // acme's calls go on through n3, which calls the phones n2 registered.
    let mut failover = None;
    while failover.is_none() {
        assert!(
            killed.elapsed() < Duration::from_secs(15),
            "no acme call answered on the backup within 15 s of the kill"
        );
        let first = pg.query(
            "pbx",
            &format!(
                "SELECT min(c.started_at) FROM calls c JOIN tenants t ON t.id = c.tenant_id
                 WHERE c.node = 'n3' AND t.name = 'acme' AND c.disposition = 'answered'
                   AND c.started_at >= {killed_ms}"
            ),
        );
        failover = first.parse::<u64>().ok().map(|at| at - killed_ms);
        std::thread::sleep(Duration::from_millis(100));
    }
    let failover = failover.unwrap();
    eprintln!("first acme call answered on the backup {failover} ms after the kill");

    for sim in [&mut acme, &mut beta] {
        assert!(ended(sim, Duration::from_secs(90)), "the simulator ends");
    }
    let read = |json: &std::path::Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap()
    };
    let (acme_report, beta_report) = (read(&acme_json), read(&beta_json));
    // beta never noticed.
    assert_eq!(n(&beta_report, "attempted"), 60, "{beta_report}");
    assert_eq!(n(&beta_report, "answered"), 60, "{beta_report}");
    assert_eq!(n(&beta_report, "audio_ok"), 60, "{beta_report}");
    assert_eq!(calls_on("n4", "beta"), 60, "beta stayed on n4");
    // acme lost the calls up on n2 when it died: their BYEs (and, at the end, their
    // callees' BYEs) go to the dead node; every other call was answered and heard,
    // those placed during the edge's switch-over too, later than the rest.
    let (attempted, answered) = (n(&acme_report, "attempted"), n(&acme_report, "answered"));
    assert_eq!(attempted + n(&acme_report, "skipped"), 150, "{acme_report}");
    assert_eq!(answered, attempted, "{acme_report}");
    let failed = acme_report["failed"].as_object().unwrap();
    let lost = failed.get("bye 408").and_then(|v| v.as_u64()).unwrap_or(0);
    assert!(lost <= 10, "lost: {acme_report}");
    eprintln!("acme: {answered} of {attempted} answered, {lost} lost with n2");
    for (cause, count) in failed {
        assert!(
            ["bye 408", "bye timeout", "rtp loss"].contains(&cause.as_str())
                && count.as_u64().unwrap() <= lost,
            "{cause}: {acme_report}"
        );
    }
    let on_n3 = calls_on("n3", "acme");
    assert!(on_n3 >= 80, "acme on n3: {on_n3}, {acme_report}");
    assert_eq!(
        answered_before.max(calls_on("n2", "acme")) + on_n3 + lost,
        answered,
        "every answered call is in the journal once, but those lost"
    );
    // Nobody registered again: the bindings are still the ones n2 took (until the
    // simulator ended and removed them).
    assert_eq!(
        pg.query(
            "pbx",
            "SELECT count(*) FROM bindings b JOIN tenants t ON t.id = b.tenant_id
             WHERE t.name = 'acme' AND b.node = 'n3'"
        ),
        "0",
        "no acme phone registered on n3"
    );

    // `pbx cluster check` on the shared store sees the three nodes by what they
    // wrote, and the edge answering.
    let check = admin(
        &url,
        &[
            "cluster",
            "check",
            "--files-dir",
            files,
            "--node-id",
            "n3",
            "--edge",
            &target,
        ],
    );
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(text.contains("postgres://postgres@127.0.0.1"), "{text}");
    assert!(text.contains("reachable, schema version"), "{text}");
    for node in ["n2", "n3", "n4"] {
        assert!(text.contains(&format!("node {node}: ")), "{node}: {text}");
    }
    assert!(text.contains(&format!("edge {target}: 200 OK")), "{text}");

    // n2 again: it rejoins and, once the edge's probes find it, has acme's calls.
    let n2 = start("n2", "127.0.0.2", n2_port);
    let back = Instant::now();
    let before = calls_on("n2", "acme");
    loop {
        let short = dir.path().join("again.json");
        let (_, r) = crate::sim::sim_report(
            &phones(&target, "acme.test", "1000-1009", "2", "2s"),
            &short,
            Duration::from_secs(60),
        );
        assert_eq!(n(&r, "answered"), n(&r, "attempted"), "{r}");
        if calls_on("n2", "acme") > before {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "n2 got no acme call back"
        );
    }

    // A change made in the store is announced to every node (LISTEN/NOTIFY), as a
    // node hears it: a new line of acme's, added through the store, names acme, and
    // registers on n2 right away.
    let (tx, heard) = std::sync::mpsc::channel();
    actors::store::db::listen::spawn(url.clone(), move |h| tx.send(h).is_ok()).unwrap();
    use actors::store::db::listen::Heard;
    let next_change = || loop {
        match heard
            .recv_timeout(Duration::from_secs(10))
            .expect("a change is heard")
        {
            Heard::Quiet | Heard::Everything => continue,
            other => break other,
        }
    };
    let acme_id: i64 = pg
        .query("pbx", "SELECT id FROM tenants WHERE name = 'acme'")
        .parse()
        .unwrap();
    // The listener is connected once it has said so (Everything).
    while heard.recv_timeout(Duration::from_secs(10)).unwrap() != Heard::Everything {}
    let added = Instant::now();
    admin(
        &url,
        &[
            "line",
            "add",
            "--tenant",
            "acme",
            "1050",
            "--password",
            "secret1050",
        ],
    );
    assert_eq!(next_change(), Heard::Line(acme_id, "1050".into()));
    eprintln!(
        "a line added through the store was announced in {:?}",
        added.elapsed()
    );
    // 1050 registers through the edge (on n2, acme's primary); how many did.
    let register = |password: &str| {
        let json = dir.path().join("pw.json");
        let (_, r) = crate::sim::sim_report(
            &[
                "--register-only",
                "--target",
                &target,
                "--domain",
                "acme.test",
                "--extensions",
                "1050-1050",
                "--password",
                password,
                "--register-rate",
                "1",
            ],
            &json,
            Duration::from_secs(30),
        );
        n(&r, "registered")
    };
    assert_eq!(register("secret1050"), 1);
    assert_eq!(
        next_change(),
        Heard::Bindings {
            tenant: acme_id,
            ext: "1050".into(),
            node: Some("n2".into())
        },
        "its registration is announced as n2's"
    );
    // A password changed through the store is the running line's on n2 once the
    // store has announced it (its line named): the old one no longer registers.
    admin(
        &url,
        &[
            "line",
            "passwd",
            "--tenant",
            "acme",
            "1050",
            "--password",
            "changed1050",
        ],
    );
    assert_eq!(next_change(), Heard::Line(acme_id, "1050".into()));
    let changed = Instant::now();
    while register("changed1050") == 0 {
        assert!(
            changed.elapsed() < Duration::from_secs(5),
            "the new password is refused"
        );
    }
    assert_eq!(
        register("secret1050"),
        0,
        "the old password still registers"
    );

    // SIGTERM drains n3 (beta's backup and, for a moment, nobody's primary) and
    // n2 with calls up: none is lost.
    let mut n2 = n2;
    let drain_json = dir.path().join("drain.json");
    let mut sim = crate::sim::spawn_sim(
        &phones(&target, "acme.test", "1000-1009", "2", "6s"),
        &drain_json,
    );
    std::thread::sleep(Duration::from_secs(3));
    n2.signal("TERM");
    assert!(ended(&mut sim, Duration::from_secs(60)));
    let r = read(&drain_json);
    assert_eq!(n(&r, "answered"), n(&r, "attempted"), "{r}");
    assert!(n2
        .wait_exit(Duration::from_secs(30))
        .is_some_and(|s| s.success()));
    n3.stop();
}
