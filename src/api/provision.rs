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
    let b = file.as_bytes();
    (0..b.len().saturating_sub(11))
        .map(|i| &file[i..i + 12])
        .find(|w| w.bytes().all(|c| c.is_ascii_hexdigit()))
        .map(str::to_ascii_lowercase)
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
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

/// The configuration file of `c` in its vendor's format, with the switch's SIP port.
pub fn render(c: &PhoneConfig, port: u16) -> (&'static str, String) {
    let mut out = String::new();
    match c.vendor.as_str() {
        "yealink" => {
            let _ = writeln!(out, "#!version:1.0.0.1");
            for (k, v) in [
                ("account.1.enable", "1"),
                ("account.1.label", &c.line),
                ("account.1.display_name", &c.display_name),
                ("account.1.auth_name", &c.username),
                ("account.1.user_name", &c.username),
                ("account.1.password", &c.password),
                ("account.1.sip_server.1.address", &c.domain),
                ("account.1.sip_server.1.port", &port.to_string()),
                (
                    "security.user_password",
                    &format!("admin:{}", c.admin_password),
                ),
                ("lang.gui", language_name(&c.language)),
            ] {
                let _ = writeln!(out, "{k} = {v}");
            }
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
            let _ = write!(
                out,
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<settings>\n<phone-settings>\n\
                 <user_active idx=\"1\" perm=\"\">on</user_active>\n\
                 <user_realname idx=\"1\" perm=\"\">{}</user_realname>\n\
                 <user_name idx=\"1\" perm=\"\">{}</user_name>\n\
                 <user_pname idx=\"1\" perm=\"\">{}</user_pname>\n\
                 <user_pass idx=\"1\" perm=\"\">{}</user_pass>\n\
                 <user_host idx=\"1\" perm=\"\">{}:{port}</user_host>\n\
                 <admin_mode_password perm=\"\">{}</admin_mode_password>\n\
                 <language perm=\"\">{}</language>\n</phone-settings>\n<functionKeys>\n",
                xml(&c.display_name),
                xml(&c.username),
                xml(&c.username),
                xml(&c.password),
                xml(&c.domain),
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
            item(&mut out, "aucS_SIP_DISPLAYNAME_1", &c.display_name);
            item(&mut out, "aucS_SIP_LOGIN_ID_1", &c.username);
            item(&mut out, "aucS_SIP_PASSWORD_1", &c.password);
            item(&mut out, "aucS_SIP_USER_ID_1", &c.username);
            item(&mut out, "aucS_SIP_DOMAIN_1", &c.domain);
            item(&mut out, "aucS_SIP_SERVER_1", &c.domain);
            item(&mut out, "uiS_SIP_SERVER_PORT_1", &port.to_string());
            item(&mut out, "aucS_ADMIN_PIN", &c.admin_password);
            out.push_str("</Provider>\n</ProviderFrame>\n");
            ("application/xml; charset=iso-8859-1", out)
        }
        _ => {
            // Grandstream: P-values of its XML provisioning.
            let _ = writeln!(
                out,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<gs_provision version=\"1\">\n<mac>{}</mac>\n<config version=\"1\">",
                c.mac
            );
            for (p, v) in [
                ("P271", "1".to_owned()),
                ("P270", c.line.clone()),
                ("P47", format!("{}:{port}", c.domain)),
                ("P35", c.username.clone()),
                ("P36", c.username.clone()),
                ("P34", c.password.clone()),
                ("P3", c.display_name.clone()),
                ("P2", c.admin_password.clone()),
                ("P1362", c.language.clone()),
            ] {
                let _ = writeln!(out, "<{p}>{}</{p}>", xml(&v));
            }
            out.push_str("</config>\n</gs_provision>\n");
            ("application/xml; charset=utf-8", out)
        }
    }
}

pub async fn fetch(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    Path(file): Path<String>,
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
                .call(move |s| s.fetch_provisioning(&mac, now))
                .await?
        }
        None => None,
    };
    let Some(config) = config else {
        // Model-wide files (Yealink's y0000000000xx.cfg) are no guess at a MAC.
        if !file.starts_with("y0000000000") {
            state.guard.failure(ip);
        }
        return Err(ApiError::not_found("no such phone"));
    };
    // A running line keeps its devices' accounts: it reads the new password.
    if let Some(line) = state.directory.line(config.tenant, &config.line) {
        let _ = line.send_message(actors::proto::LineMsg::DevicesChanged);
    }
    tracing::info!(mac = %config.mac, vendor = %config.vendor, line = %config.line, "phone fetched its configuration");
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
        assert_eq!(mac_in("phone.cfg"), None);
    }
}
