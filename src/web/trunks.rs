//! Trunks (their status, added or changed with the CLI's checks) and prompts
//! (listed, uploaded as WAV through the CLI's check: a refusal says what is wrong,
//! e.g. "2 channels").

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Form, Multipart, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::layout::{csrf, duration, field, notice, page, when, Errors, WebError};
use super::session::Session;
use crate::api::ApiState;

async fn trunks_page(
    state: &ApiState,
    s: &Session,
    values: &HashMap<String, String>,
    errors: &Errors,
) -> Result<Response, WebError> {
    let lang = s.lang();
    let tenant = s.admin()?;
    let list = state
        .store
        .call(move |st| {
            let mut out = Vec::new();
            for t in st.trunks(tenant)? {
                let state = st.trunk_state(tenant, &t.name)?;
                out.push((t, state));
            }
            Ok(out)
        })
        .await?;
    let v = |k: &str| values.get(k).map(String::as_str).unwrap_or_default();
    let body = html! {
        table #trunks {
            thead { tr { th { (lang.t("Name")) } th { (lang.t("Host")) } th { (lang.t("Status")) } th { "" } } }
            tbody { @for (t, st) in &list {
                tr data-trunk=(t.name) { td { (t.name) } td { (t.host) ":" (t.port) " " (t.transport) }
                     td.status { (st.as_ref().map_or("starting", |x| x.status.as_str())) }
                     td { (st.as_ref().map(|x| format!("{} ({})", x.reason, when(x.since))).unwrap_or_default()) } }
            } }
        }
        form.card method="post" action="/web/trunks" {
            h2 { (lang.t("Add")) " / " (lang.t("Save")) }
            (notice(lang, false, errors))
            (csrf(s))
            (field(lang, ("Name", "name"), v("name"), "text", errors))
            (field(lang, ("Host", "host"), v("host"), "text", errors))
            (field(lang, ("Port", "port"), if v("port").is_empty() { "5060" } else { v("port") }, "number", errors))
            label { "Transport" select name="transport" { option { "udp" } option selected[v("transport") == "tcp"] { "tcp" } option selected[v("transport") == "tls"] { "tls" } } }
            (field(lang, ("Login", "username"), v("username"), "text", errors))
            (field(lang, ("Password", "password"), "", "password", errors))
            label.check { input type="checkbox" name="register" value="on" checked[v("register") == "on"]; "REGISTER" }
            button type="submit" { (lang.t("Save")) }
        }
    };
    let status = super::layout::status_of(errors);
    Ok((status, page(s, "/web/trunks", lang.t("Trunks"), body)).into_response())
}

pub async fn trunks(State(state): State<Arc<ApiState>>, s: Session) -> Result<Response, WebError> {
    trunks_page(&state, &s, &HashMap::new(), &Errors::new()).await
}

pub async fn save_trunk(
    State(state): State<Arc<ApiState>>,
    s: Session,
    Form(f): Form<HashMap<String, String>>,
) -> Result<Response, WebError> {
    s.check(f.get("csrf").map(String::as_str))?;
    let tenant = s.admin()?;
    let g = |k: &str| {
        f.get(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let port = match g("port").map(|p| p.parse::<u16>()) {
        None => Ok(5060),
        Some(Ok(p)) => Ok(p),
        Some(Err(_)) => Err(Errors::from([("port", "a port, 1 to 65535".to_owned())])),
    };
    let errors = match port {
        Err(e) => e,
        Ok(port) => {
            let mut config = actors::store::TrunkConfig {
                name: g("name").unwrap_or_default(),
                host: g("host").unwrap_or_default(),
                port,
                transport: g("transport").unwrap_or_else(|| "udp".into()),
                username: g("username"),
                password: g("password"),
                domain: None,
                register: g("register").is_some(),
                expires: 3600,
                keepalive: 30,
                max_calls: None,
            };
            match state
                .store
                .call(move |st| {
                    // A trunk changed through the form keeps what the form does not
                    // show (its credentials, domain, timers) unless given anew.
                    if let Some(old) = st
                        .trunks(tenant)?
                        .into_iter()
                        .find(|t| t.name == config.name)
                    {
                        config.username = config.username.or(old.username);
                        config.password = config.password.or(old.password);
                        config.domain = old.domain;
                        config.expires = old.expires;
                        config.keepalive = old.keepalive;
                        config.max_calls = old.max_calls;
                    }
                    st.set_trunk(tenant, &config)
                })
                .await
            {
                Ok(()) => return Ok(Redirect::to("/web/trunks").into_response()),
                Err(actors::Error::Invalid(why)) => {
                    Errors::from([(crate::api::routes::trunk_field(&why), why)])
                }
                Err(e) => super::layout::store_refusal(e)?,
            }
        }
    };
    trunks_page(&state, &s, &f, &errors).await
}

async fn prompts_page(
    state: &ApiState,
    s: &Session,
    errors: &Errors,
    saved: bool,
) -> Result<Response, WebError> {
    let lang = s.lang();
    let id = s.admin()?;
    let tenant = super::tenant_of(state, id).await?;
    let list = actors::tenant::prompts::list(&state.files_dir, &tenant.name).unwrap_or_default();
    let body = html! {
        table #prompts {
            thead { tr { th { (lang.t("Name")) } th { (lang.t("Duration")) } } }
            tbody { @for (name, ms) in &list { tr { td { (name) } td { (duration(*ms)) } } } }
        }
        form.card method="post" action="/web/prompts" enctype="multipart/form-data" {
            h2 { (lang.t("Upload")) }
            (notice(lang, saved, errors))
            (csrf(s))
            (field(lang, ("Name", "name"), "", "text", errors))
            label class=[errors.get("file").map(|_| "invalid")] { (lang.t("WAV file"))
                input type="file" name="file" accept=".wav,audio/wav";
                @if let Some(e) = errors.get("file") { span.error data-field="file" { (e) } } }
            button type="submit" { (lang.t("Upload")) }
        }
    };
    let status = super::layout::status_of(errors);
    Ok((status, page(s, "/web/prompts", lang.t("Prompts"), body)).into_response())
}

pub async fn prompts(State(state): State<Arc<ApiState>>, s: Session) -> Result<Response, WebError> {
    prompts_page(&state, &s, &Errors::new(), false).await
}

/// A prompt uploaded from the browser, checked as `pbx prompt add` checks a file.
pub async fn upload_prompt(
    State(state): State<Arc<ApiState>>,
    s: Session,
    mut form: Multipart,
) -> Result<Response, WebError> {
    let (mut token, mut name, mut wav) = (None, String::new(), Vec::new());
    while let Ok(Some(part)) = form.next_field().await {
        match part.name().unwrap_or_default() {
            "csrf" => token = part.text().await.ok(),
            "name" => name = part.text().await.unwrap_or_default(),
            "file" => wav = part.bytes().await.map(|b| b.to_vec()).unwrap_or_default(),
            _ => {}
        }
    }
    s.check(token.as_deref())?;
    let id = s.admin()?;
    let tenant = super::tenant_of(&state, id).await?;
    let name = name.trim().to_owned();
    let errors = if let Err(e) = actors::tenant::prompts::check_name(&name) {
        Errors::from([("name", e.to_string())])
    } else if wav.is_empty() {
        Errors::from([("file", "choose a WAV file".to_owned())])
    } else {
        match actors::tenant::prompts::add_bytes(&state.files_dir, &tenant.name, &name, &wav) {
            Ok(_) => Errors::new(),
            Err(e) => Errors::from([("file", e.to_string())]),
        }
    };
    let saved = errors.is_empty();
    prompts_page(&state, &s, &errors, saved).await
}
