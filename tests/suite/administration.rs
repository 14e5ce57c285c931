//! Administration through the HTTP API on `pbx serve`, beyond adding things: DECT
//! bases with handsets and analog adapters provisioned behind their tokens, each
//! account registering with what its file says and the device's status following;
//! lines, people, phones and tenants removed (and stopped at once in the running
//! switch); the plan changed one entry at a time with the whole plan's checks.

use std::net::SocketAddr;

use crate::common::api_client::*;
use crate::common::sip_client::SipClient;
use crate::common::{temp_dir, Pbx};
use engine::auth::Algorithm;
use serde_json::{json, Value};

/// The value Gigaset's file gives item `id` (`value='"…"'`).
fn gigaset_item(text: &str, id: &str) -> String {
    let at = text
        .find(&format!("BS_IP_Data1.{id}\""))
        .unwrap_or_else(|| panic!("no {id} in {text}"));
    let rest = &text[at..];
    let start = rest.find("value='\"").unwrap() + 8;
    let end = start + rest[start..].find("\"'").unwrap();
    rest[start..end].to_owned()
}

/// The value of P-value `p` in Grandstream's file.
fn grandstream_value(text: &str, p: &str) -> String {
    let open = format!("<{p}>");
    let start = text
        .find(&open)
        .unwrap_or_else(|| panic!("no {p} in {text}"))
        + open.len();
    let end = start + text[start..].find('<').unwrap();
    text[start..end].to_owned()
}

fn register(pbx: SocketAddr, user: &str, password: &str) -> Option<u16> {
    let mut phone = SipClient::udp(pbx);
    let contact = format!("<sip:{user}@{}>", phone.local);
    phone
        .register(
            user,
            password,
            "127.0.0.1",
            Some(&contact),
            Some(600),
            Algorithm::Md5,
        )
        .code()
}

fn phone<'a>(phones: &'a Value, mac: &str) -> &'a Value {
    phones
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["mac"] == mac)
        .unwrap_or_else(|| panic!("no phone {mac} in {phones}"))
}

#[test]
fn dect_bases_and_adapters_are_provisioned_per_handset_and_port_behind_their_tokens() {
    let dir = temp_dir();
    let d = dir.path();
    let pbx = Pbx::start(d);
    let api = pbx.http.unwrap();
    let admin = key(d, &["--tenant", "demo", "--name", "admin"]);
    let post = |body: Value| {
        let (code, text) = http(
            api,
            "POST",
            "/api/v1/phones",
            Some(&admin),
            Some(&body.to_string()),
        );
        (code, json(&text))
    };

    // Refused, naming the field; nothing is stored.
    for (body, field) in [
        (
            json!({"mac": "7c2f80aabbcc", "vendor": "gigaset", "kind": "dect",
                   "handsets": [{"ipui": "not-hex", "line": "105"}]}),
            "handsets",
        ),
        (
            json!({"mac": "7c2f80aabbcc", "vendor": "gigaset", "kind": "dect",
                   "handsets": [{"ipui": "0283D9A2B1", "line": "999"}]}),
            "handsets",
        ),
        (
            json!({"mac": "000413aabbcc", "vendor": "snom", "kind": "ata", "ports": ["105"]}),
            "vendor",
        ),
        (
            json!({"mac": "000b82aabbcc", "vendor": "grandstream", "kind": "ata", "ports": []}),
            "ports",
        ),
        (
            json!({"mac": "7c2f80aabbcc", "vendor": "gigaset", "kind": "fax", "line": "105"}),
            "kind",
        ),
    ] {
        let (code, answer) = post(body.clone());
        assert_eq!(
            (code, answer["field"].as_str()),
            (422, Some(field)),
            "{body}: {answer}"
        );
    }
    let (_, phones) = get(api, "/api/v1/phones", &admin);
    assert_eq!(phones, json!([]), "nothing was stored");

    // A Gigaset base with two handsets, bound to a token.
    let (code, made) = post(json!({
        "mac": "7C:2F:80:AA:BB:CC", "vendor": "gigaset", "kind": "dect", "token": true,
        "handsets": [{"ipui": "0283D9A2B1", "line": "105"}, {"ipui": "0283D9A2B2", "line": "106"}],
        "language": "de"
    }));
    assert_eq!(code, 201, "{made}");
    assert_eq!(
        made["devices"],
        json!(["gigaset-7c2f80aabbcc", "gigaset-7c2f80aabbcc-2"])
    );
    let url = made["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with("/provision/") && url.ends_with('/'),
        "{url}"
    );
    let (code, _) = http(api, "GET", "/provision/7C2F80AABBCC.xml", None, None);
    assert_eq!(code, 404, "without its token the base gets nothing");
    let (code, _) = http(
        api,
        "GET",
        "/provision/00000000000000000000000000000000/7C2F80AABBCC.xml",
        None,
        None,
    );
    assert_eq!(code, 404, "nor with another token");
    let (code, file) = http(api, "GET", &format!("{url}7C2F80AABBCC.xml"), None, None);
    assert_eq!(code, 200, "{file}");
    assert_eq!(gigaset_item(&file, "aucS_HS_IPUI_2"), "0283D9A2B2");
    let user = gigaset_item(&file, "aucS_SIP_LOGIN_ID_2");
    assert_eq!(user, "gigaset-7c2f80aabbcc-2");
    let password = gigaset_item(&file, "aucS_SIP_PASSWORD_2");
    let (_, phones) = get(api, "/api/v1/phones", &admin);
    assert_eq!(phone(&phones, "7c2f80aabbcc")["status"], "offline");
    // The second handset registers with its own account, as line 106.
    assert_eq!(register(pbx.addr, &user, &password), Some(200));
    let (_, phones) = get(api, "/api/v1/phones", &admin);
    let base = phone(&phones, "7c2f80aabbcc");
    assert_eq!(base["status"], "online", "{base}");
    assert_eq!(base["kind"], "dect");
    assert_eq!(base["token"], true);
    assert_eq!(
        base["accounts"][1],
        json!({"slot": 2, "ipui": "0283D9A2B2", "device": user, "line": "106"})
    );
    let (_, devices) = get(api, "/api/v1/devices", &admin);
    let handset = devices
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["username"] == user.as_str())
        .unwrap_or_else(|| panic!("{devices}"));
    assert_eq!(handset["line"], "106");

    // A Grandstream adapter with two ports: port 1 registers with a stale password,
    // and the adapter shows in error until it registers with its file's.
    let (code, made) = post(json!({
        "mac": "000b82aabbcc", "vendor": "grandstream", "kind": "ata", "ports": ["107", "108"]
    }));
    assert_eq!(code, 201, "{made}");
    let (code, file) = http(api, "GET", "/provision/cfg000b82aabbcc.xml", None, None);
    assert_eq!(code, 200, "{file}");
    assert_eq!(grandstream_value(&file, "P35"), "grandstream-000b82aabbcc");
    assert_eq!(
        grandstream_value(&file, "P404"),
        "grandstream-000b82aabbcc-2"
    );
    let port1 = grandstream_value(&file, "P34");
    assert_ne!(
        register(pbx.addr, "grandstream-000b82aabbcc", "stale-password"),
        Some(200)
    );
    let (_, phones) = get(api, "/api/v1/phones", &admin);
    assert_eq!(
        phone(&phones, "000b82aabbcc")["status"],
        "error",
        "{phones}"
    );
    assert_eq!(
        register(pbx.addr, "grandstream-000b82aabbcc", &port1),
        Some(200)
    );
    let (_, phones) = get(api, "/api/v1/phones", &admin);
    assert_eq!(phone(&phones, "000b82aabbcc")["status"], "online");

    // Forgotten: its accounts, their registrations and its file go.
    let (code, _) = http(
        api,
        "DELETE",
        "/api/v1/phones/7c2f80aabbcc",
        Some(&admin),
        None,
    );
    assert_eq!(code, 204);
    let (code, _) = http(
        api,
        "DELETE",
        "/api/v1/phones/7c2f80aabbcc",
        Some(&admin),
        None,
    );
    assert_eq!(code, 404);
    let (_, devices) = get(api, "/api/v1/devices", &admin);
    assert!(
        !devices.to_string().contains("gigaset-"),
        "the handsets' accounts are gone: {devices}"
    );
    let (code, _) = http(api, "GET", &format!("{url}7C2F80AABBCC.xml"), None, None);
    assert_eq!(code, 404);
    assert_ne!(
        register(pbx.addr, &user, &password),
        Some(200),
        "the handset's account no longer registers"
    );
    let (_, lines) = get(api, "/api/v1/lines", &admin);
    let l106 = lines
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["ext"] == "106")
        .unwrap();
    assert_eq!(
        l106["registered_devices"], 0,
        "the handset's registration ended with it: {l106}"
    );
}

#[test]
fn lines_people_tenants_and_plan_entries_are_removed_and_stop_at_once() {
    let dir = temp_dir();
    let d = dir.path();
    let pbx = Pbx::start(d);
    let api = pbx.http.unwrap();
    let admin = key(d, &["--tenant", "demo", "--name", "admin"]);
    let operator = key(d, &["--operator", "--name", "operator"]);
    let call = |method: &str, path: &str, k: &str, body: Option<Value>| {
        let body = body.map(|b| b.to_string());
        let (code, text) = http(api, method, path, Some(k), body.as_deref());
        (
            code,
            if text.is_empty() {
                Value::Null
            } else {
                json(&text)
            },
        )
    };

    // A line that registers, and a hunt group put alone with it as member.
    let (code, _) = call(
        "POST",
        "/api/v1/lines",
        &admin,
        Some(json!({"ext": "150", "password": "secret150pw"})),
    );
    assert_eq!(code, 201);
    assert_eq!(register(pbx.addr, "150", "secret150pw"), Some(200));
    let (code, body) = call(
        "PUT",
        "/api/v1/plan/groups/610",
        &admin,
        Some(json!({"name": "night", "members": ["150"]})),
    );
    assert_eq!(code, 201, "{body}");
    let (code, group) = call("GET", "/api/v1/plan/groups/610", &admin, None);
    assert_eq!((code, &group["members"]), (200, &json!(["150"])));
    let (_, plan) = call("GET", "/api/v1/plan", &admin, None);
    assert!(
        plan["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["number"] == "610"),
        "routing reads it: {plan}"
    );
    // Checked as the whole plan: a member that is no line, a key not the path's.
    let (code, body) = call(
        "PUT",
        "/api/v1/plan/groups/610",
        &admin,
        Some(json!({"name": "night", "members": ["159"]})),
    );
    assert_eq!(
        (code, body["field"].as_str()),
        (422, Some("groups")),
        "{body}"
    );
    assert!(body["error"].as_str().unwrap().contains("159"), "{body}");
    let (code, body) = call(
        "PUT",
        "/api/v1/plan/groups/610",
        &admin,
        Some(json!({"number": "611", "name": "night"})),
    );
    assert_eq!((code, body["field"].as_str()), (422, Some("number")));
    let (code, _) = call("GET", "/api/v1/plan/gropus", &admin, None);
    assert_eq!(code, 404);
    let (_, group) = call("GET", "/api/v1/plan/groups/610", &admin, None);
    assert_eq!(group["members"], json!(["150"]), "nothing changed");

    // The line is a member: not removed. Out of the group, it goes, and its running
    // actor with it: the password it registered with is refused at once.
    let (code, body) = call("DELETE", "/api/v1/lines/150", &admin, None);
    assert_eq!((code, body["field"].as_str()), (422, Some("ext")), "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("610")
            || body["error"].as_str().unwrap().contains("night"),
        "{body}"
    );
    let (code, _) = call("DELETE", "/api/v1/plan/groups/610", &admin, None);
    assert_eq!(code, 204);
    let (code, _) = call("DELETE", "/api/v1/plan/groups/610", &admin, None);
    assert_eq!(code, 404);
    let (code, _) = call("DELETE", "/api/v1/lines/150", &admin, None);
    assert_eq!(code, 204);
    let (code, _) = call("DELETE", "/api/v1/lines/150", &admin, None);
    assert_eq!(code, 404);
    assert_ne!(register(pbx.addr, "150", "secret150pw"), Some(200));
    let (_, lines) = call("GET", "/api/v1/lines", &admin, None);
    assert!(!lines.as_array().unwrap().iter().any(|l| l["ext"] == "150"));

    // A person goes; their line stays.
    let (code, _) = call(
        "POST",
        "/api/v1/people",
        &admin,
        Some(json!({"name": "Ann Example"})),
    );
    assert_eq!(code, 201);
    let (code, _) = call(
        "PATCH",
        "/api/v1/lines/105",
        &admin,
        Some(json!({"person": "Ann Example"})),
    );
    assert_eq!(code, 204);
    let (code, _) = call("DELETE", "/api/v1/people/Ann%20Example", &admin, None);
    assert_eq!(code, 204);
    let (_, people) = call("GET", "/api/v1/people", &admin, None);
    assert_eq!(people, json!([]));
    let (_, lines) = call("GET", "/api/v1/lines", &admin, None);
    assert!(lines.as_array().unwrap().iter().any(|l| l["ext"] == "105"));

    // A tenant the operator adds and removes: once removed its domain serves nobody
    // and its keys open nothing, while the demo tenant goes on.
    let (code, _) = call(
        "POST",
        "/api/v1/tenants",
        &operator,
        Some(json!({"name": "brief", "domains": ["brief.test"]})),
    );
    assert_eq!(code, 201);
    let brief = key(d, &["--tenant", "brief", "--name", "admin"]);
    let (code, _) = call(
        "POST",
        "/api/v1/lines",
        &brief,
        Some(json!({"ext": "100", "password": "secret100pw"})),
    );
    assert_eq!(code, 201);
    let registered = |domain: &str, password: &str| {
        let mut phone = SipClient::udp(pbx.addr);
        let contact = format!("<sip:100@{}>", phone.local);
        phone
            .register(
                "100",
                password,
                domain,
                Some(&contact),
                Some(600),
                Algorithm::Md5,
            )
            .code()
    };
    // The switch starts a new tenant within its sync period: until then its domain
    // is refused outright, then challenged.
    let served =
        || SipClient::udp(pbx.addr).register_unauthenticated("100", "brief.test") == Some(401);
    let started = std::time::Instant::now();
    while !served() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "the new tenant was never served"
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert_eq!(registered("brief.test", "secret100pw"), Some(200));
    let (code, _) = call("DELETE", "/api/v1/tenants/brief", &admin, None);
    assert_eq!(code, 403, "an administrator removes no tenant");
    let (code, _) = call("DELETE", "/api/v1/tenants/brief", &operator, None);
    assert_eq!(code, 204);
    assert!(!served(), "its domain serves nobody");
    let (code, _) = call("GET", "/api/v1/lines", &brief, None);
    assert_eq!(code, 401, "its keys went with it");
    let (code, _) = call("DELETE", "/api/v1/tenants/brief", &operator, None);
    assert_eq!(code, 404);
    assert_eq!(
        registered("127.0.0.1", "secret100"),
        Some(200),
        "the demo tenant goes on"
    );
}
