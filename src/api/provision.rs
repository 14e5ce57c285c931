//! Phones fetch their configuration by MAC: `GET /provision/<file>`, the file named as
//! each vendor asks for it (`001565aabbcc.cfg`, `snom370-001565AABBCC.htm`,
//! `cfg001565aabbcc.xml` …): the MAC is the 12 hex digits in the name, the format the
//! one the phone was provisioned with. No key (phones have none), so a source asking
//! for MACs nobody provisioned is slowed down like one guessing keys; the answer is
//! never cached. Each fetch makes the phone's passwords anew (`Store::fetch_provisioning`).

use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use actors::store::PhoneConfig;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::header;
use axum::response::IntoResponse;

use super::{ApiError, ApiState};

/// The MAC in a file name: the first run of 12 hex digits.
fn mac_in(file: &str) -> Option<String> {
    // By bytes: a name with other characters than ASCII is no reason to fail.
    file.as_bytes()
        .windows(12)
        .find(|w| w.iter().all(u8::is_ascii_hexdigit))
        .map(|w| String::from_utf8_lossy(w).to_ascii_lowercase())
}

/// Yealink's model-wide file (`y0000000000xx.cfg`): asked for by every phone of a
/// model, no guess at a MAC.
fn model_file(file: &str) -> bool {
    let b = file.as_bytes();
    b.len() == 17
        && file.starts_with("y0000000000")
        && b[11..13].iter().all(u8::is_ascii_digit)
        && file.ends_with(".cfg")
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn language_name(code: &str) -> &'static str {
    match code {
        "de" => "Deutsch",
        "fr" => "Francais",
        "it" => "Italiano",
        "es" => "Espanol",
        "nl" => "Nederlands",
        _ => "English",
    }
}

/// Grandstream's P-values for account `slot` (1–4): enable, SIP server, user ID,
/// authenticate ID, password, display name.
fn grandstream_account(slot: u32) -> [&'static str; 6] {
    match slot {
        1 => ["P271", "P47", "P35", "P36", "P34", "P3"],
        2 => ["P401", "P402", "P404", "P405", "P406", "P407"],
        3 => ["P501", "P502", "P504", "P505", "P506", "P507"],
        _ => ["P601", "P602", "P604", "P605", "P606", "P607"],
    }
}

/// The configuration file of `c` in its vendor's format, with the switch's SIP port:
/// every account of the phone (a DECT base's handsets, an adapter's ports).
pub fn render(c: &PhoneConfig, port: u16) -> (&'static str, String) {
    let mut out = String::new();
    match c.vendor.as_str() {
        "yealink" => {
            let _ = writeln!(out, "#!version:1.0.0.1");
            for a in &c.accounts {
                let n = a.slot;
                for (k, v) in [
                    ("enable", "1"),
                    ("label", a.line.as_str()),
                    ("display_name", &a.display_name),
                    ("auth_name", &a.username),
                    ("user_name", &a.username),
                    ("password", &a.password),
                    ("sip_server.1.address", &c.domain),
                    ("sip_server.1.port", &port.to_string()),
                ] {
                    let _ = writeln!(out, "account.{n}.{k} = {v}");
                }
                if a.ipui.is_some() {
                    // A DECT base: the handset in this slot calls out and rings on it.
                    let _ = writeln!(out, "handset.{n}.name = {}", a.display_name);
                    let _ = writeln!(out, "handset.{n}.incoming_lines = {n}");
                    let _ = writeln!(out, "handset.{n}.dial_out_default_line = {n}");
                }
            }
            let _ = writeln!(out, "security.user_password = admin:{}", c.admin_password);
            let _ = writeln!(out, "lang.gui = {}", language_name(&c.language));
            for (i, b) in c.blf.iter().enumerate() {
                let k = i + 1;
                let _ = writeln!(out, "linekey.{k}.type = 16");
                let _ = writeln!(out, "linekey.{k}.value = {b}");
                let _ = writeln!(out, "linekey.{k}.label = {b}");
                let _ = writeln!(out, "linekey.{k}.line = 1");
            }
            ("text/plain; charset=utf-8", out)
        }
        "snom" => {
            let _ = writeln!(
                out,
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<settings>\n<phone-settings>"
            );
            for a in &c.accounts {
                let i = a.slot;
                let _ = write!(
                    out,
                    "<user_active idx=\"{i}\" perm=\"\">on</user_active>\n\
                     <user_realname idx=\"{i}\" perm=\"\">{}</user_realname>\n\
                     <user_name idx=\"{i}\" perm=\"\">{}</user_name>\n\
                     <user_pname idx=\"{i}\" perm=\"\">{}</user_pname>\n\
                     <user_pass idx=\"{i}\" perm=\"\">{}</user_pass>\n\
                     <user_host idx=\"{i}\" perm=\"\">{}:{port}</user_host>\n",
                    xml(&a.display_name),
                    xml(&a.username),
                    xml(&a.username),
                    xml(&a.password),
                    xml(&c.domain),
                );
                if let Some(ipui) = &a.ipui {
                    let _ = writeln!(
                        out,
                        "<handset_ipui idx=\"{i}\" perm=\"\">{ipui}</handset_ipui>"
                    );
                }
            }
            let _ = write!(
                out,
                "<admin_mode_password perm=\"\">{}</admin_mode_password>\n\
                 <language perm=\"\">{}</language>\n</phone-settings>\n<functionKeys>\n",
                xml(&c.admin_password),
                language_name(&c.language),
            );
            for (i, b) in c.blf.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "<fkey idx=\"{i}\" context=\"active\" perm=\"\">blf sip:{}@{}</fkey>",
                    xml(b),
                    xml(&c.domain)
                );
            }
            out.push_str("</functionKeys>\n</settings>\n");
            ("application/xml; charset=utf-8", out)
        }
        "gigaset" => {
            let item = |out: &mut String, id: &str, v: &str| {
                let _ = writeln!(
                    out,
                    "  <SYMB_ITEM ID=\"BS_IP_Data1.{id}\" class=\"symb_item\" value='\"{}\"'/>",
                    xml(v)
                );
            };
            let _ = writeln!(
                out,
                "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<ProviderFrame xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n<Provider>\n  <MAC_ADDRESS value=\"{}\"/>\n  <PROFILE_NAME class=\"string\" value=\"pbx\"/>",
                c.mac.to_ascii_uppercase()
            );
            for a in &c.accounts {
                let n = a.slot;
                item(
                    &mut out,
                    &format!("aucS_SIP_DISPLAYNAME_{n}"),
                    &a.display_name,
                );
                item(&mut out, &format!("aucS_SIP_LOGIN_ID_{n}"), &a.username);
                item(&mut out, &format!("aucS_SIP_PASSWORD_{n}"), &a.password);
                item(&mut out, &format!("aucS_SIP_USER_ID_{n}"), &a.username);
                item(&mut out, &format!("aucS_SIP_DOMAIN_{n}"), &c.domain);
                item(&mut out, &format!("aucS_SIP_SERVER_{n}"), &c.domain);
                item(
                    &mut out,
                    &format!("uiS_SIP_SERVER_PORT_{n}"),
                    &port.to_string(),
                );
                if let Some(ipui) = &a.ipui {
                    // The handset with this IPUI sends and receives on account n.
                    item(&mut out, &format!("aucS_HS_IPUI_{n}"), ipui);
                    item(
                        &mut out,
                        &format!("ucS_HS_SEND_ACCOUNT_{n}"),
                        &n.to_string(),
                    );
                }
            }
            item(&mut out, "aucS_ADMIN_PIN", &c.admin_password);
            out.push_str("</Provider>\n</ProviderFrame>\n");
            ("application/xml; charset=iso-8859-1", out)
        }
        _ => {
            // Grandstream (desk phones, DECT bases, HT8xx adapters): P-values of its
            // XML provisioning, an account per port or handset.
            let _ = writeln!(
                out,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<gs_provision version=\"1\">\n<mac>{}</mac>\n<config version=\"1\">",
                c.mac
            );
            let server = format!("{}:{port}", c.domain);
            for a in &c.accounts {
                let p = grandstream_account(a.slot);
                for (p, v) in p.into_iter().zip([
                    "1",
                    server.as_str(),
                    &a.username,
                    &a.username,
                    &a.password,
                    &a.display_name,
                ]) {
                    let _ = writeln!(out, "<{p}>{}</{p}>", xml(v));
                }
            }
            for (p, v) in [
                ("P270", c.first().line.as_str()),
                ("P2", &c.admin_password),
                ("P1362", &c.language),
            ] {
                let _ = writeln!(out, "<{p}>{}</{p}>", xml(v));
            }
            out.push_str("</config>\n</gs_provision>\n");
            ("application/xml; charset=utf-8", out)
        }
    }
}

/// `GET /provision/<file>`: a phone without a token.
pub async fn fetch(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    Path(file): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    serve_file(&state, from, None, file).await
}

/// `GET /provision/<token>/<file>`: a phone bound to its token (the provisioning URL
/// set on the phone names it).
pub async fn fetch_with_token(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    Path((token, file)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    serve_file(&state, from, Some(token), file).await
}

async fn serve_file(
    state: &ApiState,
    from: SocketAddr,
    token: Option<String>,
    file: String,
) -> Result<impl IntoResponse, ApiError> {
    let ip = from.ip();
    if state.guard.is_penalised(ip) {
        return Err(ApiError::slow_down());
    }
    let now = actors::clock::unix_millis();
    let config = match mac_in(&file) {
        Some(mac) => {
            state
                .store
                .call(move |s| s.fetch_provisioning(&mac, token.as_deref(), now))
                .await?
        }
        None => None,
    };
    let Some(config) = config else {
        // Model-wide files (Yealink's y0000000000xx.cfg) are no guess at a MAC; a
        // wrong token is a guess like a wrong MAC.
        if !model_file(&file) {
            state.guard.failure(ip);
        }
        return Err(ApiError::not_found("no such phone"));
    };
    // A running line keeps its devices' accounts: it reads the new passwords.
    let mut lines: Vec<&str> = config.accounts.iter().map(|a| a.line.as_str()).collect();
    lines.sort_unstable();
    lines.dedup();
    for ext in lines {
        state
            .directory
            .tell_line(config.tenant, ext, actors::proto::LineMsg::DevicesChanged);
    }
    tracing::info!(mac = %config.mac, vendor = %config.vendor, kind = %config.kind, accounts = config.accounts.len(), "phone fetched its configuration");
    let (content_type, body) = render(&config, state.sip_port);
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store, private"),
        ],
        body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mac_is_found_in_each_vendors_file_name() {
        for f in [
            "001565aabbcc.cfg",
            "snom370-001565AABBCC.htm",
            "cfg001565aabbcc.xml",
            "001565AABBCC.xml",
        ] {
            assert_eq!(mac_in(f).as_deref(), Some("001565aabbcc"), "{f}");
        }
        assert_eq!(mac_in("y000000000000.cfg").as_deref(), Some("000000000000"));
        assert_eq!(mac_in("é000000000000"), Some("000000000000".into()));
        assert_eq!(mac_in("ééééééé"), None);
        assert!(model_file("y000000000028.cfg"));
        assert!(
            !model_file("y0000000000-001565aabbcc.cfg"),
            "a MAC behind the prefix"
        );
        assert_eq!(mac_in("phone.cfg"), None);
    }
}
