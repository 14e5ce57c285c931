//! Provisioned phones through the API: desk phones, DECT bases with their handsets (by
//! IPUI) and analog adapters with their ports, each account a device of a line; a
//! phone may be bound to a token its provisioning URL names. Status: `provisioning`
//! until the first fetch, `online` while an account is registered, `error` when its
//! last registration was refused (a stale password), otherwise `offline`.

use actors::store::{PhoneOrder, Provisioned, TenantId};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::admin::{body, devices_changed, registered_as, required, Body};
use super::routes::{admin, tenant_of, From, S};
use super::{ApiError, ApiState};

/// The status of phone `p`, from its accounts' registrations.
pub(crate) fn status(state: &ApiState, tenant: TenantId, p: &Provisioned) -> &'static str {
    let accounts: Vec<(&str, &str)> = if p.accounts.is_empty() {
        vec![(p.line.as_str(), p.device.as_str())]
    } else {
        p.accounts
            .iter()
            .map(|a| (a.line.as_str(), a.device.as_str()))
            .collect()
    };
    let online = accounts
        .iter()
        .any(|(line, device)| registered_as(&state.directory, tenant, line, device));
    let refused = accounts
        .iter()
        .any(|(_, device)| state.directory.refused.refused_at(tenant, device).is_some());
    match (online, refused, p.fetched_at) {
        (true, _, _) => "online",
        (false, true, _) => "error",
        (false, false, Some(_)) => "offline",
        (false, false, None) => "provisioning",
    }
}

pub async fn phones(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let tenant = admin(&state.principal(&headers, from).await?)?;
    let list = state.store.call(move |s| s.provisioned(tenant)).await?;
    Ok(Json(json!(list
        .iter()
        .map(|p| {
            let accounts: Vec<Value> = p
                .accounts
                .iter()
                .map(
                    |a| json!({"slot": a.slot, "ipui": a.ipui, "device": a.device, "line": a.line}),
                )
                .collect();
            json!({
                "mac": p.mac, "vendor": p.vendor, "kind": p.kind, "device": p.device,
                "line": p.line, "accounts": accounts, "blf": p.blf,
                "language": p.language, "token": p.token, "fetched_at": p.fetched_at,
                "status": status(&state, tenant, p),
            })
        })
        .collect::<Vec<_>>())))
}

#[derive(Deserialize)]
pub struct Handset {
    ipui: Option<String>,
    line: Option<String>,
}

#[derive(Deserialize)]
pub struct NewPhone {
    mac: Option<String>,
    vendor: Option<String>,
    /// phone (default), dect or ata.
    kind: Option<String>,
    /// A desk phone's line.
    line: Option<String>,
    /// A DECT base's handsets.
    #[serde(default)]
    handsets: Vec<Handset>,
    /// An adapter's ports, by line.
    #[serde(default)]
    ports: Vec<String>,
    #[serde(default)]
    blf: Vec<String>,
    language: Option<String>,
    /// Bind the phone to a token (returned once, in the provisioning URL).
    #[serde(default)]
    token: bool,
}

pub async fn add_phone(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
    b: Body<NewPhone>,
) -> Result<impl IntoResponse, ApiError> {
    let id = admin(&state.principal(&headers, from).await?)?;
    let b = body(b)?;
    let kind = b.kind.unwrap_or_else(|| "phone".into());
    let accounts = match kind.as_str() {
        "dect" => b
            .handsets
            .into_iter()
            .map(|h| Ok((h.ipui, required(h.line, "handsets")?)))
            .collect::<Result<Vec<_>, ApiError>>()?,
        "ata" => b.ports.into_iter().map(|l| (None, l)).collect(),
        _ => vec![(None, required(b.line, "line")?)],
    };
    let order = PhoneOrder {
        mac: required(b.mac, "mac")?,
        vendor: required(b.vendor, "vendor")?.to_ascii_lowercase(),
        kind,
        accounts,
        blf: b.blf,
        language: b.language.unwrap_or_else(|| "en".into()),
        token: b.token,
    };
    let tenant = tenant_of(&state, id).await?;
    let now = actors::clock::unix_millis();
    let lines: Vec<String> = order.accounts.iter().map(|(_, l)| l.clone()).collect();
    let made = state
        .store
        .call(move |s| s.provision_phone(&tenant, &order, now))
        .await?;
    for ext in &lines {
        devices_changed(&state, id, ext);
    }
    let mut answer = json!({"device": made.devices[0], "devices": made.devices});
    if let Some(token) = made.token {
        answer["url"] = json!(format!("/provision/{token}/"));
        answer["token"] = json!(token);
    }
    Ok((StatusCode::CREATED, Json(answer)))
}

/// Forgets a phone and its device accounts (their registrations end).
pub async fn remove_phone(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
    Path(mac): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = admin(&state.principal(&headers, from).await?)?;
    let lines = state
        .store
        .call(move |s| s.remove_phone(id, &mac))
        .await
        .map_err(|e| match e {
            actors::Error::Field { why, .. } if why.starts_with("no phone") => {
                ApiError::not_found(why)
            }
            e => e.into(),
        })?;
    for ext in &lines {
        devices_changed(&state, id, ext);
    }
    Ok(StatusCode::NO_CONTENT)
}
