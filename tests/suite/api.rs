//! The HTTP control API of `pbx serve`, driven over a real socket: keys and their
//! scopes, a tenant's key confined to its tenant, refused input naming the field, the
//! OpenAPI document's every route served, the journal, and `/metrics` in Prometheus'
//! text format.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::common::api_client::*;
use crate::common::call_helpers::*;
use crate::common::{temp_dir, Pbx};
use serde_json::Value;

#[test]
fn keys_reach_only_their_scope_and_tenant() {
    let dir = temp_dir();
    let d = dir.path();
    let pbx = Pbx::start(d);
    let api = pbx.http.expect("the API's address");
    pbx_admin(d, &["tenant", "add", "other", "--domain", "other.test"]);
    let admin = key(d, &["--tenant", "demo", "--name", "web admin"]);
    let other = key(d, &["--tenant", "other", "--name", "their admin"]);
    let user = key(
        d,
        &["--tenant", "demo", "--line", "101", "--name", "softphone"],
    );
    let operator = key(d, &["--operator", "--name", "monitoring"]);
    assert!(admin.starts_with("pbx_"), "{admin}");

    // Every route of the OpenAPI document is served, and refused without a key.
    let (code, doc) = http(api, "GET", "/api/v1/openapi.json", None, None);
    assert_eq!(code, 200);
    let doc = json(&doc);
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            // Open routes (this document, phones' provisioning) say so.
            if op["security"] == serde_json::json!([]) {
                continue;
            }
            let (code, body) = http(api, &method.to_uppercase(), path, None, Some("{}"));
            assert_eq!(code, 401, "{method} {path}: {body}");
            assert!(json(&body)["error"].is_string());
        }
    }

    // The administrator sees its tenant's lines and adds one, checked as the CLI
    // checks it: refusals name the field, nothing is stored.
    let (code, body) = http(api, "GET", "/api/v1/lines", Some(&admin), None);
    assert_eq!(code, 200, "{body}");
    let exts: Vec<String> = json(&body)
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["ext"].as_str().unwrap().to_owned())
        .collect();
    assert!(exts.contains(&"101".to_owned()), "{exts:?}");
    let add = |k: &str, body: &str| http(api, "POST", "/api/v1/lines", Some(k), Some(body));
    let (code, _) = add(
        &admin,
        r#"{"ext": "150", "password": "secret150pw", "name": "Desk"}"#,
    );
    assert_eq!(code, 201);
    let (code, body) = add(&admin, r#"{"ext": "150", "password": "another1pw"}"#);
    assert_eq!(code, 422, "{body}");
    assert_eq!(json(&body)["field"], "ext");
    let (code, body) = add(&admin, r#"{"ext": "151"}"#);
    assert_eq!(
        (code, json(&body)["field"].clone()),
        (422, "password".into())
    );
    let (code, _) = add(&admin, "not json");
    assert_eq!(code, 400);
    let (_, body) = http(api, "GET", "/api/v1/lines", Some(&admin), None);
    let lines = json(&body);
    assert!(lines.as_array().unwrap().iter().any(|l| l["ext"] == "150"));
    assert!(!lines.as_array().unwrap().iter().any(|l| l["ext"] == "151"));

    // Another tenant's key sees nothing of this one, and adds its own 150.
    let (_, body) = http(api, "GET", "/api/v1/lines", Some(&other), None);
    assert_eq!(json(&body), serde_json::json!([]));
    let (code, _) = add(&other, r#"{"ext": "150", "password": "secret150pw"}"#);
    assert_eq!(code, 201);
    let (_, body) = http(api, "GET", "/api/v1/calls", Some(&other), None);
    assert_eq!(json(&body), serde_json::json!([]));

    // A user's key: its own line only, and no administration.
    let (_, body) = http(api, "GET", "/api/v1/lines", Some(&user), None);
    let own = json(&body);
    assert_eq!(own.as_array().unwrap().len(), 1);
    assert_eq!(own[0]["ext"], "101");
    let (code, _) = add(&user, r#"{"ext": "152", "password": "secret152pw"}"#);
    assert_eq!(code, 403);
    let (code, _) = http(api, "GET", "/api/v1/trunks", Some(&user), None);
    assert_eq!(code, 403);

    // The operator: tenants and metrics, no tenant's lines.
    let (code, body) = http(api, "GET", "/api/v1/tenants", Some(&operator), None);
    assert_eq!(code, 200);
    let tenants = json(&body);
    let names: Vec<&str> = tenants
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"demo") && names.contains(&"other"),
        "{names:?}"
    );
    let (code, _) = http(api, "GET", "/api/v1/lines", Some(&operator), None);
    assert_eq!(code, 403);
    let (code, _) = http(api, "GET", "/api/v1/tenants", Some(&admin), None);
    assert_eq!(code, 403);

    // A call goes in the journal: the administrator reads it, so does the caller's
    // user key.
    let mut phone = Device::register(&pbx, "102");
    let mut call = Caller::call(&pbx, "101", "102");
    phone.answer(43000);
    assert_eq!(call.expect(200), 200);
    call.ack();
    call.bye();
    let bye = recv_until(&mut phone.c, "the BYE at 102", |m| is_request(m, "BYE"));
    phone.respond(&bye, 200, "OK");
    // The journal writes in batches: the row comes within a few seconds.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let calls = loop {
        let (code, body) = http(api, "GET", "/api/v1/calls?limit=5", Some(&admin), None);
        assert_eq!(code, 200);
        let calls = json(&body);
        let found = calls
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["caller_line"] == "101" && c["to"] == "102");
        if found || std::time::Instant::now() > deadline {
            break calls;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        calls
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["caller_line"] == "101" && c["to"] == "102"),
        "{calls}"
    );
    let (_, body) = http(api, "GET", "/api/v1/calls", Some(&user), None);
    assert!(!json(&body).as_array().unwrap().is_empty());
    // The same row from `pbx journal`, as CSV, and none before a later date.
    let out = pbx_admin(d, &["journal", "--tenant", "demo", "--csv"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let mut rows = text.lines();
    assert!(rows
        .next()
        .unwrap()
        .starts_with("id,started_at,from,to,direction"));
    let row: Vec<&str> = rows.next().expect("a call row").split(',').collect();
    assert_eq!(
        (row[2], row[3], row[4], row[5]),
        ("101", "102", "internal", "101"),
        "{text}"
    );
    let out = pbx_admin(
        d,
        &[
            "journal",
            "--tenant",
            "demo",
            "--csv",
            "--since",
            "2099-01-01",
        ],
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 1);
    // Statistics of the last day: the answered call, its hour, both lines' share;
    // the same hours as CSV from the API and from `pbx journal --stats --csv`.
    let (code, stats) = get(api, "/api/v1/statistics", &admin);
    assert_eq!(code, 200, "{stats}");
    assert!(stats["answered"].as_u64().unwrap() >= 1, "{stats}");
    assert!(stats["asr_percent"].as_f64().unwrap() > 0.0, "{stats}");
    let lines = stats["lines"].as_array().unwrap();
    for ext in ["101", "102"] {
        assert!(lines.iter().any(|l| l["line"] == ext), "{stats}");
    }
    let (code, csv) = http(
        api,
        "GET",
        "/api/v1/statistics?format=csv",
        Some(&admin),
        None,
    );
    assert_eq!(code, 200);
    assert!(
        csv.starts_with("hour,calls,answered,asr_percent,talk_seconds\n"),
        "{csv}"
    );
    let out = pbx_admin(d, &["journal", "--tenant", "demo", "--stats", "--csv"]);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), csv);
    let (code, why) = get(api, "/api/v1/statistics?format=xml", &admin);
    assert_eq!((code, why["field"].clone()), (422, "format".into()));
    let (_, other_stats) = get(api, "/api/v1/statistics", &other);
    assert_eq!(other_stats["calls"], 0);
    // Retention: set, shown; the switch applies it daily (store unit test).
    let out = pbx_admin(d, &["tenant", "retention", "demo", "--internal-days", "30"]);
    let said = String::from_utf8(out.stdout).unwrap();
    assert!(
        said.contains("internal calls kept 30 days, external calls kept for ever"),
        "{said}"
    );

    // Metrics in the text format: every sample line is `name{labels} number`; the
    // answered call is counted once its row is closed.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let text = loop {
        let (code, text) = http(api, "GET", "/metrics", Some(&operator), None);
        assert_eq!(code, 200);
        if text.contains("pbx_journal_calls{disposition=\"answered\"} ")
            || std::time::Instant::now() > deadline
        {
            break text;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    // Parsed as Prometheus parses it: typed, with the counters and gauges named.
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .expect("the Prometheus text format");
    let sample = |name: &str| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name)
            .unwrap_or_else(|| panic!("no {name}: {text}"))
    };
    assert!(matches!(
        sample("pbx_calls_active").value,
        prometheus_parse::Value::Gauge(_)
    ));
    assert!(matches!(
        sample("pbx_store_queue_depth").value,
        prometheus_parse::Value::Gauge(_)
    ));
    // The call's RTP went through the relay (the test's phones sent none: zero is
    // still a counter the parser reads).
    for name in [
        "pbx_rtp_relayed_packets_total",
        "pbx_rtp_dropped_packets_total",
        "pbx_rtp_lost_packets_total",
    ] {
        assert!(
            matches!(sample(name).value, prometheus_parse::Value::Counter(_)),
            "{name}"
        );
    }
    let answered = scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == "pbx_journal_calls" && s.labels.get("disposition") == Some("answered")
        })
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        matches!(answered.value, prometheus_parse::Value::Gauge(n) if n >= 1.0),
        "{text}"
    );
    assert!(scrape.docs.contains_key("pbx_trunk_up"), "{text}");
    let retransmitted: Vec<_> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "pbx_sip_retransmissions_total")
        .filter_map(|s| s.labels.get("direction"))
        .collect();
    assert_eq!(retransmitted, ["in", "out"], "{text}");

    // Wrong keys from one address: refused, then slowed down (429).
    let mut codes = Vec::new();
    for _ in 0..7 {
        codes.push(http(api, "GET", "/api/v1/lines", Some("pbx_1_00000000"), None).0);
    }
    assert_eq!(codes[0], 401);
    assert_eq!(*codes.last().unwrap(), 429, "{codes:?}");
}

#[test]
fn the_administrator_sets_trunks_and_the_plan_with_the_clis_checks() {
    let dir = temp_dir();
    let d = dir.path();
    let pbx = Pbx::start(d);
    let api = pbx.http.unwrap();
    pbx_admin(d, &["tenant", "add", "other", "--domain", "other.test"]);
    let admin = key(d, &["--tenant", "demo", "--name", "web admin"]);
    let other = key(d, &["--tenant", "other", "--name", "their admin"]);
    let trunk = r#"{"name": "carrier", "host": "127.0.0.1", "port": 5999, "keepalive": 60}"#;
    let (code, body) = http(api, "POST", "/api/v1/trunks", Some(&admin), Some(trunk));
    assert_eq!(code, 201, "{body}");
    let bad = r#"{"name": "sctp", "host": "127.0.0.1", "transport": "sctp"}"#;
    let (code, body) = http(api, "POST", "/api/v1/trunks", Some(&admin), Some(bad));
    assert_eq!(
        (code, json(&body)["field"].clone()),
        (422, "transport".into()),
        "{body}"
    );
    let (code, body) = http(
        api,
        "POST",
        "/api/v1/trunks",
        Some(&admin),
        Some(r#"{"name": "x"}"#),
    );
    assert_eq!((code, json(&body)["field"].clone()), (422, "host".into()));
    // The switch starts it: its status shows, never its password.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = http(api, "GET", "/api/v1/trunks", Some(&admin), None);
        let list = json(&body);
        assert_eq!(list.as_array().unwrap().len(), 1);
        assert!(list[0].get("password").is_none());
        if list[0]["status"] != "not started" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{list}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Another tenant cannot remove it (it is not even found there).
    let (code, _) = http(api, "DELETE", "/api/v1/trunks/carrier", Some(&other), None);
    assert_eq!(code, 404);
    let (code, _) = http(api, "DELETE", "/api/v1/trunks/carrier", Some(&admin), None);
    assert_eq!(code, 204);
    let (code, _) = http(api, "DELETE", "/api/v1/trunks/carrier", Some(&admin), None);
    assert_eq!(code, 404);

    // The plan: read, written back unchanged, and a faulty one refused whole.
    let (code, body) = http(api, "GET", "/api/v1/plan", Some(&admin), None);
    assert_eq!(code, 200);
    let mut plan = json(&body);
    assert!(plan["extensions"].as_array().unwrap().len() >= 10);
    let (code, body) = http(
        api,
        "PUT",
        "/api/v1/plan",
        Some(&admin),
        Some(&plan.to_string()),
    );
    assert_eq!(code, 204, "{body}");
    plan["groups"][0]["members"] = serde_json::json!(["999"]);
    plan["ivrs"][0]["timeout_seconds"] = serde_json::json!(0);
    let (code, body) = http(
        api,
        "PUT",
        "/api/v1/plan",
        Some(&admin),
        Some(&plan.to_string()),
    );
    let refusal = json(&body);
    assert_eq!(
        (code, refusal["field"].clone()),
        (422, "plan".into()),
        "{body}"
    );
    let why = refusal["error"].as_str().unwrap();
    assert!(
        why.contains("999") && why.contains("timeout_seconds"),
        "{why}"
    );
    let (_, body) = http(api, "GET", "/api/v1/plan", Some(&admin), None);
    assert_ne!(
        json(&body)["groups"][0]["members"],
        serde_json::json!(["999"])
    );
    let (code, _) = http(api, "GET", "/api/v1/plan", Some(&other), None);
    assert_eq!(code, 404, "the other tenant has no plan");
}

/// A GET without a key: the whole response, head and body.
fn raw_get(api: SocketAddr, path: &str) -> String {
    let mut raw = TcpStream::connect(api).unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: pbx\r\nConnection: close\r\n\r\n");
    raw.write_all(req.as_bytes()).unwrap();
    let mut text = String::new();
    raw.read_to_string(&mut text).unwrap();
    text
}

/// The value of `key = value` in a Yealink file.
fn cfg_value(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no {key} in {text}"))
        .to_owned()
}

#[test]
fn phones_fetch_their_configuration_by_mac_and_register_with_it() {
    let dir = temp_dir();
    let d = dir.path();
    let pbx = Pbx::start(d);
    let api = pbx.http.unwrap();
    pbx_admin(
        d,
        &[
            "device",
            "provision",
            "--tenant",
            "demo",
            "--line",
            "105",
            "--mac",
            "00:15:65:AA:BB:CC",
            "--vendor",
            "yealink",
            "--blf",
            "101,102",
        ],
    );
    // Yealink asks for <mac>.cfg: its account, the switch's port, the BLF keys.
    let (code, text) = http(api, "GET", "/provision/001565aabbcc.cfg", None, None);
    assert_eq!(code, 200, "{text}");
    let user = cfg_value(&text, "account.1.user_name");
    assert!(!cfg_value(&text, "account.1.password").is_empty());
    assert_eq!(user, "yealink-001565aabbcc");
    assert_eq!(
        cfg_value(&text, "account.1.sip_server.1.port"),
        pbx.addr.port().to_string()
    );
    assert_eq!(cfg_value(&text, "linekey.1.value"), "101");
    assert_eq!(cfg_value(&text, "linekey.2.value"), "102");
    // Never cached.
    let model = raw_get(api, "/provision/y000000000028.cfg");
    assert!(
        model.starts_with("HTTP/1.1 404"),
        "model-wide files are none of ours: {model}"
    );
    let head = raw_get(api, "/provision/001565aabbcc.cfg");
    assert!(
        head.to_ascii_lowercase()
            .contains("cache-control: no-store"),
        "{head}"
    );
    let password = cfg_value(&head, "account.1.password");
    // The phone registers with what it got.
    let mut phone = crate::common::sip_client::SipClient::udp(pbx.addr);
    let contact = format!("<sip:{user}@{}>", phone.local);
    let ok = phone.register(
        &user,
        &password,
        "127.0.0.1",
        Some(&contact),
        Some(600),
        engine::auth::Algorithm::Md5,
    );
    assert_eq!(ok.code(), Some(200), "{ok:?}");
    // Registered with its provisioned account: the phone is online.
    let admin = key(d, &["--tenant", "demo", "--name", "admin"]);
    let (_, phones) = get(api, "/api/v1/phones", &admin);
    assert_eq!(phones[0]["status"], "online", "{phones}");
    // A second fetch makes a new password; the old one no longer registers.
    let (_, again) = http(api, "GET", "/provision/001565AABBCC.cfg", None, None);
    let new = cfg_value(&again, "account.1.password");
    assert_ne!(new, password);
    let mut stale = crate::common::sip_client::SipClient::udp(pbx.addr);
    let refused = stale.register(
        &user,
        &password,
        "127.0.0.1",
        None,
        Some(600),
        engine::auth::Algorithm::Md5,
    );
    assert_ne!(refused.code(), Some(200));
    let mut fresh = crate::common::sip_client::SipClient::udp(pbx.addr);
    let ok = fresh.register(
        &user,
        &new,
        "127.0.0.1",
        None,
        Some(600),
        engine::auth::Algorithm::Md5,
    );
    assert_eq!(ok.code(), Some(200));
    // The other formats carry the account too.
    for (mac, vendor, file) in [
        ("000413aabbcc", "snom", "snom370-000413AABBCC.htm"),
        ("7c2f80aabbcc", "gigaset", "7C2F80AABBCC.xml"),
        ("000b82aabbcc", "grandstream", "cfg000b82aabbcc.xml"),
    ] {
        pbx_admin(
            d,
            &[
                "device",
                "provision",
                "--tenant",
                "demo",
                "--line",
                "106",
                "--mac",
                mac,
                "--vendor",
                vendor,
            ],
        );
        let (code, text) = http(api, "GET", &format!("/provision/{file}"), None, None);
        assert_eq!(code, 200, "{vendor}: {text}");
        assert!(
            text.contains(&format!("{vendor}-{mac}")),
            "{vendor}: {text}"
        );
        assert!(text.starts_with("<?xml"), "{vendor}: {text}");
    }
    // Unknown MACs: 404, then the source is slowed down.
    let mut codes = Vec::new();
    for i in 0..7 {
        codes.push(
            http(
                api,
                "GET",
                &format!("/provision/00156500000{i}.cfg"),
                None,
                None,
            )
            .0,
        );
    }
    assert_eq!(codes[0], 404);
    assert_eq!(*codes.last().unwrap(), 429, "{codes:?}");
}

#[test]
fn live_events_follow_a_call_in_order_for_its_tenant_and_lines() {
    let dir = temp_dir();
    let d = dir.path();
    let pbx = Pbx::start(d);
    let api = pbx.http.unwrap();
    let admin = key(d, &["--tenant", "demo", "--name", "ops board"]);
    let callee = key(
        d,
        &[
            "--tenant",
            "demo",
            "--line",
            "102",
            "--name",
            "102's client",
        ],
    );
    let bystander = key(
        d,
        &[
            "--tenant",
            "demo",
            "--line",
            "103",
            "--name",
            "103's client",
        ],
    );
    let mut board = events(api, &admin);
    let mut own = events(api, &callee);
    let mut other = events(api, &bystander);
    // Without a WebSocket upgrade the route says so.
    let (code, _) = http(api, "GET", "/api/v1/events", Some(&admin), None);
    assert_eq!(code, 426);
    let mut phone = Device::register(&pbx, "102");
    let mut call = Caller::call(&pbx, "101", "102");
    let invite = phone.next_invite(&[]).expect("102 rings");
    phone.respond(&invite, 180, "Ringing");
    assert_eq!(call.expect(180), 180);
    phone.answer_invite(&invite, 43000);
    assert_eq!(call.expect(200), 200);
    call.ack();
    // The lines' snapshot: both in the call, the rest free.
    let (_, lines) = get(api, "/api/v1/lines", &admin);
    let state_of = |ext: &str| {
        lines
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["ext"] == ext)
            .map(|l| l["state"].clone())
            .unwrap()
    };
    assert_eq!(
        (state_of("101"), state_of("102"), state_of("103")),
        ("in call".into(), "in call".into(), "free".into()),
        "{lines}"
    );
    call.bye();
    let bye = recv_until(&mut phone.c, "the BYE at 102", |m| is_request(m, "BYE"));
    phone.respond(&bye, 200, "OK");
    let ended = |v: &Value| v["event"] == "ended";
    let mut seen = read_events(&mut board, ended, 20);
    // The lines' own events: 102 rang, was in the call, is free again.
    let free_102 = |v: &Value| v["type"] == "line" && v["line"] == "102" && v["state"] == "free";
    if !seen.iter().any(free_102) {
        seen.extend(read_events(&mut board, free_102, 20));
    }
    let states: Vec<&str> = seen
        .iter()
        .filter(|v| v["type"] == "line" && v["line"] == "102")
        .filter_map(|v| v["state"].as_str())
        .collect();
    assert_eq!(states, ["ringing", "in call", "free"], "{seen:?}");
    // A setting changed through the API is a line event too.
    let (code, _) = send(
        api,
        "PATCH",
        "/api/v1/lines/102/features",
        &callee,
        serde_json::json!({"dnd": true}),
    );
    assert_eq!(code, 200);
    let dnd = |v: &Value| v["type"] == "line" && v["event"] == "settings";
    let got = read_events(&mut board, dnd, 20);
    let last = got.last().expect("a settings event");
    assert_eq!(
        (
            last["line"].clone(),
            last["dnd"].clone(),
            last["forwarding"].clone()
        ),
        ("102".into(), true.into(), false.into()),
        "{got:?}"
    );
    let names: Vec<&str> = seen.iter().filter_map(|v| v["event"].as_str()).collect();
    let pos = |n: &str| {
        names
            .iter()
            .position(|x| *x == n)
            .unwrap_or_else(|| panic!("no {n}: {names:?}"))
    };
    assert!(pos("started") < pos("ringing"), "{names:?}");
    assert!(
        pos("ringing") < pos("answered") && pos("answered") < pos("ended"),
        "{names:?}"
    );
    assert_eq!(seen[pos("started")]["from"], "101");
    assert_eq!(seen[pos("answered")]["answered_by"], "102");
    // The called line's key sees the call; another line's sees nothing of it.
    let mine = read_events(&mut own, ended, 20);
    assert!(mine.iter().any(|v| v["event"] == "ended"), "{mine:?}");
    let none = read_events(&mut other, |_| false, 3);
    assert!(none.is_empty(), "{none:?}");
}

#[test]
fn people_lines_devices_phones_prompts_agents_and_settings_are_administered() {
    use serde_json::json as j;
    let dir = temp_dir();
    let d = dir.path();
    let pbx = Pbx::start(d);
    let api = pbx.http.expect("the API's address");
    let operator = key(d, &["--operator", "--name", "ops"]);
    let admin = key(d, &["--tenant", "demo", "--name", "admin"]);
    let user = key(d, &["--tenant", "demo", "--line", "101", "--name", "ann"]);

    // The operator adds a tenant; a taken name or a bad domain is refused by field.
    let (code, _) = send(
        api,
        "POST",
        "/api/v1/tenants",
        &operator,
        j!({"name": "acme", "domains": ["acme.test"]}),
    );
    assert_eq!(code, 201);
    let (code, why) = send(
        api,
        "POST",
        "/api/v1/tenants",
        &operator,
        j!({"name": "acme", "domains": ["acme2.test"]}),
    );
    assert_eq!((code, why["field"].clone()), (422, "name".into()), "{why}");
    let (code, why) = send(
        api,
        "POST",
        "/api/v1/tenants",
        &operator,
        j!({"name": "b", "domains": ["no domain"]}),
    );
    assert_eq!(
        (code, why["field"].clone()),
        (422, "domains".into()),
        "{why}"
    );
    let (code, _) = send(
        api,
        "POST",
        "/api/v1/tenants",
        &admin,
        j!({"name": "c", "domains": ["c.test"]}),
    );
    assert_eq!(code, 403);
    let acme = key(d, &["--tenant", "acme", "--name", "acme admin"]);

    // People, and a line given to one (a bad password changes nothing).
    let (code, _) = send(
        api,
        "POST",
        "/api/v1/people",
        &admin,
        j!({"name": "Ann", "email": "ann@example.test"}),
    );
    assert_eq!(code, 201);
    let (code, why) = send(
        api,
        "POST",
        "/api/v1/people",
        &admin,
        j!({"email": "x@example.test"}),
    );
    assert_eq!((code, why["field"].clone()), (422, "name".into()));
    let (code, why) = send(
        api,
        "PATCH",
        "/api/v1/lines/103",
        &admin,
        j!({"person": "Ann", "password": "short"}),
    );
    assert_eq!(
        (code, why["field"].clone()),
        (422, "password".into()),
        "{why}"
    );
    let (_, people) = get(api, "/api/v1/people", &admin);
    assert_eq!(people[0]["lines"], j!([]), "{people}");
    let (code, _) = send(
        api,
        "PATCH",
        "/api/v1/lines/103",
        &admin,
        j!({"person": "Ann"}),
    );
    assert_eq!(code, 204);
    let (_, people) = get(api, "/api/v1/people", &admin);
    assert_eq!(people[0]["lines"], j!(["103"]), "{people}");
    // A new password is the running line's at once: 103 registered with its old
    // one, the old one is refused after the change and the new one registers.
    let register = |password: &str| {
        let mut phone = crate::common::sip_client::SipClient::udp(pbx.addr);
        let contact = format!("<sip:103@{}>", phone.local);
        phone
            .register(
                "103",
                password,
                "127.0.0.1",
                Some(&contact),
                Some(600),
                engine::auth::Algorithm::Md5,
            )
            .code()
    };
    assert_eq!(register("secret103"), Some(200));
    let (code, _) = send(
        api,
        "PATCH",
        "/api/v1/lines/103",
        &admin,
        j!({"password": "changed103"}),
    );
    assert_eq!(code, 204);
    assert_ne!(register("secret103"), Some(200), "the old password");
    assert_eq!(register("changed103"), Some(200), "the new password");
    let (code, why) = send(
        api,
        "PATCH",
        "/api/v1/lines/103",
        &admin,
        j!({"person": "Nobody"}),
    );
    assert_eq!((code, why["field"].clone()), (422, "person".into()));
    let (code, _) = send(
        api,
        "PATCH",
        "/api/v1/lines/103",
        &acme,
        j!({"person": null}),
    );
    assert_eq!(code, 404, "another tenant's line is not found");
    let (_, people) = get(api, "/api/v1/people", &acme);
    assert_eq!(people, j!([]));

    // A line's own settings: its user sets do not disturb and forwarding; a target
    // that is no number of the tenant is refused naming the field; what only the
    // administrator sets is 403 for the user; another line is 404.
    let (code, f) = send(
        api,
        "PATCH",
        "/api/v1/lines/101/features",
        &user,
        j!({"dnd": true, "forward_busy": "102"}),
    );
    assert_eq!(code, 200, "{f}");
    assert_eq!(
        (f["dnd"].clone(), f["forward"]["busy"].clone()),
        (j!(true), j!("102"))
    );
    let (code, why) = send(
        api,
        "PATCH",
        "/api/v1/lines/101/features",
        &user,
        j!({"dnd": false, "forward_always": "abc"}),
    );
    assert_eq!(
        (code, why["field"].clone()),
        (422, "forward_always".into()),
        "{why}"
    );
    let (_, f) = get(api, "/api/v1/lines/101/features", &user);
    assert_eq!(f["dnd"], j!(true), "a refused change changes nothing: {f}");
    let (code, _) = send(
        api,
        "PATCH",
        "/api/v1/lines/101/features",
        &user,
        j!({"admin_forward": "102"}),
    );
    assert_eq!(code, 403);
    let (code, _) = get(api, "/api/v1/lines/102/features", &user);
    assert_eq!(code, 404);
    let (code, why) = send(
        api,
        "PATCH",
        "/api/v1/lines/101/features",
        &admin,
        j!({"no_answer_secs": 500}),
    );
    assert_eq!(
        (code, why["field"].clone()),
        (422, "no_answer_secs".into()),
        "{why}"
    );
    let (code, f) = send(
        api,
        "PATCH",
        "/api/v1/lines/101/features",
        &admin,
        j!({"dnd": false, "forward_busy": null}),
    );
    assert_eq!(
        (code, f["dnd"].clone(), f["forward"]["busy"].clone()),
        (200, j!(false), Value::Null)
    );
    // The CLI reads what the API stored.
    let out = pbx_admin(d, &["line", "show", "--tenant", "demo", "101"]);
    assert!(out.status.success());

    // Device accounts: added, listed, refused by field, removed; not another tenant's.
    let (code, _) = send(
        api,
        "POST",
        "/api/v1/devices",
        &admin,
        j!({"username": "ann-dect", "line": "103", "password": "dectsecret"}),
    );
    assert_eq!(code, 201);
    let (code, why) = send(
        api,
        "POST",
        "/api/v1/devices",
        &admin,
        j!({"username": "12345", "line": "103", "password": "dectsecret"}),
    );
    assert_eq!(
        (code, why["field"].clone()),
        (422, "username".into()),
        "{why}"
    );
    let (code, why) = send(
        api,
        "POST",
        "/api/v1/devices",
        &admin,
        j!({"username": "x-desk", "line": "999", "password": "dectsecret"}),
    );
    assert_eq!((code, why["field"].clone()), (422, "line".into()), "{why}");
    let (_, list) = get(api, "/api/v1/devices", &admin);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|d| d["username"] == "ann-dect" && d["line"] == "103"),
        "{list}"
    );
    // The device registers with its own account.
    let mut phone = crate::common::sip_client::SipClient::udp(pbx.addr);
    let contact = format!("<sip:ann-dect@{}>", phone.local);
    let resp = phone.register(
        "ann-dect",
        "dectsecret",
        "127.0.0.1",
        Some(&contact),
        Some(60),
        engine::auth::Algorithm::Md5,
    );
    assert_eq!(resp.code(), Some(200));
    // Listed as registered: the binding knows the account that made it.
    let (_, list) = get(api, "/api/v1/devices", &admin);
    let dect = list
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["username"] == "ann-dect")
        .cloned()
        .unwrap();
    assert_eq!(dect["registered"], true, "{list}");
    let (code, _) = http(api, "DELETE", "/api/v1/devices/ann-dect", Some(&acme), None);
    assert_eq!(code, 404);
    let (code, _) = http(
        api,
        "DELETE",
        "/api/v1/devices/ann-dect",
        Some(&admin),
        None,
    );
    assert_eq!(code, 204);

    // A phone provisioned by MAC: listed as provisioning until it fetches.
    let (code, why) = send(
        api,
        "POST",
        "/api/v1/phones",
        &admin,
        j!({"mac": "00:15:65:aa:bb:cc", "vendor": "nokia", "line": "103"}),
    );
    assert_eq!(
        (code, why["field"].clone()),
        (422, "vendor".into()),
        "{why}"
    );
    let (code, why) = send(
        api,
        "POST",
        "/api/v1/phones",
        &admin,
        j!({"mac": "zz", "vendor": "yealink", "line": "103"}),
    );
    assert_eq!((code, why["field"].clone()), (422, "mac".into()), "{why}");
    let (code, _) = send(
        api,
        "POST",
        "/api/v1/phones",
        &admin,
        j!({"mac": "00:15:65:aa:bb:cc", "vendor": "yealink", "line": "103", "blf": ["101"]}),
    );
    assert_eq!(code, 201);
    let (_, phones) = get(api, "/api/v1/phones", &admin);
    assert_eq!(phones[0]["status"], "provisioning", "{phones}");
    let text = raw_get(api, "/provision/001565aabbcc.cfg");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let (_, phones) = get(api, "/api/v1/phones", &admin);
    assert_eq!(
        phones[0]["status"], "offline",
        "fetched, not registered: {phones}"
    );

    // Prompts: a mono 8 kHz WAV is stored; anything else refused naming what it is.
    let wav = d.join("upload.wav");
    tone_wav(&wav, 440.0, 500, 8000, 1);
    let put = |k: &str, name: &str, bytes: &[u8]| {
        http_bytes(
            api,
            ("PUT", &format!("/api/v1/prompts/{name}")),
            Some(k),
            Some("audio/wav"),
            bytes,
        )
    };
    let (code, body) = put(&admin, "welcome", &std::fs::read(&wav).unwrap());
    assert_eq!(code, 201, "{body}");
    assert_eq!(json(&body)["duration_ms"], 500);
    tone_wav(&wav, 440.0, 200, 44100, 2);
    let (code, body) = put(&admin, "stereo", &std::fs::read(&wav).unwrap());
    let why = json(&body);
    assert_eq!((code, why["field"].clone()), (422, "body".into()), "{why}");
    assert!(why["error"].as_str().unwrap().contains("44100"), "{why}");
    let (code, _) = put(&admin, "../evil", b"RIFF");
    assert_ne!(code, 201);
    let (_, list) = get(api, "/api/v1/prompts", &admin);
    assert_eq!(list, j!([{"name": "welcome", "duration_ms": 500}]));
    let (code, _) = http(api, "DELETE", "/api/v1/prompts/welcome", Some(&acme), None);
    assert_eq!(code, 404);
    let (code, _) = http(api, "DELETE", "/api/v1/prompts/welcome", Some(&admin), None);
    assert_eq!(code, 204);

    // Agents: a member of a group logs itself out and in again.
    let (_, plan) = get(api, "/api/v1/plan", &admin);
    let group = plan["groups"][0]["number"].as_str().unwrap().to_owned();
    let member = plan["groups"][0]["members"][0].as_str().unwrap().to_owned();
    let own = key(
        d,
        &["--tenant", "demo", "--line", &member, "--name", "agent"],
    );
    let path = format!("/api/v1/agents/{member}");
    let (code, body) = send(
        api,
        "PUT",
        &path,
        &own,
        j!({"logged_in": false, "group": group}),
    );
    assert_eq!(
        (code, body["groups"].clone()),
        (200, j!([group.clone()])),
        "{body}"
    );
    let (_, agents) = get(api, "/api/v1/agents", &own);
    let me = agents
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["group"] == group.as_str())
        .unwrap();
    assert_eq!(me["logged_in"], false, "{agents}");
    let out = pbx_admin(d, &["agent", "list", "--tenant", "demo"]);
    let listed = String::from_utf8(out.stdout).unwrap();
    assert!(listed.contains("logged out"), "{listed}");
    let (code, why) = send(
        api,
        "PUT",
        &path,
        &own,
        j!({"logged_in": true, "group": "0000"}),
    );
    assert_eq!((code, why["field"].clone()), (422, "group".into()), "{why}");
    let (code, _) = send(
        api,
        "PUT",
        "/api/v1/agents/102",
        &user,
        j!({"logged_in": true}),
    );
    assert_eq!(code, 404, "a user logs in only its own line");
    let (code, _) = send(api, "PUT", &path, &own, j!({"logged_in": true}));
    assert_eq!(code, 200);
}

#[test]
fn click_to_dial_rings_the_users_phone_which_then_calls_and_the_api_hangs_up() {
    use serde_json::json as j;
    let dir = temp_dir();
    let d = dir.path();
    let pbx = Pbx::start(d);
    let api = pbx.http.expect("the API's address");
    let admin = key(d, &["--tenant", "demo", "--name", "admin"]);
    let user = key(d, &["--tenant", "demo", "--line", "101", "--name", "ann"]);
    let mut phone = Device::register(&pbx, "101");
    let mut callee = Device::register(&pbx, "102");

    // Refused before anything rings: another line, a line without a phone, a number
    // the plan cannot route.
    let (code, _) = send(
        api,
        "POST",
        "/api/v1/lines/102/calls",
        &user,
        j!({"to": "101"}),
    );
    assert_eq!(code, 404, "a user dials only from its own line");
    let (code, why) = send(
        api,
        "POST",
        "/api/v1/lines/103/calls",
        &admin,
        j!({"to": "102"}),
    );
    assert_eq!(code, 409, "{why}");
    let (code, why) = send(
        api,
        "POST",
        "/api/v1/lines/101/calls",
        &user,
        j!({"to": "abc"}),
    );
    assert_eq!((code, why["field"].clone()), (422, "to".into()), "{why}");

    // The user's phone rings first, showing the number, and answers at once.
    let (code, body) = send(
        api,
        "POST",
        "/api/v1/lines/101/calls",
        &user,
        j!({"to": "102"}),
    );
    assert_eq!(code, 202, "{body}");
    let invite = phone.next_invite(&[]).expect("the user's phone rings");
    let text = String::from_utf8_lossy(invite.as_bytes()).to_string();
    assert!(text.contains("answer-after=0"), "{text}");
    assert!(
        invite
            .header(engine::sip::HeaderName::From)
            .unwrap()
            .contains("102"),
        "{text}"
    );
    assert!(text.contains("a=inactive"), "no media on this leg: {text}");
    phone.answer_invite(&invite, 40100);
    // Asked to call 102.
    let refer = recv_until(&mut phone.c, "the REFER", |m| is_request(m, "REFER"));
    let refer_to = refer
        .header_lines()
        .find(|(_, n, _)| n.eq_ignore_ascii_case("Refer-To"));
    assert!(
        refer_to.is_some_and(|(_, _, v)| v.contains("sip:102@")),
        "{refer:?}"
    );
    phone
        .c
        .send_raw(&engine::sip::MessageWriter::response_to(&refer, 202, "Accepted", None).finish());
    // The phone calls as its line: 102 rings and answers.
    let mut call = Caller::call(&pbx, "101", "102");
    callee.answer(40102);
    assert_eq!(call.expect(200), 200);
    call.ack();
    // It reports the call's success; the switch ends its own dialog with the phone.
    let notify = "Event: refer\r\nSubscription-State: terminated;reason=noresource\r\n";
    phone.send_with_body(
        "NOTIFY",
        notify,
        Some(("message/sipfrag;version=2.0", "SIP/2.0 200 OK\r\n")),
    );
    recv_until(
        &mut phone.c,
        "the switch's BYE of the click-to-dial leg",
        |m| {
            if is_request(m, "BYE") {
                return true;
            }
            false
        },
    );

    // The API hangs up the call 101 placed: both phones get BYE; then there is none.
    let (code, body) = send(
        api,
        "POST",
        "/api/v1/lines/102/calls/hangup",
        &admin,
        Value::Null,
    );
    assert_eq!((code, body["calls"].clone()), (200, j!(1)), "{body}");
    callee.answer_request("BYE");
    call.answer_request("BYE");
    let (code, _) = send(
        api,
        "POST",
        "/api/v1/lines/102/calls/hangup",
        &admin,
        Value::Null,
    );
    assert_eq!(code, 409);
    let (code, _) = send(
        api,
        "POST",
        "/api/v1/lines/102/calls/transfer-to-mars",
        &admin,
        Value::Null,
    );
    assert_eq!(code, 404);
}

#[test]
fn call_control_holds_sends_keys_transfers_and_deflects() {
    use serde_json::json as j;
    let dir = temp_dir();
    let d = dir.path();
    let pbx = Pbx::start(d);
    let api = pbx.http.expect("the API's address");
    let admin = key(d, &["--tenant", "demo", "--name", "admin"]);
    let ann = key(d, &["--tenant", "demo", "--line", "101", "--name", "ann"]);
    let act = |k: &str, line: &str, action: &str, body: Value| {
        send(
            api,
            "POST",
            &format!("/api/v1/lines/{line}/calls/{action}"),
            k,
            body,
        )
    };
    let mut bob = Device::register(&pbx, "102");
    let mut carl = Device::register(&pbx, "103");
    // The administrator's live events follow every action below.
    let mut board = events(api, &admin);

    // 101 calls 102, who answers; nothing to hold before that.
    let a_rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let b_rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    b_rtp
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut call = Caller::call_with_media(&pbx, "101", "102", a_rtp.local_addr().unwrap().port());
    let (code, _) = act(&ann, "101", "hold", Value::Null);
    assert_eq!(code, 409, "ringing: nothing to hold yet");
    bob.answer(b_rtp.local_addr().unwrap().port());
    assert_eq!(call.expect(200), 200);
    call.ack();
    let to_b = sdp_target(bob.invite.as_ref().unwrap());
    b_rtp
        .send_to(&tone_packet(440.0, 0, 0xb0b)[..12], to_b)
        .unwrap();

    // Held through the API: 102 hears music on hold while 101 says nothing; taken
    // back, the music stops.
    let (code, body) = act(&ann, "101", "hold", Value::Null);
    assert_eq!((code, body["calls"].clone()), (200, j!(1)), "{body}");
    assert!(loudness(&b_rtp, 800) > 100.0, "102 hears music on hold");
    let state_of = |ext: &str| {
        let (_, lines) = get(api, "/api/v1/lines", &admin);
        lines
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["ext"] == ext)
            .map(|l| l["state"].clone())
            .unwrap()
    };
    assert_eq!(state_of("101"), "held");
    assert_eq!(state_of("102"), "in call");
    let (code, _) = act(&ann, "101", "retrieve", Value::Null);
    assert_eq!(code, 200);
    assert_eq!(state_of("101"), "in call");
    std::thread::sleep(Duration::from_millis(200));
    while b_rtp.recv(&mut [0u8; 2048]).is_ok() {}
    assert!(loudness(&b_rtp, 400) < 50.0, "no music once retrieved");

    // Keys: 102 negotiated no telephone-events, so each comes as a SIP INFO, in order.
    let (code, why) = act(&ann, "101", "dtmf", j!({"keys": "1x"}));
    assert_eq!((code, why["field"].clone()), (422, "keys".into()));
    let (code, _) = act(&ann, "101", "dtmf", j!({"keys": "5#"}));
    assert_eq!(code, 200);
    for key in ["5", "#"] {
        let info = bob.answer_request("INFO");
        let body = String::from_utf8_lossy(info.body()).to_string();
        assert!(body.contains(&format!("Signal={key}")), "{body}");
    }

    // 102 transfers 101 to 103 (blind): 103 answers, 102 gets BYE, 101 stays.
    let (code, why) = act(&admin, "102", "transfer", j!({}));
    assert_eq!((code, why["field"].clone()), (422, "to".into()));
    let (code, body) = act(&admin, "102", "transfer", j!({"to": "103"}));
    assert_eq!(code, 200, "{body}");
    carl.answer(40300);
    bob.answer_request("BYE");
    // Then 103 hangs up through the API: 101 gets BYE.
    let (code, _) = act(&admin, "103", "hangup", Value::Null);
    assert_eq!(code, 200);
    carl.answer_request("BYE");
    call.answer_request("BYE");

    // Answered from the API: 102's ringing phone is asked (Event: talk) and answers.
    let mut call = Caller::call(&pbx, "101", "102");
    let ringing = bob.next_invite(&[]).expect("102 rings");
    bob.respond(&ringing, 180, "Ringing");
    assert_eq!(call.expect(180), 180);
    let (code, body) = act(&ann, "101", "answer", Value::Null);
    assert_eq!(code, 409, "101 is not rung: {body}");
    let (code, body) = act(&admin, "102", "answer", Value::Null);
    assert_eq!(code, 200, "{body}");
    let talk = bob.answer_request("NOTIFY");
    let event = talk
        .header_lines()
        .find(|(_, n, _)| n.eq_ignore_ascii_case("Event"))
        .map(|(_, _, v)| v.to_owned());
    assert_eq!(event.as_deref(), Some("talk"));
    bob.answer_invite(&ringing, 40104);
    assert_eq!(call.expect(200), 200);
    call.ack();
    call.bye();
    bob.answer_request("BYE");

    // Pickup from the API: 104's phone is rung and asked to dial the pickup code for
    // the call ringing 103.
    let mut dave = Device::register(&pbx, "104");
    let mut ringing_103 = Caller::call(&pbx, "101", "103");
    let at_103 = carl.next_invite(&[]).expect("103 rings");
    carl.respond(&at_103, 180, "Ringing");
    let (code, body) = send(
        api,
        "POST",
        "/api/v1/lines/104/calls",
        &admin,
        j!({"pickup": "103"}),
    );
    assert_eq!(code, 202, "{body}");
    let invite = dave.next_invite(&[]).expect("104's phone rings");
    dave.answer_invite(&invite, 40106);
    let refer = recv_until(&mut dave.c, "the REFER", |m| is_request(m, "REFER"));
    let refer_to = refer
        .header_lines()
        .find(|(_, n, _)| n.eq_ignore_ascii_case("Refer-To"))
        .map(|(_, _, v)| v.to_owned())
        .unwrap();
    assert!(refer_to.contains("sip:*59103@"), "{refer_to}");
    ringing_103.cancel();
    let cancel = recv_until(&mut carl.c, "the CANCEL at 103", |m| {
        is_request(m, "CANCEL")
    });
    carl.c
        .send_raw(&engine::sip::MessageWriter::response_to(&cancel, 200, "OK", None).finish());
    carl.respond(&at_103, 487, "Request Terminated");
    assert_eq!(ringing_103.expect(487), 487);

    // A call ringing 102 is deflected to 103: 102's phone is cancelled, 103 answers.
    let mut call = Caller::call(&pbx, "101", "102");
    let ringing = bob.next_invite(&[]).expect("102 rings");
    bob.respond(&ringing, 180, "Ringing");
    let (code, body) = act(&admin, "102", "deflect", j!({"to": "103"}));
    assert_eq!(code, 200, "{body}");
    let cancel = recv_until(&mut bob.c, "the CANCEL", |m| is_request(m, "CANCEL"));
    bob.c
        .send_raw(&engine::sip::MessageWriter::response_to(&cancel, 200, "OK", None).finish());
    bob.respond(&ringing, 487, "Request Terminated");
    carl.answer(40302);
    assert_eq!(call.expect(200), 200);
    call.ack();
    call.bye();
    // The live events, in the order the actions happened: 101 held then talking
    // again; the call transferred to 103; the ringing call forwarded (deflected)
    // from 102 to 103; every call ended.
    let seen = read_events(&mut board, |_| false, 6);
    let at = |pred: &dyn Fn(&Value) -> bool| {
        seen.iter()
            .position(pred)
            .unwrap_or_else(|| panic!("missing: {seen:?}"))
    };
    let held = at(&|v| v["type"] == "line" && v["line"] == "101" && v["state"] == "held");
    let back = seen
        .iter()
        .enumerate()
        .skip(held)
        .find(|(_, v)| v["type"] == "line" && v["line"] == "101" && v["state"] == "in call")
        .map(|(i, _)| i)
        .unwrap_or_else(|| panic!("101 never back in the call: {seen:?}"));
    let transferred = at(&|v| v["event"] == "transferred" && v["to"] == "103");
    let deflected = at(&|v| v["event"] == "forwarded" && v["from"] == "102" && v["to"] == "103");
    assert!(
        held < back && back < transferred && transferred < deflected,
        "{seen:?}"
    );
    let ended = seen.iter().filter(|v| v["event"] == "ended").count();
    assert!(ended >= 3, "{seen:?}");
}

#[test]
fn private_calls_and_project_codes_are_journalled_as_the_tenant_says() {
    use serde_json::json as j;
    let dir = temp_dir();
    let d = dir.path();
    let mut pbx = Pbx::start(d);
    // 103's calls are private and tagged 99 by its line's settings.
    pbx.stop();
    let out = pbx_admin(
        d,
        &[
            "line",
            "set",
            "--tenant",
            "demo",
            "103",
            "--private",
            "on",
            "--project",
            "99",
        ],
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("project code:          99"));
    pbx.restart();
    let api = pbx.http.expect("the API's address");
    let admin = key(d, &["--tenant", "demo", "--name", "admin"]);
    let mut phone = Device::register(&pbx, "102");
    // Three calls to 102: dialled private, dialled with project 4711, from 103.
    for (from, dialled) in [("101", "*48102"), ("101", "*494711*102"), ("103", "102")] {
        let mut call = Caller::call(&pbx, from, dialled);
        let invite = phone.next_invite(&[]).expect("102 rings");
        // 102 is called as 102, the prefixes taken off.
        assert!(invite.uri().unwrap().raw.contains("102"), "{invite:?}");
        phone.answer_invite(&invite, 42100);
        assert_eq!(call.expect(200), 200);
        call.ack();
        call.bye();
        phone.answer_request("BYE");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let rows = loop {
        let (_, rows) = get(api, "/api/v1/calls?limit=20", &admin);
        let done = rows
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["ended_at"].is_u64())
            .count();
        if done >= 3 || std::time::Instant::now() > deadline {
            break rows;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let rows = rows.as_array().unwrap();
    let of = |from: &str, project: Value| {
        rows.iter()
            .find(|r| r["caller_line"] == from && r["project"] == project)
            .unwrap_or_else(|| panic!("no call from {from} with {project}: {rows:?}"))
    };
    // Masked (the default rule): the number's last three digits are XXX.
    let private = of("101", Value::Null);
    assert_eq!(
        (private["private"].clone(), private["to"].clone()),
        (j!(true), j!("XXX"))
    );
    let project = of("101", j!("4711"));
    assert_eq!(
        (project["private"].clone(), project["to"].clone()),
        (j!(false), j!("102"))
    );
    let line = of("103", j!("99"));
    assert_eq!(
        (line["private"].clone(), line["to"].clone()),
        (j!(true), j!("XXX"))
    );
    // Filtered by project code, through the API and as the CLI's CSV.
    let (_, tagged) = get(api, "/api/v1/calls?project=4711", &admin);
    assert_eq!(tagged.as_array().unwrap().len(), 1, "{tagged}");
    let csv =
        String::from_utf8(pbx_admin(d, &["journal", "--tenant", "demo", "--csv"]).stdout).unwrap();
    assert!(
        csv.lines().next().unwrap().ends_with(",private,project"),
        "{csv}"
    );
    assert!(csv.lines().any(|l| l.ends_with(",0,4711")), "{csv}");
    // The tenant's rule for private numbers is shown and changed by the CLI.
    let out = pbx_admin(
        d,
        &[
            "tenant",
            "journal-rules",
            "demo",
            "--private-numbers",
            "omitted",
        ],
    );
    let said = String::from_utf8(out.stdout).unwrap();
    assert!(said.contains("private_numbers=omitted"), "{said}");
    // Click-to-dial asks the phone to dial the prefixes.
    let mut me = Device::register(&pbx, "104");
    let (code, body) = send(
        api,
        "POST",
        "/api/v1/lines/104/calls",
        &admin,
        j!({"to": "102", "private": true, "project": "7"}),
    );
    assert_eq!(code, 202, "{body}");
    let invite = me.next_invite(&[]).expect("104 rings");
    me.answer_invite(&invite, 42102);
    let refer = recv_until(&mut me.c, "the REFER", |m| is_request(m, "REFER"));
    let to = refer
        .header_lines()
        .find(|(_, n, _)| n.eq_ignore_ascii_case("Refer-To"))
        .map(|(_, _, v)| v.to_owned())
        .unwrap();
    assert!(to.contains("sip:*497*") && to.contains("*48102@"), "{to}");
    let (code, why) = send(
        api,
        "POST",
        "/api/v1/lines/104/calls",
        &admin,
        j!({"to": "102", "project": "x1"}),
    );
    assert_eq!((code, why["field"].clone()), (422, "project".into()));
}
