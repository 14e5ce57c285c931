//! Devices: the tenant's device accounts (registered or not) and provisioned phones
//! with their status (provisioning, offline, online, error), and a form to provision
//! a desk phone, a DECT base (a handset per line of `IPUI=LINE`) or an adapter.

use std::collections::HashMap;
use std::sync::Arc;

use actors::store::PhoneOrder;
use axum::extract::{Form, State};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::layout::{csrf, field, notice, page, store_refusal, Errors, WebError};
use super::session::Session;
use crate::api::ApiState;

async fn devices_page(
    state: &ApiState,
    s: &Session,
    form: (&HashMap<String, String>, &Errors, Option<String>),
) -> Result<Response, WebError> {
    let tenant = s.admin()?;
    let lang = s.lang();
    let (devices, phones) = state
        .store
        .call(move |st| Ok((st.devices(tenant, None)?, st.provisioned(tenant)?)))
        .await?;
    let (values, errors, made) = form;
    let v = |k: &str| values.get(k).map(String::as_str).unwrap_or_default();
    let body = html! {
        h2 { (lang.t("Provisioned phones")) }
        table #phones {
            thead { tr { th { "MAC" } th { (lang.t("Vendor")) } th { (lang.t("Kind")) } th { (lang.t("Lines")) } th { (lang.t("Status")) } } }
            tbody {
                @for p in &phones {
                    @let st = crate::api::phones::status(state, tenant, p);
                    tr data-mac=(p.mac) {
                        td { (p.mac) } td { (p.vendor) } td { (p.kind) }
                        td {
                            @if p.accounts.is_empty() { (p.line) } @else {
                                @for a in &p.accounts { (a.line) @if let Some(i) = &a.ipui { " (" (i) ")" } " " }
                            }
                        }
                        td.status { (st) }
                    }
                }
            }
        }
        h2 { (lang.t("Device accounts")) }
        table #devices {
            thead { tr { th { (lang.t("Login")) } th { (lang.t("Line")) } th { (lang.t("Registered")) } } }
            tbody {
                @for d in &devices {
                    tr { td { (d.username) } td { (d.ext) }
                        td { (if crate::api::admin::registered_as(&state.directory, tenant, &d.ext, &d.username) { "✓" } else { "–" }) } }
                }
            }
        }
        form.card method="post" action="/web/devices" {
            h2 { (lang.t("Provision a phone")) }
            (notice(lang, made.is_some(), errors))
            @if let Some(m) = &made { p.ok { (m) } }
            (csrf(s))
            (field(lang, ("MAC", "mac"), v("mac"), "text", errors))
            label { (lang.t("Vendor"))
                select name="vendor" { @for x in actors::store::VENDORS { option selected[v("vendor") == x] { (x) } } } }
            label { (lang.t("Kind"))
                select name="kind" { @for x in actors::store::KINDS { option selected[v("kind") == x] { (x) } } } }
            (field(lang, ("Line", "line"), v("line"), "text", errors))
            label class=[errors.get("handsets").map(|_| "invalid")] { "DECT: IPUI=LINE"
                textarea name="handsets" rows="3" { (v("handsets")) }
                @if let Some(e) = errors.get("handsets") { span.error data-field="handsets" { (e) } } }
            label class=[errors.get("ports").map(|_| "invalid")] { "ATA: LINE, LINE"
                input name="ports" value=(v("ports"));
                @if let Some(e) = errors.get("ports") { span.error data-field="ports" { (e) } } }
            label.check { input type="checkbox" name="token" value="on"; "token" }
            button type="submit" { (lang.t("Add")) }
        }
    };
    Ok(page(s, "/web/devices", lang.t("Devices"), body).into_response())
}

pub async fn devices(State(state): State<Arc<ApiState>>, s: Session) -> Result<Response, WebError> {
    devices_page(&state, &s, (&HashMap::new(), &Errors::new(), None)).await
}

pub async fn provision(
    State(state): State<Arc<ApiState>>,
    s: Session,
    Form(f): Form<HashMap<String, String>>,
) -> Result<Response, WebError> {
    s.check(f.get("csrf").map(String::as_str))?;
    let id = s.admin()?;
    let get = |k: &str| f.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let kind = get("kind");
    let accounts: Vec<(Option<String>, String)> = match kind.as_str() {
        "dect" => get("handsets")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| match l.split_once('=') {
                Some((i, line)) => (Some(i.trim().to_owned()), line.trim().to_owned()),
                None => (None, l.trim().to_owned()),
            })
            .collect(),
        "ata" => get("ports")
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| (None, p.to_owned()))
            .collect(),
        _ => vec![(None, get("line"))],
    };
    let order = PhoneOrder {
        mac: get("mac"),
        vendor: get("vendor"),
        kind,
        accounts,
        blf: Vec::new(),
        language: s.account.language.clone(),
        token: f.get("token").is_some_and(|v| v == "on"),
    };
    let tenant = super::tenant_of(&state, id).await?;
    let lines: Vec<String> = order.accounts.iter().map(|(_, l)| l.clone()).collect();
    let now = actors::clock::unix_millis();
    match state
        .store
        .call(move |st| st.provision_phone(&tenant, &order, now))
        .await
    {
        Ok(made) => {
            for ext in &lines {
                crate::api::admin::devices_changed(&state, id, ext);
            }
            let url = match &made.token {
                Some(t) => format!("/provision/{t}/"),
                None => "/provision/".into(),
            };
            let text = format!("{} → {url}", made.devices.join(", "));
            devices_page(&state, &s, (&HashMap::new(), &Errors::new(), Some(text))).await
        }
        Err(e) => {
            let errors = store_refusal(e)?;
            devices_page(&state, &s, (&f, &errors, None)).await
        }
    }
}
