//! `pbx sim` flows against the real `pbx serve`: callers walk a scenario's steps
//! (feature codes, an IVR by DTMF, a queue, voicemail with its MWI NOTIFY, a
//! conference, pickup of a ringing phone, attended and blind transfers, trunk traffic
//! both ways with the sim as the carrier), and the JSON report counts every step; a switch behaviour that fails
//! a step is reported under that step with its cause.

use std::path::Path;
use std::time::Duration;

use crate::common::call_helpers::{edit_plan, pbx_admin};
use crate::common::{temp_dir, Pbx};
use crate::sim::{add_lines, n, report, sim};

/// A stopped-then-restarted switch with callers 1000-1004 and answering lines
/// 2000-2003 (password `pw{ext}`), after `setup` ran on its data directory.
fn switch_with_lines(dir: &Path, setup: impl FnOnce(&Path)) -> Pbx {
    let mut pbx = Pbx::start(dir);
    pbx.stop();
    for (from, to) in [("1000", "1004"), ("2000", "2003")] {
        add_lines(dir, from, to);
    }
    setup(dir);
    pbx.restart();
    pbx
}

/// Runs the flow of `steps` (TOML `[[steps]]` tables) with `head` (more fields) from
/// callers 1000-1004 at 2 flows a second for 2 s; returns the JSON report.
fn flow(pbx: &Pbx, dir: &Path, name: &str, head: &str, steps: &str) -> serde_json::Value {
    let scenario = dir.join(format!("{name}.toml"));
    let text = format!(
        "target = \"{}\"\nextensions = \"1000-1004\"\npassword = \"pw{{ext}}\"\nrate = 2\nduration = \"2s\"\n{head}\n{steps}",
        pbx.addr
    );
    std::fs::write(&scenario, text).unwrap();
    let json = dir.join(format!("{name}.json"));
    let out = sim(
        &[
            "--scenario",
            scenario.to_str().unwrap(),
            "--quiet",
            "--json",
            json.to_str().unwrap(),
        ],
        Duration::from_secs(120),
    );
    let mut r = report(&json);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("steps"), "{stdout}");
    r["exit"] = out.status.code().into();
    r
}

/// Every flow passed every step.
fn assert_all_passed(r: &serde_json::Value) {
    assert_eq!(r["exit"], 0, "{r}");
    assert!(r["failed"].as_object().unwrap().is_empty(), "{r}");
    let flows = n(r, "attempted");
    assert!(flows >= 3, "flows were run: {r}");
    for step in r["steps"].as_array().unwrap() {
        assert_eq!(step["attempted"].as_u64(), Some(flows), "{step}");
        assert_eq!(step["passed"].as_u64(), Some(flows), "{step}");
        assert!(step["ms"]["p50"].as_f64().unwrap() > 0.0, "timed: {step}");
    }
}

#[test]
fn flows_confirm_feature_codes_find_their_way_through_an_ivr_and_report_a_queue_nobody_answers() {
    let dir = temp_dir();
    let pbx = switch_with_lines(dir.path(), |dir| {
        // Menu 400 open at all hours: 1 to line 2000, 2 to queue 310 whose only agent
        // has no phone.
        edit_plan(dir, |plan| {
            let menu = &mut plan["ivrs"][0];
            menu["schedule"] = serde_json::Value::Null;
            menu["choices"] = serde_json::json!({"1": "2000", "2": "310"});
            plan["queues"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({
                    "number": "310", "name": "Nobody", "members": ["105"],
                }));
        });
    });
    // Do not disturb on and off: each code answered, confirmed aloud, hung up.
    let r = flow(
        &pbx,
        dir.path(),
        "codes",
        "",
        "[[steps]]\ndial = \"*78\"\n[[steps]]\nhear = \"prompt\"\n[[steps]]\nbye = true\nwithin = \"15s\"\n\
         [[steps]]\ndial = \"*79\"\n[[steps]]\nhear = \"prompt\"\n[[steps]]\nbye = true\nwithin = \"15s\"\n",
    );
    assert_all_passed(&r);
    assert_eq!(r["steps"].as_array().unwrap().len(), 6);
    // The menu's announcement, key 1, and the answering phone's own audio.
    let ivr = "[[steps]]\ndial = \"400\"\n[[steps]]\nhear = \"prompt\"\n[[steps]]\ndtmf = \"KEY\"\n\
               [[steps]]\nhear = \"phone\"\nwithin = \"WITHIN\"\nname = \"landed\"\n[[steps]]\nwait = \"500ms\"\n[[steps]]\nhangup = true\n";
    let head = "answerers = \"2000-2001\"\nanswer_delay = \"200ms\"";
    let r = flow(
        &pbx,
        dir.path(),
        "ivr",
        head,
        &ivr.replace("KEY", "1").replace("WITHIN", "8s"),
    );
    assert_all_passed(&r);
    // Key 2: the queue answers with music, no agent ever comes: the landing fails,
    // and only the landing.
    let r = flow(
        &pbx,
        dir.path(),
        "queue",
        head,
        &ivr.replace("KEY", "2").replace("WITHIN", "2s"),
    );
    let flows = n(&r, "attempted");
    assert_eq!(r["exit"], 1, "{r}");
    assert_eq!(
        r["failed"],
        serde_json::json!({"landed: no phone heard": flows}),
        "{r}"
    );
    let steps = r["steps"].as_array().unwrap();
    assert_eq!(steps[2]["passed"].as_u64(), Some(flows), "{r}");
    assert_eq!(steps[3]["failed"]["no phone heard"].as_u64(), Some(flows));
    assert_eq!(
        steps[4]["attempted"].as_u64(),
        Some(0),
        "the flow stopped there"
    );
    // The time series says when they failed: every one of them, in some second.
    let series = r["failures_by_second"].as_array().unwrap();
    let counted: u64 = series
        .iter()
        .map(|sec| {
            sec["failed"]["landed: no phone heard"]
                .as_u64()
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(counted, flows, "{r}");
}

#[test]
fn a_flow_leaves_voicemail_and_the_mailbox_owner_gets_the_mwi_notify() {
    let dir = temp_dir();
    let pbx = switch_with_lines(dir.path(), |dir| {
        for ext in ["2000", "2001"] {
            let person = format!("P{ext}");
            pbx_admin(dir, &["person", "add", "--tenant", "demo", &person]);
            pbx_admin(dir, &["line", "set-user", "--tenant", "demo", ext, &person]);
            pbx_admin(
                dir,
                &[
                    "line",
                    "set",
                    "--tenant",
                    "demo",
                    ext,
                    "--forward-always",
                    "voicemail",
                ],
            );
        }
    });
    // The greeting (about 5 s) and 2 s of the caller's audio, then the hang-up; the
    // answering phones stay subscribed to their mailboxes meanwhile.
    let r = flow(
        &pbx,
        dir.path(),
        "voicemail",
        "answerers = \"2000-2001\"",
        "[[steps]]\ndial = \"{answerer}\"\n[[steps]]\nhear = \"prompt\"\n[[steps]]\nwait = \"7s\"\n\
         [[steps]]\nhangup = true\n[[steps]]\nmwi = \"waiting\"\nwithin = \"10s\"\n",
    );
    assert_all_passed(&r);
    // One message a flow, each from its caller, each new.
    let out = pbx_admin(dir.path(), &["voicemail", "list", "--tenant", "demo"]);
    let list = String::from_utf8_lossy(&out.stdout).into_owned();
    let rows: Vec<Vec<&str>> = list.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len() as u64, n(&r, "attempted"), "{list}");
    for row in rows {
        assert!(["2000", "2001"].contains(&row[1]), "{list}");
        assert!(row[2].starts_with("100"), "{list}");
        assert_eq!(row[5], "new", "{list}");
    }
}

#[test]
fn flows_in_a_conference_hear_the_others() {
    let dir = temp_dir();
    let pbx = switch_with_lines(dir.path(), |_| {});
    // Room 500: each member stays 2 s after it first hears someone; the first one in
    // waits for the second.
    let r = flow(
        &pbx,
        dir.path(),
        "conference",
        "",
        "[[steps]]\ndial = \"500\"\n[[steps]]\nhear = \"audio\"\nwithin = \"8s\"\n[[steps]]\nwait = \"2s\"\n[[steps]]\nhangup = true\n",
    );
    assert_all_passed(&r);
}

#[test]
fn a_ringing_phone_is_picked_up_directed_and_by_group() {
    let dir = temp_dir();
    let pbx = switch_with_lines(dir.path(), |dir| {
        edit_plan(dir, |plan| {
            plan["pickup_groups"] =
                serde_json::json!([{"name": "desk", "members": ["2000", "2001", "2002", "2003"]}]);
        });
    });
    // The answerer rings and never answers; the other answerer dials the code and
    // takes the call; caller and picker hear each other.
    let steps = "[[steps]]\nring = \"{answerer}\"\n[[steps]]\npickup = \"CODE\"\n\
                 [[steps]]\nhear = \"phone\"\n[[steps]]\nhangup = true\n";
    let head = "answerers = \"2000-2003\"\nanswer = \"ring\"";
    for code in ["*59{answerer}", "*8"] {
        let r = flow(
            &pbx,
            dir.path(),
            "pickup",
            head,
            &steps.replace("CODE", code),
        );
        assert_all_passed(&r);
    }
    // Nothing rings the number picked: the pickup's own call is refused (404), and
    // that step is the flow's failure.
    let r = flow(
        &pbx,
        dir.path(),
        "no-pickup",
        head,
        &steps.replace("CODE", "*591003"),
    );
    let flows = n(&r, "attempted");
    assert!(flows >= 3, "{r}");
    assert_eq!(
        r["failed"],
        serde_json::json!({"pickup *591003: 404": flows}),
        "{r}"
    );
}

#[test]
fn attended_and_blind_transfers_join_the_answerers() {
    let dir = temp_dir();
    let pbx = switch_with_lines(dir.path(), |_| {});
    let head = "answerers = \"2000-2003\"\nanswer_delay = \"100ms\"";
    // As a desk phone does it: the first call held, the other answerer consulted,
    // then the first handed to it (REFER with Replaces); the two hear each other.
    let r = flow(
        &pbx,
        dir.path(),
        "attended",
        head,
        "[[steps]]\ndial = \"{answerer}\"\n[[steps]]\nhear = \"phone\"\n[[steps]]\nhold = true\n\
         [[steps]]\nconsult = \"{other}\"\n[[steps]]\nhear = \"phone\"\n\
         [[steps]]\ntransfer = \"{other}\"\n[[steps]]\nhear = \"joined\"\n",
    );
    assert_all_passed(&r);
    // Blind: REFER to the other answerer, who answers and talks with the first.
    let blind = "[[steps]]\ndial = \"{answerer}\"\n[[steps]]\nhear = \"phone\"\n\
                 [[steps]]\ntransfer = \"TARGET\"\n[[steps]]\nhear = \"joined\"\n";
    let r = flow(
        &pbx,
        dir.path(),
        "blind",
        head,
        &blind.replace("TARGET", "{other}"),
    );
    assert_all_passed(&r);
    // A transfer to a number that does not exist fails as the transfer's step.
    let r = flow(
        &pbx,
        dir.path(),
        "nowhere",
        head,
        &blind.replace("TARGET", "2999"),
    );
    let flows = n(&r, "attempted");
    assert!(flows >= 3, "{r}");
    assert_eq!(
        r["failed"],
        serde_json::json!({"transfer 2999: transfer failed": flows}),
        "{r}"
    );
}

#[test]
fn the_sim_as_the_carrier_answers_calls_out_and_calls_in_to_the_registered_contact() {
    let dir = temp_dir();
    let pbx = switch_with_lines(dir.path(), |dir| {
        edit_plan(dir, |plan| {
            plan["trunks"] = serde_json::json!([{"name": "carrier", "format": "e164"}]);
            plan["outbound"][0]["trunks"] = serde_json::json!(["carrier"]);
            plan["emergency"]["trunk"] = serde_json::json!("carrier");
            // One DDI for each answering phone.
            plan["ddi_numbers"] = (2000..=2003)
                .map(|n| serde_json::json!({"number": format!("+4930555{n}"), "target": n.to_string()}))
                .collect();
        });
    });
    let port = crate::common::free_port();
    let scenario = dir.path().join("carrier.toml");
    std::fs::write(
        &scenario,
        format!(
            "target = \"{}\"\nextensions = \"1000-1004\"\npassword = \"pw{{ext}}\"\nrate = 2\nduration = \"2s\"\n\
             answerers = \"2000-2003\"\ncarrier = \"127.0.0.1:{port}\"\ndids = \"4930123400-4930123499\"\n\
             [[steps]]\ndial = \"0030123456\"\nname = \"out\"\n[[steps]]\nhear = \"phone\"\nname = \"carrier heard\"\n[[steps]]\nhangup = true\n\
             [[steps]]\ncall_in = \"+4930555{{answerer}}\"\nname = \"in\"\n[[steps]]\nhear = \"phone\"\nname = \"line heard\"\n[[steps]]\nhangup = true\n",
            pbx.addr
        ),
    )
    .unwrap();
    let json = dir.path().join("carrier.json");
    let mut sim = crate::sim::spawn_sim(&["--scenario", scenario.to_str().unwrap()], &json);
    // The carrier listens: the switch's registration trunk registers at it (realm
    // 127.0.0.1, the scenario's password for user acme), then the flows run.
    crate::common::call_helpers::wait_bound(port);
    let port = port.to_string();
    pbx_admin(
        dir.path(),
        &[
            "trunk",
            "add",
            "--tenant",
            "demo",
            "carrier",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--register",
            "--user",
            "acme",
            "--password",
            "pwacme",
            "--domain",
            "127.0.0.1",
            "--expires",
            "60",
        ],
    );
    assert_eq!(
        crate::sim::wait_for(&mut sim, Duration::from_secs(120)),
        Some(0),
        "{}",
        std::fs::read_to_string(&json).unwrap_or_default()
    );
    let mut r = report(&json);
    r["exit"] = 0.into();
    assert_all_passed(&r);
    // The journal: each flow's call left on the trunk and came in on it.
    let out = pbx_admin(dir.path(), &["journal", "--tenant", "demo"]);
    let journal = String::from_utf8_lossy(&out.stdout).into_owned();
    let flows = n(&r, "attempted") as usize;
    let rows = |text: &str| journal.lines().filter(|l| l.contains(text)).count();
    assert_eq!(
        rows("→ 0030123456  outbound via carrier  answered"),
        flows,
        "{journal}"
    );
    assert_eq!(
        rows("inbound via carrier  answered (200), answered by 200"),
        flows,
        "{journal}"
    );
}
