//! `pbx sim` against the real `pbx serve`, black-box: short runs judged on the JSON
//! report, a switch that is not there, and bad scenario files.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::common::{free_port, temp_dir, Pbx};

/// Runs `pbx sim` with `args`; kills it if it has not ended after `limit` (counted in
/// sleeps, so a hang fails the test instead of blocking it).
pub(crate) fn sim(args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pbx"))
        .arg("sim")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pbx sim starts");
    let step = Duration::from_millis(100);
    let mut waited = Duration::ZERO;
    while child.try_wait().unwrap().is_none() {
        if waited >= limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "pbx sim did not end within {limit:?}; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(step);
        waited += step;
    }
    child.wait_with_output().unwrap()
}

/// `pbx sim --uac-only` arguments: line 100 of the demo tenant calls the conference
/// (500) at `target`, which the switch answers itself; then `more`.
pub(crate) fn conference_calls<'a>(target: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--uac-only",
        "--target",
        target,
        "--domain",
        "127.0.0.1",
        "--numbers",
        "500-500",
        "--caller",
        "100",
        "--password",
        "secret100",
    ];
    args.extend_from_slice(more);
    args
}

/// Starts `pbx sim ARGS… --quiet --json JSON` in the background (wait for it with
/// `wait_for`).
pub(crate) fn spawn_sim(args: &[&str], json: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_pbx"))
        .arg("sim")
        .args(args)
        .args(["--quiet", "--json"])
        .arg(json)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pbx sim starts")
}

/// Runs `pbx sim ARGS… --quiet --json JSON` and returns its output and its report.
pub(crate) fn sim_report(
    args: &[&str],
    json: &Path,
    limit: Duration,
) -> (Output, serde_json::Value) {
    let mut all = args.to_vec();
    all.extend(["--quiet", "--json", json.to_str().unwrap()]);
    let out = sim(&all, limit);
    let report = serde_json::from_slice(&std::fs::read(json).unwrap_or_default())
        .unwrap_or_else(|_| panic!("no report: {}", String::from_utf8_lossy(&out.stderr)));
    (out, report)
}

/// Waits for `child` to end (killing it after `limit`) and returns its exit code.
pub(crate) fn wait_for(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let step = Duration::from_millis(100);
    let mut waited = Duration::ZERO;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if waited >= limit {
            let _ = child.kill();
            panic!("pbx sim --uas did not end within {limit:?}");
        }
        std::thread::sleep(step);
        waited += step;
    }
}

/// Starts `pbx sim --uas --listen LISTEN ARGS… --quiet --json JSON` (a carrier) and
/// returns it once it says it listens; its stderr is read on so it never blocks.
pub(crate) fn start_uas(listen: &str, args: &[&str], json: &Path) -> std::process::Child {
    use std::io::{BufRead, BufReader};
    let mut uas = Command::new(env!("CARGO_BIN_EXE_pbx"))
        .args(["sim", "--uas", "--listen", listen])
        .args(args)
        .args(["--quiet", "--json"])
        .arg(json)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pbx sim --uas starts");
    let mut lines = BufReader::new(uas.stderr.take().unwrap()).lines();
    let first = lines.next().expect("a line").unwrap();
    assert!(first.contains("listening"), "{first}");
    std::thread::spawn(move || for _ in lines {});
    uas
}

pub(crate) fn report(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("the JSON report was written");
    serde_json::from_str(&text).expect("the report is JSON")
}

pub(crate) fn n(v: &serde_json::Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("report key {key} missing in {v}"))
}

/// Everything registered, (nearly) every call answered, every audio check passed.
fn assert_clean(r: &serde_json::Value, phones: u64) {
    assert_eq!(n(r, "phones"), phones);
    assert_eq!(n(r, "registered"), phones, "100% registered: {r}");
    let (attempted, answered) = (n(r, "attempted"), n(r, "answered"));
    assert!(attempted > 0, "calls were placed: {r}");
    assert!(answered * 1000 >= attempted * 999, "≥ 99.9% answered: {r}");
    assert_eq!(
        n(r, "audio_checked"),
        answered,
        "every answered call checked: {r}"
    );
    assert_eq!(
        n(r, "audio_ok"),
        n(r, "audio_checked"),
        "every audio check passed: {r}"
    );
    assert!(
        r["failed"].as_object().unwrap().is_empty(),
        "no failures: {r}"
    );
    assert!(r["cps"].as_f64().unwrap() > 0.0);
    for p in ["p50", "p95", "p99"] {
        assert!(
            r["setup_ms"][p].as_f64().unwrap() > 0.0,
            "setup_ms.{p}: {r}"
        );
    }
}

#[test]
fn demo_tenant_short_run_registers_answers_and_checks_audio() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let json = dir.path().join("report.json");
    let target = pbx.addr.to_string();
    let out = sim(
        &[
            "--target",
            &target,
            "--rate",
            "5",
            "--duration",
            "3s",
            "--hold",
            "0.5s",
            "--json",
            json.to_str().unwrap(),
        ],
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pbx sim failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&json);
    assert_clean(&r, 10);
    assert!(n(&r, "attempted") >= 10, "about 5 calls/s for 3 s: {r}");
    assert!(stdout.contains("INVITE→200"), "human summary: {stdout}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("active"),
        "a progress line"
    );
}

#[test]
fn scenario_file_with_ramp_and_created_extensions() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    pbx.stop();
    let added = Command::new(env!("CARGO_BIN_EXE_pbx"))
        .args(["user", "add-range", "--data-dir"])
        .arg(dir.path())
        .args([
            "--tenant",
            "demo",
            "--from",
            "1000",
            "--to",
            "1019",
            "--password",
            "pw{ext}",
        ])
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    pbx.restart();
    let scenario = dir.path().join("ramp.toml");
    std::fs::write(
        &scenario,
        format!(
            "target = \"{}\"\nextensions = \"1000-1019\"\npassword = \"pw{{ext}}\"\nramp = {{ from = 2, to = 8, over = \"2s\" }}\nduration = \"3s\"\nhold = {{ min = \"300ms\", max = \"700ms\" }}\nanswer_delay = \"50ms\"\ndtmf = 0.5\n",
            pbx.addr
        ),
    )
    .unwrap();
    let json = dir.path().join("report.json");
    let plot = dir.path().join("run.svg");
    let out = sim(
        &[
            "--scenario",
            scenario.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
            "--plot",
            plot.to_str().unwrap(),
            "--quiet",
        ],
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let r = report(&json);
    assert_clean(&r, 20);
    assert!(std::fs::read_to_string(&plot).unwrap().starts_with("<svg"));
}

#[test]
fn hold_and_transfer_shares_are_held_resumed_and_transferred() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let json = dir.path().join("report.json");
    let target = pbx.addr.to_string();
    // With RTP and its checks: a held callee hears the switch's music on hold (which
    // starts before the callee has seen the re-INVITE that holds it), a transferred
    // caller may hear it while the transfer goes on; neither is a crossed call. (Before
    // the sim knew that, a held call was judged "wrong rtp", earlier "rtp loss".) The
    // seed makes the draw of which calls hold and which transfer repeatable.
    let out = sim(
        &[
            "--target",
            &target,
            "--rate",
            "4",
            "--duration",
            "3s",
            "--hold",
            "1s",
            "--hold-share",
            "0.4",
            "--transfer-share",
            "0.3",
            "--seed",
            "3",
            "--json",
            json.to_str().unwrap(),
            "--quiet",
        ],
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let r = report(&json);
    assert!(out.status.success(), "pbx sim failed: {stdout}\n{r}");
    assert!(r["failed"].as_object().unwrap().is_empty(), "{r}");
    assert_eq!(n(&r, "registered"), 10, "{r}");
    assert_eq!(n(&r, "answered"), n(&r, "attempted"), "{r}");
    assert_eq!(n(&r, "audio_checked"), n(&r, "answered"), "{r}");
    assert_eq!(n(&r, "audio_ok"), n(&r, "audio_checked"), "{r}");
    assert!(n(&r, "held") > 0, "some calls held and resumed: {r}");
    assert!(n(&r, "transferred") > 0, "some calls transferred: {r}");
    assert!(stdout.contains("transferred"), "{stdout}");
}

#[test]
fn a_switch_that_is_not_there_gives_registration_timeouts_not_a_hang() {
    let dir = temp_dir();
    let json = dir.path().join("report.json");
    let target = format!("127.0.0.1:{}", free_port());
    let out = sim(
        &[
            "--target",
            &target,
            "--timeout",
            "2s",
            "--duration",
            "2s",
            "--json",
            json.to_str().unwrap(),
            "--quiet",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(1), "failures give exit code 1");
    let r = report(&json);
    assert_eq!(n(&r, "registered"), 0);
    assert_eq!(n(&r, "attempted"), 0);
    assert_eq!(r["failed"]["register timeout"].as_u64(), Some(10), "{r}");
}

#[test]
fn bad_scenario_files_name_the_field() {
    let dir = temp_dir();
    for (text, field) in [
        ("rate = \"fast\"\n", "`rate`"),
        ("hold = { min = \"1s\" }\n", "`hold.max`"),
        ("extensions = \"1000-\"\n", "`extensions`"),
        ("speed = 3\n", "`speed`"),
        ("queue = \"310\"\n", "`agents`"),
        ("queue = \"310\"\nagents = \"105-120\"\n", "overlap"),
        ("[[steps]]\nhear = \"prompt\"\n", "`steps[0].hear`"),
        ("[[steps]]\ndial = \"{answerer}\"\n", "`answerers`"),
        (
            "answerers = \"2000-2001\"\n[[steps]]\ndial = \"400\"\n[[steps]]\ndtmf = \"1x\"\n",
            "`steps[1].dtmf`",
        ),
    ] {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, text).unwrap();
        let out = sim(
            &["--scenario", path.to_str().unwrap()],
            Duration::from_secs(20),
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(err.contains(field), "{text}: {err}");
    }
    let out = sim(
        &[
            "--scenario",
            dir.path().join("missing.toml").to_str().unwrap(),
        ],
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
}

#[test]
fn uac_only_sim_answers_the_switchs_challenge_and_hangs_up_its_calls() {
    // The UAC's table engine against `pbx serve`: each INVITE is challenged (407) and
    // sent again with the caller's digest, answered by the switch (conference 500),
    // ACKed, held and hung up with a BYE the switch answers.
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    pbx.stop();
    add_lines(dir.path(), "1000", "1000");
    pbx.restart();
    let json = dir.path().join("report.json");
    let out = sim(
        &[
            "--uac-only",
            "--target",
            &pbx.addr.to_string(),
            "--numbers",
            "500-500",
            "--caller",
            "1000",
            "--password",
            "pw{ext}",
            "--rate",
            "5",
            "--duration",
            "2s",
            "--hold",
            "500ms",
            "--rtp",
            "off",
            "--quiet",
            "--json",
            json.to_str().unwrap(),
        ],
        Duration::from_secs(60),
    );
    let r = report(&json);
    assert!(out.status.success(), "{r}");
    assert!(r["failed"].as_object().unwrap().is_empty(), "{r}");
    assert!(n(&r, "attempted") >= 8, "{r}");
    // Every call answered after its challenge, and its BYE answered 2xx (a BYE that
    // was refused or unanswered would be a failure).
    assert_eq!(n(&r, "answered"), n(&r, "attempted"), "{r}");
}

#[test]
fn uac_only_sim_cancels_what_rings_past_its_timeout() {
    let dir = temp_dir();
    let listen = format!("127.0.0.1:{}", free_port());
    // A carrier that rings 3 s before it answers; callers that give up after 500 ms.
    let uas_json = dir.path().join("uas.json");
    let mut uas = start_uas(
        &listen,
        &[
            "--dids",
            "1000-1009",
            "--answer-delay",
            "3s",
            "--duration",
            "5s",
        ],
        &uas_json,
    );
    let json = dir.path().join("uac.json");
    let out = sim(
        &[
            "--uac-only",
            "--target",
            &listen,
            "--numbers",
            "1000-1009",
            "--rate",
            "5",
            "--duration",
            "1s",
            "--timeout",
            "500ms",
            "--rtp",
            "off",
            "--quiet",
            "--json",
            json.to_str().unwrap(),
        ],
        Duration::from_secs(30),
    );
    let r = report(&json);
    assert_eq!(out.status.code(), Some(1), "{r}");
    let attempted = n(&r, "attempted");
    assert!(attempted >= 4, "{r}");
    // Each rang, was cancelled at its timeout, and its 487 ACKed: a timeout each,
    // nothing else.
    assert_eq!(n(&r, "answered"), 0, "{r}");
    assert_eq!(
        r["failed"],
        serde_json::json!({"timeout": attempted}),
        "{r}"
    );
    assert_eq!(r["ringing_ms"]["count"].as_u64(), Some(attempted), "{r}");
    assert_eq!(wait_for(&mut uas, Duration::from_secs(20)), Some(0));
    let u = report(&uas_json);
    assert!(
        u["failed"].as_object().unwrap().is_empty(),
        "the carrier saw clean cancels: {u}"
    );
}

#[test]
fn a_registration_storm_registers_every_extension_over_shared_sockets() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    pbx.stop();
    add_lines(dir.path(), "3000", "3399");
    pbx.restart();
    let json = dir.path().join("storm.json");
    let target = pbx.addr.to_string();
    let storm = |extra: &[&str], extensions: &str, rate: &str| {
        let mut args = vec![
            "--register-only",
            "--target",
            &target,
            "--extensions",
            extensions,
            "--password",
            "pw{ext}",
            "--register-rate",
            rate,
            "--quiet",
            "--json",
            json.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        sim(&args, Duration::from_secs(60))
    };
    let out = storm(&[], "3000-3399", "800");
    let r = report(&json);
    assert!(out.status.success(), "{r}");
    // 400 phones over 16 sockets, each answered its challenge and was bound.
    assert_eq!((n(&r, "phones"), n(&r, "registered")), (400, 400), "{r}");
    assert_eq!(r["register_ms"]["count"].as_u64(), Some(400), "{r}");
    assert!(r["registrations_per_s"].as_f64().unwrap() > 300.0, "{r}");
    assert_eq!(n(&r, "attempted"), 0, "no calls: {r}");
    // The switch stored a binding for each, at 16 distinct sockets.
    let db = rusqlite::Connection::open(dir.path().join("pbx.sqlite3")).unwrap();
    let (bound, sockets): (i64, i64) = db
        .query_row(
            "SELECT count(DISTINCT ext), count(DISTINCT substr(contact, instr(contact, '@'))) \
             FROM bindings WHERE ext BETWEEN '3000' AND '3399'",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!((bound, sockets), (400, 16));
    // A flood: the same phones register again and again for two seconds; each
    // REGISTER after a phone's first refreshes its binding.
    let out = storm(&["--register-for", "2s"], "3000-3099", "300");
    let r = report(&json);
    assert!(out.status.success(), "{r}");
    let sent = n(&r, "registrations");
    assert!((500..=700).contains(&sent), "300/s for 2 s: {r}");
    assert_eq!(n(&r, "registrations_accepted"), sent, "{r}");
    assert_eq!((n(&r, "phones"), n(&r, "registered")), (100, 100), "{r}");
}

#[test]
fn uac_only_sim_calls_a_uas_sim_with_audio_checks() {
    let dir = temp_dir();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let uas_json = dir.path().join("uas.json");
    let mut uas = start_uas(
        &listen,
        &["--dids", "4930123400-4930123499", "--duration", "6s"],
        &uas_json,
    );

    let uac_json = dir.path().join("uac.json");
    let out = sim(
        &[
            "--uac-only",
            "--target",
            &listen,
            "--numbers",
            "4930123400-4930123499",
            "--rate",
            "10",
            "--duration",
            "2s",
            "--hold",
            "0.5s",
            "--quiet",
            "--json",
            uac_json.to_str().unwrap(),
        ],
        Duration::from_secs(30),
    );
    let r = report(&uac_json);
    assert!(out.status.success(), "UAC failed: {r}");
    let attempted = n(&r, "attempted");
    assert!(attempted >= 15, "about 10 calls/s for 2 s: {r}");
    assert_eq!(n(&r, "answered"), attempted, "{r}");
    assert_eq!(n(&r, "registered"), 0, "no registration: {r}");
    assert_eq!(n(&r, "audio_checked"), attempted, "{r}");
    assert_eq!(n(&r, "audio_ok"), attempted, "{r}");
    assert!(r["failed"].as_object().unwrap().is_empty(), "{r}");

    // A number that is not a DID of the UAS: 404.
    let miss_json = dir.path().join("miss.json");
    let out = sim(
        &[
            "--uac-only",
            "--target",
            &listen,
            "--numbers",
            "5550000",
            "--rate",
            "2",
            "--duration",
            "1s",
            "--quiet",
            "--json",
            miss_json.to_str().unwrap(),
        ],
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(1));
    let miss = report(&miss_json);
    assert_eq!(
        miss["failed"]["404"].as_u64(),
        Some(n(&miss, "attempted")),
        "{miss}"
    );

    assert_eq!(
        wait_for(&mut uas, Duration::from_secs(30)),
        Some(1),
        "the UAS reports the 404s as failures"
    );
    let u = report(&uas_json);
    assert_eq!(n(&u, "answered"), attempted, "{u}");
    assert_eq!(n(&u, "attempted"), attempted + n(&miss, "attempted"), "{u}");
    assert_eq!(
        n(&u, "audio_ok"),
        attempted,
        "every leg heard its caller: {u}"
    );
    assert_eq!(
        u["failed"]["404"].as_u64(),
        Some(n(&miss, "attempted")),
        "{u}"
    );
}

/// `pbx line add-range --tenant demo --from FROM --to TO --password 'pw{ext}'` on a
/// stopped switch's data directory.
pub(crate) fn add_lines(dir: &Path, from: &str, to: &str) {
    crate::common::call_helpers::pbx_admin(
        dir,
        &[
            "line",
            "add-range",
            "--tenant",
            "demo",
            "--from",
            from,
            "--to",
            to,
            "--password",
            "pw{ext}",
        ],
    );
}

/// `pbx ARGS --data-dir DIR` (asserted to succeed), its output as text.
pub(crate) fn pbx_cli(dir: &Path, args: &[&str]) -> String {
    let out = crate::common::call_helpers::pbx_admin(dir, args);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn call_centre_callers_wait_with_music_and_reach_their_agents() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    pbx.stop();
    for (from, to) in [("1000", "1011"), ("2000", "2002")] {
        add_lines(dir.path(), from, to);
    }
    let mut plan: serde_json::Value =
        serde_json::from_str(&pbx_cli(dir.path(), &["plan", "show", "--tenant", "demo"])).unwrap();
    plan["queues"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "number": "310", "name": "Centre", "members": ["2000", "2001", "2002"],
            "strategy": "longest_idle", "wrap_up_seconds": 0,
        }));
    let plan_file = dir.path().join("plan.json");
    std::fs::write(&plan_file, plan.to_string()).unwrap();
    pbx_cli(
        dir.path(),
        &[
            "plan",
            "set",
            "--tenant",
            "demo",
            plan_file.to_str().unwrap(),
        ],
    );
    pbx.restart();
    // 4 callers a second for 2 s, 3 agents busy 1.2 s a call: callers queue up.
    let json = dir.path().join("report.json");
    let out = sim(
        &[
            "--target",
            &pbx.addr.to_string(),
            "--extensions",
            "1000-1011",
            "--password",
            "pw{ext}",
            "--queue",
            "310",
            "--agents",
            "2000-2002",
            "--rate",
            "4",
            "--duration",
            "2s",
            "--hold",
            "1s",
            "--answer-delay",
            "200ms",
            "--quiet",
            "--json",
            json.to_str().unwrap(),
        ],
        Duration::from_secs(90),
    );
    let r = report(&json);
    assert!(out.status.success(), "pbx sim failed: {r}");
    assert_clean(&r, 15);
    // Every caller reached an agent (its wait timed by the agent's audio), and each
    // heard the switch while it waited (`judge_queued`, part of the audio check).
    assert_eq!(
        r["centre"]["wait_ms"]["count"].as_u64(),
        Some(n(&r, "answered")),
        "{r}"
    );
    assert_eq!(r["centre"]["abandoned"].as_u64(), Some(0), "{r}");
    // The agents logged in to the queue before the calls (*40310, confirmed aloud)
    // and out after them (*41310): the store says they are out now.
    assert_eq!(r["centre"]["agents_logged_in"].as_u64(), Some(3), "{r}");
    assert_eq!(r["centre"]["agents_logged_out"].as_u64(), Some(3), "{r}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("queue wait"), "{stdout}");
    assert!(
        stdout.contains("3 logged in to the queue, 3 logged out"),
        "{stdout}"
    );
    let agents = pbx_cli(dir.path(), &["agent", "list", "--tenant", "demo"]);
    assert!(!agents.is_empty(), "the logins are listed");
    for ext in ["2000", "2001", "2002"] {
        let line = agents
            .lines()
            .find(|l| l.contains(ext) && l.contains("310"))
            .unwrap_or_else(|| panic!("{ext} in 310: {agents}"));
        assert!(line.contains("out"), "{ext} logged out at the end: {line}");
    }
}
