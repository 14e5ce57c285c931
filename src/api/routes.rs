//! The API's routes and handlers. Each handler asks for the request's key first and
//! reaches only what its scope allows: an administrator's tenant, a user's line.

use std::net::SocketAddr;
use std::sync::Arc;

use actors::store::{ApiScope, CallRecord, NewLine, TenantId};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get, patch, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{admin, ApiError, ApiState};

pub(super) type S = State<Arc<ApiState>>;
pub(super) type From = ConnectInfo<SocketAddr>;

/// Every route of the API, as the OpenAPI document must list them (method, path).
#[cfg(test)]
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/tenants"),
    ("get", "/api/v1/lines"),
    ("post", "/api/v1/lines"),
    ("get", "/api/v1/trunks"),
    ("post", "/api/v1/trunks"),
    ("delete", "/api/v1/trunks/{name}"),
    ("get", "/api/v1/plan"),
    ("put", "/api/v1/plan"),
    ("get", "/api/v1/calls"),
    ("get", "/api/v1/statistics"),
    ("post", "/api/v1/tenants"),
    ("get", "/api/v1/people"),
    ("post", "/api/v1/people"),
    ("patch", "/api/v1/lines/{ext}"),
    ("get", "/api/v1/lines/{ext}/features"),
    ("patch", "/api/v1/lines/{ext}/features"),
    ("get", "/api/v1/devices"),
    ("post", "/api/v1/devices"),
    ("delete", "/api/v1/devices/{username}"),
    ("get", "/api/v1/phones"),
    ("post", "/api/v1/phones"),
    ("get", "/api/v1/prompts"),
    ("put", "/api/v1/prompts/{name}"),
    ("delete", "/api/v1/prompts/{name}"),
    ("get", "/api/v1/agents"),
    ("put", "/api/v1/agents/{ext}"),
    ("post", "/api/v1/lines/{ext}/calls"),
    ("post", "/api/v1/lines/{ext}/calls/{action}"),
    ("get", "/api/v1/events"),
    ("get", "/metrics"),
    ("get", "/provision/{file}"),
    ("get", "/provision/{token}/{file}"),
    ("delete", "/api/v1/tenants/{name}"),
    ("delete", "/api/v1/lines/{ext}"),
    ("delete", "/api/v1/people/{name}"),
    ("delete", "/api/v1/phones/{mac}"),
    ("get", "/api/v1/plan/{section}"),
    ("get", "/api/v1/plan/{section}/{key}"),
    ("put", "/api/v1/plan/{section}/{key}"),
    ("delete", "/api/v1/plan/{section}/{key}"),
];

pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/tenants", get(tenants).post(admin::add_tenant))
        .route("/api/v1/people", get(admin::people).post(admin::add_person))
        .route(
            "/api/v1/tenants/{name}",
            delete(super::removal::remove_tenant),
        )
        .route(
            "/api/v1/people/{name}",
            delete(super::removal::remove_person),
        )
        .route(
            "/api/v1/lines/{ext}",
            patch(admin::change_line).delete(super::removal::remove_line),
        )
        .route(
            "/api/v1/lines/{ext}/features",
            get(admin::features).patch(admin::change_features),
        )
        .route(
            "/api/v1/devices",
            get(admin::devices).post(admin::add_device),
        )
        .route("/api/v1/devices/{username}", delete(admin::remove_device))
        .route(
            "/api/v1/phones",
            get(super::phones::phones).post(super::phones::add_phone),
        )
        .route("/api/v1/phones/{mac}", delete(super::phones::remove_phone))
        .route("/api/v1/prompts", get(admin::prompts))
        .route(
            "/api/v1/prompts/{name}",
            put(admin::put_prompt).delete(admin::remove_prompt),
        )
        .route("/api/v1/agents", get(admin::agents))
        .route("/api/v1/agents/{ext}", put(admin::set_agent))
        .route("/api/v1/lines/{ext}/calls", post(admin::dial))
        .route("/api/v1/lines/{ext}/calls/{action}", post(admin::control))
        .route("/api/v1/statistics", get(statistics))
        .route("/api/v1/lines", get(lines).post(add_line))
        .route("/api/v1/trunks", get(trunks).post(set_trunk))
        .route("/api/v1/trunks/{name}", delete(remove_trunk))
        .route("/api/v1/plan", get(plan).put(set_plan))
        .route("/api/v1/plan/{section}", get(super::plan_entries::entries))
        .route(
            "/api/v1/plan/{section}/{key}",
            get(super::plan_entries::entry)
                .put(super::plan_entries::put_entry)
                .delete(super::plan_entries::remove_entry),
        )
        .route("/api/v1/calls", get(calls))
        .route("/api/v1/events", get(super::events::events))
        .route("/metrics", get(super::metrics::metrics))
        .route("/provision/{file}", get(super::provision::fetch))
        .route(
            "/provision/{token}/{file}",
            get(super::provision::fetch_with_token),
        )
        .fallback(|| async { ApiError::not_found("no such API path") })
        .with_state(state.clone())
        .merge(crate::web::router(state))
}

async fn openapi() -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        super::OPENAPI,
    )
}

/// The tenant an administrator's key is for; anything else is refused.
pub(super) fn admin(scope: &ApiScope) -> Result<TenantId, ApiError> {
    match scope {
        ApiScope::Admin { tenant } => Ok(*tenant),
        _ => Err(ApiError::forbidden(
            "this needs a tenant administrator's key",
        )),
    }
}

/// The tenant's name and realm (a key's tenant may have been removed since).
pub(crate) async fn tenant_of(
    state: &ApiState,
    id: TenantId,
) -> Result<actors::store::Tenant, ApiError> {
    let found = state
        .store
        .call(move |s| Ok(s.tenants()?.into_iter().find(|t| t.id == id)))
        .await?;
    found.ok_or_else(|| ApiError::not_found("the key's tenant is gone"))
}

async fn tenants(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let scope = state.principal(&headers, from).await?;
    if scope != ApiScope::Operator {
        return Err(ApiError::forbidden("this needs the operator's key"));
    }
    let list = state.store.call(|s| s.tenants()).await?;
    Ok(Json(json!(list
        .into_iter()
        .map(|t| json!({"name": t.name, "domains": t.domains}))
        .collect::<Vec<_>>())))
}

async fn lines(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let (tenant, only) = admin::tenant_scope(&state, &headers, from).await?;
    let (list, features) = state
        .store
        .call(move |s| Ok((s.lines(tenant)?, s.all_line_features(tenant)?)))
        .await?;
    // The calls of the running tenant: lines not named are free.
    let busy: std::collections::HashMap<String, &'static str> = match state.directory.tenant(tenant)
    {
        Some(t) => ractor::call!(t.supervisor, actors::proto::TenantMsg::LineStates)
            .unwrap_or_default()
            .into_iter()
            .collect(),
        None => Default::default(),
    };
    let directory = state.directory.clone();
    Ok(Json(json!(list
        .into_iter()
        .filter(|l| only.as_ref().is_none_or(|o| *o == l.ext))
        .map(|l| {
            let devices = directory.bindings(tenant, &l.ext).map_or(0, |b| b.len());
            let settings = features
                .get(&l.ext)
                .map(|f| actors::proto::events::LineEvent::settings(tenant, &l.ext, f).kind);
            let (dnd, forwarding) = match settings {
                Some(actors::proto::events::LineEventKind::Settings { dnd, forwarding }) => {
                    (dnd, forwarding)
                }
                _ => (false, false),
            };
            json!({
                "ext": l.ext, "name": l.display_name, "registered_devices": devices,
                "state": busy.get(&l.ext).copied().unwrap_or("free"),
                "dnd": dnd, "forwarding": forwarding,
            })
        })
        .collect::<Vec<_>>())))
}

#[derive(Deserialize)]
struct NewLineBody {
    ext: Option<String>,
    password: Option<String>,
    name: Option<String>,
}

async fn add_line(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
    body: Result<Json<NewLineBody>, axum::extract::rejection::JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let scope = state.principal(&headers, from).await?;
    let tenant = tenant_of(&state, admin(&scope)?).await?;
    let Json(body) = body.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let ext = body
        .ext
        .filter(|e| !e.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("ext", "ext is required"))?;
    let password = body
        .password
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::invalid("password", "password is required"))?;
    let line = NewLine {
        ext: ext.clone(),
        display_name: body.name,
        password,
    };
    let id = tenant.id;
    let added = state.store.call(move |s| s.add_line(&tenant, &line)).await;
    match added {
        Ok(()) => {
            admin::config_changed(&state, id);
            Ok((StatusCode::CREATED, Json(json!({"ext": ext}))))
        }
        // The store's own checks (the CLI's) name the extension or the password.
        Err(e) => Err(e.into()),
    }
}

async fn trunks(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let scope = state.principal(&headers, from).await?;
    let tenant = admin(&scope)?;
    let list = state
        .store
        .call(move |s| {
            let mut out = Vec::new();
            for t in s.trunks(tenant)? {
                let st = s.trunk_state(tenant, &t.name)?;
                out.push((t, st));
            }
            Ok(out)
        })
        .await?;
    Ok(Json(json!(list
        .into_iter()
        .map(|(t, st)| json!({
            "name": t.name,
            "host": t.host,
            "port": t.port,
            "transport": t.transport,
            "register": t.register,
            "max_calls": t.max_calls,
            "status": st.as_ref().map_or("not started", |s| s.status.as_str()),
            "reason": st.as_ref().map(|s| s.reason.clone()),
            "registered_until": st.as_ref().and_then(|s| s.registered_until),
        }))
        .collect::<Vec<_>>())))
}

#[derive(Deserialize)]
struct TrunkBody {
    name: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    transport: Option<String>,
    register: Option<bool>,
    username: Option<String>,
    password: Option<String>,
    domain: Option<String>,
    expires: Option<u32>,
    keepalive: Option<u32>,
    max_calls: Option<u32>,
}

/// The field a store refusal of a trunk is about (its text names it).
pub(crate) fn trunk_field(why: &str) -> &'static str {
    let w = why.to_ascii_lowercase();
    // "transport" before "port", which it contains.
    [
        ("transport", "transport"),
        ("name", "name"),
        ("host", "host"),
        ("port", "port"),
        ("user", "username"),
        ("password", "password"),
        ("expires", "expires"),
        ("keepalive", "keepalive"),
        ("max calls", "max_calls"),
    ]
    .into_iter()
    .find(|(word, _)| w.contains(word))
    .map_or("trunk", |(_, f)| f)
}

/// Adds a trunk, or changes the one of that name (`pbx trunk add`).
async fn set_trunk(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
    body: Result<Json<TrunkBody>, axum::extract::rejection::JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let tenant = admin(&state.principal(&headers, from).await?)?;
    let Json(b) = body.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let config = actors::store::TrunkConfig {
        name: b
            .name
            .ok_or_else(|| ApiError::invalid("name", "name is required"))?,
        host: b
            .host
            .ok_or_else(|| ApiError::invalid("host", "host is required"))?,
        port: b.port.unwrap_or(5060),
        transport: b.transport.unwrap_or_else(|| "udp".into()),
        username: b.username,
        password: b.password,
        domain: b.domain,
        register: b.register.unwrap_or(false),
        expires: b.expires.unwrap_or(3600),
        keepalive: b.keepalive.unwrap_or(30),
        max_calls: b.max_calls,
    };
    let name = config.name.clone();
    match state
        .store
        .call(move |s| s.set_trunk(tenant, &config))
        .await
    {
        Ok(()) => Ok((StatusCode::CREATED, Json(json!({"name": name})))),
        Err(actors::Error::Invalid(why)) => Err(ApiError::invalid(trunk_field(&why), why)),
        Err(e) => Err(e.into()),
    }
}

async fn remove_trunk(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let tenant = admin(&state.principal(&headers, from).await?)?;
    let what = name.clone();
    match state
        .store
        .call(move |s| s.remove_trunk(tenant, &name))
        .await?
    {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::not_found(format!("no trunk {what:?}"))),
    }
}

/// The tenant's dialplan as routing reads it (`pbx plan show`).
async fn plan(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let tenant = admin(&state.principal(&headers, from).await?)?;
    let plan = state.store.call(move |s| s.tenant_plan(tenant)).await?;
    let plan = plan.ok_or_else(|| ApiError::not_found("the tenant has no dialplan yet"))?;
    Ok(Json(serde_json::to_value(plan).map_err(|e| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    })?))
}

/// Replaces the tenant's dialplan (`pbx plan set`): refused as a whole, naming every
/// fault, when anything is wrong.
async fn set_plan(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
    body: String,
) -> Result<StatusCode, ApiError> {
    let id = admin(&state.principal(&headers, from).await?)?;
    let tenant = tenant_of(&state, id).await?;
    let dir = state.files_dir.clone();
    match state
        .store
        .call(move |s| s.set_plan(&tenant, &body, &dir))
        .await
    {
        Ok(()) => {
            admin::config_changed(&state, id);
            Ok(StatusCode::NO_CONTENT)
        }
        Err(actors::Error::Invalid(why)) => Err(ApiError::invalid("plan", why)),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct CallsQuery {
    limit: Option<usize>,
    /// Only calls tagged with this project code.
    project: Option<String>,
    /// Only calls started at or after this (unix milliseconds).
    since: Option<u64>,
}

fn call_json(c: &CallRecord) -> Value {
    json!({
        "id": c.id,
        "from": c.from,
        "to": c.to,
        "direction": c.direction.as_str(),
        "caller_line": c.caller_line,
        "trunk": c.trunk,
        "started_at": c.started_at,
        "answered_at": c.answered_at,
        "ended_at": c.ended_at,
        "answered_by": c.answered_by,
        "disposition": c.disposition.map(|d| d.as_str()),
        "cause_code": c.cause_code,
        "duration_ms": c.duration_ms,
        "private": c.private,
        "project": c.project,
    })
}

async fn calls(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
    Query(q): Query<CallsQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let (tenant, only) = admin::tenant_scope(&state, &headers, from).await?;
    // A user sees the calls its line placed or answered.
    let fetch = if only.is_some() || q.since.is_some() || q.project.is_some() {
        1000
    } else {
        limit
    };
    let rows = state.store.call(move |s| s.calls(tenant, fetch)).await?;
    let rows: Vec<Value> = rows
        .iter()
        .filter(|c| q.since.is_none_or(|t| c.started_at >= t))
        .filter(|c| q.project.is_none() || c.project == q.project)
        .filter(|c| {
            only.as_ref().is_none_or(|l| {
                c.caller_line.as_ref() == Some(l) || c.answered_by.as_ref() == Some(l) || c.to == *l
            })
        })
        .take(limit)
        .map(call_json)
        .collect();
    Ok(Json(json!(rows)))
}

#[derive(Deserialize)]
struct StatisticsQuery {
    /// Unix milliseconds; default 24 hours before `until`.
    since: Option<u64>,
    /// Unix milliseconds; default now.
    until: Option<u64>,
    /// `csv`: the hours as CSV.
    format: Option<String>,
}

/// Calls per hour, ASR and each line's utilisation (`pbx journal --stats`).
async fn statistics(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
    Query(q): Query<StatisticsQuery>,
) -> Result<axum::response::Response, ApiError> {
    let tenant = admin(&state.principal(&headers, from).await?)?;
    let until = q.until.unwrap_or_else(actors::clock::unix_millis);
    let since = q.since.unwrap_or(until.saturating_sub(24 * 3_600_000));
    if since >= until {
        return Err(ApiError::invalid("since", "since must be before until"));
    }
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "format",
                format!("format {other:?}: json or csv"),
            ))
        }
    };
    let s = state
        .store
        .call(move |s| s.call_statistics(tenant, since, until))
        .await?;
    if csv {
        return Ok((
            [(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            s.hours_csv(),
        )
            .into_response());
    }
    Ok(Json(json!({
        "since": s.since,
        "until": s.until,
        "calls": s.calls,
        "answered": s.answered,
        "asr_percent": s.asr(),
        "hours": s.hours.iter().map(|h| json!({
            "hour": h.hour, "calls": h.calls, "answered": h.answered,
            "asr_percent": h.asr(), "talk_ms": h.talk_ms,
        })).collect::<Vec<_>>(),
        "lines": s.lines.iter().map(|l| json!({
            "line": l.line, "calls": l.calls, "talk_ms": l.talk_ms,
            "utilisation_percent": l.utilisation,
        })).collect::<Vec<_>>(),
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::ROUTES;

    #[test]
    fn the_openapi_document_lists_exactly_the_routes() {
        let doc: serde_json::Value = serde_json::from_str(super::super::OPENAPI).unwrap();
        let mut documented: Vec<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, ops)| {
                ops.as_object()
                    .unwrap()
                    .keys()
                    .map(move |m| (m.clone(), path.clone()))
            })
            .collect();
        let mut routes: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        documented.sort();
        routes.sort();
        assert_eq!(documented, routes);
    }
}
