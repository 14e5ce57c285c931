//! Administration through the API: tenants (the operator), people, lines, device
//! accounts, provisioned phones, prompts and agent logins (a tenant's administrator),
//! and a line's own settings and agent login (its user too). Every change goes
//! through the store methods the CLI uses, so both check alike; a refusal is 422
//! naming the request field, and an object of another tenant is 404.

use actors::store::{ApiScope, NewDevice, TenantId};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::routes::{admin, tenant_of, From, S};
use super::{ApiError, ApiState};

/// A JSON body, or 400 saying why it is none.
pub(super) type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

pub(super) fn body<T>(b: Body<T>) -> Result<T, ApiError> {
    b.map(|Json(v)| v)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))
}

/// A required text field.
pub(super) fn required(v: Option<String>, field: &'static str) -> Result<String, ApiError> {
    v.filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::invalid(field, format!("{field} is required")))
}

/// A store refusal as 422 on `field`; anything else as it is.
fn refused(field: &'static str) -> impl FnOnce(actors::Error) -> ApiError {
    move |e| match e {
        actors::Error::Invalid(why) => ApiError::invalid(field, why),
        other => other.into(),
    }
}

/// The tenant of an administrator's or a user's key, and the user's line.
pub(super) async fn tenant_scope(
    state: &ApiState,
    headers: &HeaderMap,
    from: std::net::SocketAddr,
) -> Result<(TenantId, Option<String>), ApiError> {
    match state.principal(headers, from).await? {
        ApiScope::Admin { tenant } => Ok((tenant, None)),
        ApiScope::User { tenant, line } => Ok((tenant, Some(line))),
        ApiScope::Operator => Err(ApiError::forbidden(
            "the operator's key reaches no tenant's configuration",
        )),
    }
}

/// Line `ext` of the tenant, as a user (its own only) or the administrator may
/// reach it: another line or one that does not exist is 404.
async fn reachable_line(
    state: &ApiState,
    tenant: TenantId,
    user_line: Option<&str>,
    ext: &str,
) -> Result<(), ApiError> {
    let missing = || ApiError::not_found(format!("no line {ext}"));
    if user_line.is_some_and(|own| own != ext) {
        return Err(missing());
    }
    let want = ext.to_owned();
    let found = state.store.call(move |s| s.line(tenant, &want)).await?;
    found.map(|_| ()).ok_or_else(missing)
}

// ---- tenants (the operator) ----

#[derive(Deserialize)]
pub struct NewTenant {
    name: Option<String>,
    #[serde(default)]
    domains: Vec<String>,
}

pub async fn add_tenant(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
    b: Body<NewTenant>,
) -> Result<impl IntoResponse, ApiError> {
    if state.principal(&headers, from).await? != ApiScope::Operator {
        return Err(ApiError::forbidden("this needs the operator's key"));
    }
    let b = body(b)?;
    let name = required(b.name, "name")?;
    let domains = b.domains;
    // The store's refusals name their field.
    let t = state
        .store
        .call(move |s| s.add_tenant(&name, &domains))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"name": t.name, "domains": t.domains})),
    ))
}

// ---- people ----

pub async fn people(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let tenant = admin(&state.principal(&headers, from).await?)?;
    let list = state.store.call(move |s| s.users(tenant)).await?;
    Ok(Json(json!(list
        .into_iter()
        .map(|u| json!({"name": u.name, "email": u.email, "lines": u.lines}))
        .collect::<Vec<_>>())))
}

#[derive(Deserialize)]
pub struct NewPerson {
    name: Option<String>,
    email: Option<String>,
}

pub async fn add_person(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
    b: Body<NewPerson>,
) -> Result<impl IntoResponse, ApiError> {
    let tenant = admin(&state.principal(&headers, from).await?)?;
    let b = body(b)?;
    let name = required(b.name, "name")?;
    let email = b.email.filter(|e| !e.is_empty());
    let stored = name.clone();
    state
        .store
        .call(move |s| s.add_user(tenant, &stored, email.as_deref()))
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"name": name}))))
}

// ---- a line's person and password ----

/// `{"person": "Ann" | null, "password": "…"}`: either or both.
pub async fn change_line(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
    Path(ext): Path<String>,
    b: Body<Map<String, Value>>,
) -> Result<StatusCode, ApiError> {
    let id = admin(&state.principal(&headers, from).await?)?;
    let b = body(b)?;
    reachable_line(&state, id, None, &ext).await?;
    let person = match b.get("person") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(p)) => Some(Some(p.clone())),
        Some(_) => return Err(ApiError::invalid("person", "a name or null")),
    };
    let password = match b.get("password") {
        None => None,
        Some(Value::String(p)) => Some(p.clone()),
        Some(_) => return Err(ApiError::invalid("password", "a text")),
    };
    if person.is_none() && password.is_none() {
        return Err(ApiError::invalid("person", "nothing to change"));
    }
    let tenant = tenant_of(&state, id).await?;
    let (tenant_id, ext_changed) = (tenant.id, ext.clone());
    state
        .store
        .call(move |s| {
            // Checked before anything is stored: a refused password keeps the person.
            if password.as_ref().is_some_and(|p| p.len() < 6) {
                return Err(actors::Error::field(
                    "password",
                    "a password needs at least 6 characters",
                ));
            }
            if let Some(p) = &person {
                s.set_line_user(tenant.id, &ext, p.as_deref())?;
            }
            if let Some(p) = &password {
                s.set_password(&tenant, &ext, p)?;
            }
            Ok(())
        })
        .await?;
    // The running line checks the new password from now on.
    devices_changed(&state, tenant_id, &ext_changed);
    Ok(StatusCode::NO_CONTENT)
}

// ---- device accounts ----

pub async fn devices(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let (tenant, only) = tenant_scope(&state, &headers, from).await?;
    let list = state
        .store
        .call(move |s| s.devices(tenant, only.as_deref()))
        .await?;
    let directory = state.directory.clone();
    Ok(Json(json!(list
        .into_iter()
        .map(|d| {
            let registered = registered_as(&directory, tenant, &d.ext, &d.username);
            json!({"username": d.username, "line": d.ext, "name": d.name, "registered": registered})
        })
        .collect::<Vec<_>>())))
}

/// True while account `username` has a registration on line `ext` (of a running line).
pub(crate) fn registered_as(
    directory: &actors::directory::Directory,
    tenant: TenantId,
    ext: &str,
    username: &str,
) -> bool {
    directory
        .bindings(tenant, ext)
        .is_some_and(|b| b.iter().any(|b| b.account.as_deref() == Some(username)))
}

#[derive(Deserialize)]
pub struct NewDeviceBody {
    username: Option<String>,
    line: Option<String>,
    name: Option<String>,
    password: Option<String>,
}

pub async fn add_device(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
    b: Body<NewDeviceBody>,
) -> Result<impl IntoResponse, ApiError> {
    let id = admin(&state.principal(&headers, from).await?)?;
    let b = body(b)?;
    let d = NewDevice {
        username: required(b.username, "username")?,
        ext: required(b.line, "line")?,
        name: b.name,
        password: required(b.password, "password")?,
    };
    let tenant = tenant_of(&state, id).await?;
    let (username, ext) = (d.username.clone(), d.ext.clone());
    state.store.call(move |s| s.add_device(&tenant, &d)).await?;
    devices_changed(&state, id, &ext);
    Ok((StatusCode::CREATED, Json(json!({"username": username}))))
}

pub async fn remove_device(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
    Path(username): Path<String>,
) -> Result<StatusCode, ApiError> {
    let tenant = admin(&state.principal(&headers, from).await?)?;
    let name = username.clone();
    let gone = state
        .store
        .call(move |s| {
            let Some(d) = s.device(tenant, &name)? else {
                return Ok(None);
            };
            s.remove_device(tenant, &name)?;
            Ok(Some(d.ext))
        })
        .await?;
    let ext = gone.ok_or_else(|| ApiError::not_found(format!("no device {username:?}")))?;
    devices_changed(&state, tenant, &ext);
    Ok(StatusCode::NO_CONTENT)
}

/// Tells a running line its device accounts changed, and its tenant that it has
/// accounts it may not know yet.
pub(crate) fn devices_changed(state: &ApiState, tenant: TenantId, ext: &str) {
    config_changed(state, tenant);
    state
        .directory
        .tell_line(tenant, ext, actors::proto::LineMsg::DevicesChanged);
}

/// Tells a running tenant that its configuration changed (lines, devices, settings,
/// the plan): it reads it again now, so that a REGISTER or a call right after sees
/// the change.
pub(crate) fn config_changed(state: &ApiState, tenant: TenantId) {
    if let Some(entry) = state.directory.tenant(tenant) {
        let _ = entry
            .supervisor
            .cast(actors::proto::TenantMsg::ConfigChanged);
    }
}

// ---- prompts ----

pub async fn prompts(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&state, admin(&state.principal(&headers, from).await?)?).await?;
    let list = actors::tenant::prompts::list(&state.files_dir, &tenant.name)?;
    Ok(Json(json!(list
        .into_iter()
        .map(|(name, ms)| json!({"name": name, "duration_ms": ms}))
        .collect::<Vec<_>>())))
}

/// Stores the request's body (a mono 8 kHz 16-bit PCM WAV) as prompt `name`.
pub async fn put_prompt(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
    Path(name): Path<String>,
    wav: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let tenant = tenant_of(&state, admin(&state.principal(&headers, from).await?)?).await?;
    actors::tenant::prompts::check_name(&name).map_err(refused("name"))?;
    let a = actors::tenant::prompts::add_bytes(&state.files_dir, &tenant.name, &name, &wav)
        .map_err(refused("body"))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"name": name, "duration_ms": a.duration_ms()})),
    ))
}

pub async fn remove_prompt(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = admin(&state.principal(&headers, from).await?)?;
    let tenant = tenant_of(&state, id).await?;
    let known = actors::tenant::prompts::list(&state.files_dir, &tenant.name)?
        .into_iter()
        .any(|(n, _)| n == actors::tenant::prompts::name_of(&name));
    if !known {
        return Err(ApiError::not_found(format!("no prompt {name:?}")));
    }
    let plan = state.store.call(move |s| s.stored_plan_of(id)).await?;
    actors::tenant::prompts::remove(&state.files_dir, &tenant.name, &name, plan.as_ref())
        .map_err(refused("name"))?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- agents ----

pub async fn agents(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let (tenant, only) = tenant_scope(&state, &headers, from).await?;
    let list = state.store.call(move |s| s.agent_logins(tenant)).await?;
    Ok(Json(json!(list
        .into_iter()
        .filter(|a| only.as_ref().is_none_or(|l| *l == a.ext))
        .map(|a| json!({
            "group": a.group, "kind": a.kind, "ext": a.ext, "logged_in": a.logged_in,
            "state": a.live.as_ref().map(|l| l.0.clone()),
            "since": a.live.as_ref().map(|l| l.1),
        }))
        .collect::<Vec<_>>())))
}

#[derive(Deserialize)]
pub struct AgentLoginBody {
    logged_in: Option<bool>,
    /// One group or queue; every one the line is a member of when absent.
    group: Option<String>,
}

/// Logs line `ext` in or out (its user may, for its own line).
pub async fn set_agent(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
    Path(ext): Path<String>,
    b: Body<AgentLoginBody>,
) -> Result<Json<Value>, ApiError> {
    let (tenant, own) = tenant_scope(&state, &headers, from).await?;
    let b = body(b)?;
    reachable_line(&state, tenant, own.as_deref(), &ext).await?;
    let on = b
        .logged_in
        .ok_or_else(|| ApiError::invalid("logged_in", "logged_in is required (true or false)"))?;
    let changed = state
        .store
        .call(move |s| s.set_agent_login(tenant, &ext, b.group.as_deref(), on))
        .await
        .map_err(refused("group"))?;
    Ok(Json(json!({"groups": changed, "logged_in": on})))
}

// ---- a line's own settings ----

fn features_json(f: &actors::store::LineFeatures) -> Value {
    let fw = |f: &actors::store::Forwards| {
        json!({
            "always": f.always, "busy": f.busy,
            "unregistered": f.unregistered, "no_answer": f.no_answer,
        })
    };
    json!({
        "dnd": f.dnd,
        "call_waiting": !f.no_call_waiting,
        "anonymous": f.anonymous,
        "forward": fw(&f.forwards),
        "forward_external": f.external.as_ref().map(fw),
        "no_answer_secs": f.no_answer_secs.unwrap_or(actors::store::NO_ANSWER_SECS),
        "admin_forward": f.admin_forward,
        "caller_id": f.caller_id,
        "caller_id_fixed": f.caller_id_fixed,
        "private": f.private,
        "project": f.project,
        "blf_private": f.blf_private,
    })
}

pub async fn features(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
    Path(ext): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (tenant, own) = tenant_scope(&state, &headers, from).await?;
    reachable_line(&state, tenant, own.as_deref(), &ext).await?;
    let f = state
        .store
        .call(move |s| s.line_features(tenant, &ext))
        .await?;
    Ok(Json(features_json(&f)))
}

/// A forwarding field: absent (unchanged), null (cleared) or a target.
fn target(b: &Map<String, Value>, field: &'static str) -> Result<Option<Option<String>>, ApiError> {
    match b.get(field) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(Some(s.clone()))),
        Some(_) => Err(ApiError::invalid(
            field,
            format!("{field}: a number or null"),
        )),
    }
}

fn switch(b: &Map<String, Value>, field: &'static str) -> Result<Option<bool>, ApiError> {
    match b.get(field) {
        None => Ok(None),
        Some(Value::Bool(on)) => Ok(Some(*on)),
        Some(_) => Err(ApiError::invalid(field, format!("{field}: true or false"))),
    }
}

const FEATURE_FIELDS: &[&str] = &[
    "dnd",
    "call_waiting",
    "anonymous",
    "forward_always",
    "forward_busy",
    "forward_unregistered",
    "forward_no_answer",
    "no_answer_secs",
    "callers",
    "caller_id",
    "admin_forward",
    "caller_id_fixed",
    "private",
    "project",
    "blf_private",
];

/// Changes what is named of line `ext`'s settings (`pbx line set`): do not disturb,
/// call waiting, anonymity, forwardings (`null` clears one) for `callers` (all,
/// internal or external), the no-answer delay, the caller ID; the administrator also
/// `admin_forward` and `caller_id_fixed`. Returns the settings now in force.
pub async fn change_features(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
    Path(ext): Path<String>,
    b: Body<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let (tenant, own) = tenant_scope(&state, &headers, from).await?;
    let b = body(b)?;
    reachable_line(&state, tenant, own.as_deref(), &ext).await?;
    let f = apply_features(&state, tenant, &ext, own.is_some(), b).await?;
    Ok(Json(features_json(&f)))
}

/// Changes line `ext`'s settings as `b` says (the API's field names; the user's own
/// or, with `by_user` false, the administrator's), publishes the new settings, and
/// returns them. The web admin's forms come here too.
pub(crate) async fn apply_features(
    state: &ApiState,
    tenant: TenantId,
    ext: &str,
    by_user: bool,
    b: Map<String, Value>,
) -> Result<actors::store::LineFeatures, ApiError> {
    use actors::store::{FeatureChange, ForwardScope, ForwardsChange};
    if let Some(unknown) = b.keys().find(|k| !FEATURE_FIELDS.contains(&k.as_str())) {
        let field = FEATURE_FIELDS
            .iter()
            .copied()
            .find(|f| f == unknown)
            .unwrap_or("body");
        return Err(ApiError::invalid(
            field,
            format!("unknown setting {unknown:?}"),
        ));
    }
    for f in ["admin_forward", "caller_id_fixed"] {
        if by_user && b.contains_key(f) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("only the administrator sets {f}"),
            ));
        }
    }
    let scope = match b.get("callers").and_then(Value::as_str) {
        None | Some("all") => ForwardScope::All,
        Some("internal") => ForwardScope::Internal,
        Some("external") => ForwardScope::External,
        Some(other) => {
            return Err(ApiError::invalid(
                "callers",
                format!("callers {other:?}: all, internal or external"),
            ))
        }
    };
    let no_answer_secs = match b.get("no_answer_secs") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(v) => Some(Some(
            v.as_u64()
                .and_then(|s| u32::try_from(s).ok())
                .ok_or_else(|| {
                    ApiError::invalid("no_answer_secs", "no_answer_secs: seconds, 5 to 120")
                })?,
        )),
    };
    let change = FeatureChange {
        dnd: switch(&b, "dnd")?,
        call_waiting: switch(&b, "call_waiting")?,
        anonymous: switch(&b, "anonymous")?,
        forwards: ForwardsChange {
            always: target(&b, "forward_always")?,
            busy: target(&b, "forward_busy")?,
            unregistered: target(&b, "forward_unregistered")?,
            no_answer: target(&b, "forward_no_answer")?,
        },
        scope,
        same_for_external: false,
        no_answer_secs,
        admin_forward: target(&b, "admin_forward")?,
        caller_id: target(&b, "caller_id")?,
        caller_id_fixed: switch(&b, "caller_id_fixed")?,
        by_user,
        private: switch(&b, "private")?,
        project: target(&b, "project")?,
        blf_private: switch(&b, "blf_private")?,
    };
    let line = ext.to_owned();
    let f = state
        .store
        .call(move |s| s.change_line_features(tenant, &line, &change))
        .await
        .map_err(|e| match e {
            actors::Error::Invalid(why) => ApiError::invalid(feature_field(&b, &why), why),
            e => e.into(),
        })?;
    if let Some(events) = &state.events {
        events
            .lines
            .publish(actors::proto::events::LineEvent::settings(tenant, ext, &f));
    }
    config_changed(state, tenant);
    Ok(f)
}

/// The request field a refused feature change is about: the forwarding whose target
/// the refusal names, else by its words.
fn feature_field(b: &Map<String, Value>, why: &str) -> &'static str {
    let targets = [
        "forward_always",
        "forward_busy",
        "forward_unregistered",
        "forward_no_answer",
        "admin_forward",
    ];
    if let Some(f) = targets.into_iter().find(|f| {
        b.get(*f).and_then(Value::as_str).is_some_and(|t| {
            why.contains(&format!("forward to {t}")) || why.contains(&format!("to {t}:"))
        })
    }) {
        return f;
    }
    if why.contains("no-answer") {
        "no_answer_secs"
    } else if why.contains("project code") {
        "project"
    } else if why.contains("caller ID") || why.contains("caller id") {
        "caller_id"
    } else if why.contains("mailbox") || why.contains("itself") {
        targets
            .into_iter()
            .find(|f| b.get(*f).is_some_and(|v| v.is_string()))
            .unwrap_or("forward_always")
    } else {
        "body"
    }
}

// ---- call control ----

/// The running tenant's supervisor (503 while the switch has not started it).
fn supervisor(
    state: &ApiState,
    tenant: TenantId,
) -> Result<ractor::ActorRef<actors::proto::TenantMsg>, ApiError> {
    state
        .directory
        .tenant(tenant)
        .map(|t| t.supervisor)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the tenant is not running yet",
            )
        })
}

fn unreachable_switch<E: std::fmt::Display>(e: E) -> ApiError {
    tracing::warn!(error = %e, "the tenant did not answer the API");
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the switch did not answer")
}

#[derive(Deserialize)]
pub struct DialBody {
    to: Option<String>,
    /// Instead of `to`: the line whose ringing call the user's phone picks up (it
    /// dials the plan's directed pickup code and the line).
    pickup: Option<String>,
    /// The call is private (the journal keeps its number as the tenant says).
    #[serde(default)]
    private: bool,
    /// The project code the call is tagged with.
    project: Option<String>,
}

/// Click-to-dial: line `ext`'s phones ring; the one answered calls `to` (202). A
/// number the plan refuses the line is refused at once with its status (403 for its
/// permission class, 404 for an unknown number), no phone ringing.
pub async fn dial(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
    Path(ext): Path<String>,
    b: Body<DialBody>,
) -> Result<impl IntoResponse, ApiError> {
    let (tenant, own) = tenant_scope(&state, &headers, from).await?;
    let b = body(b)?;
    reachable_line(&state, tenant, own.as_deref(), &ext).await?;
    let (to, pickup) = match (b.to, b.pickup) {
        (_, Some(line)) if !line.trim().is_empty() => (line, true),
        (to, _) => (required(to, "to")?, false),
    };
    if let Some(p) = &b.project {
        if p.is_empty() || p.len() > 16 || !p.bytes().all(|c| c.is_ascii_digit()) {
            return Err(ApiError::invalid("project", "project: 1 to 16 digits"));
        }
    }
    let (private, project) = (b.private, b.project);
    let sup = supervisor(&state, tenant)?;
    let domain = tenant_of(&state, tenant)
        .await?
        .domains
        .into_iter()
        .next()
        .unwrap_or_default();
    let (line, number) = (ext.clone(), to.clone());
    let r = ractor::call!(sup, |reply| actors::proto::TenantMsg::ClickToDial {
        line,
        to: number,
        domain,
        private,
        project,
        pickup,
        reply
    })
    .map_err(unreachable_switch)?;
    match r {
        Ok(()) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({"line": ext, "to": to, "state": "ringing the line's phones"})),
        )),
        Err((code, why)) => {
            let status = match code {
                403 => StatusCode::FORBIDDEN,
                404 | 484 => StatusCode::UNPROCESSABLE_ENTITY,
                480 => StatusCode::CONFLICT,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            let mut e = ApiError::new(status, format!("{code} {why}"));
            if status == StatusCode::UNPROCESSABLE_ENTITY {
                e.field = Some("to");
            }
            Err(e)
        }
    }
}

/// An action on line `ext`'s calls: `hangup`, `hold`, `retrieve`, `record` (start or
/// stop), `transfer` (body `{"to": N}`: the other party goes to N, blind, routed as
/// the line dialling it), `deflect` (`{"to": N}`: a call ringing the line goes to N)
/// or `dtmf` (`{"keys": "12#"}`, one every 250 ms). 409 when the line is in no call
/// or its call cannot do that now (not answered yet, a transfer under way …).
pub async fn control(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
    Path((ext, action)): Path<(String, String)>,
    raw: Bytes,
) -> Result<Json<Value>, ApiError> {
    use actors::proto::call::CallControl;
    let (tenant, own) = tenant_scope(&state, &headers, from).await?;
    reachable_line(&state, tenant, own.as_deref(), &ext).await?;
    let b: Map<String, Value> = if raw.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice(&raw) {
            Ok(Value::Object(m)) => m,
            Ok(Value::Null) => Map::new(),
            _ => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "the body is not a JSON object",
                ))
            }
        }
    };
    let text = |f: &'static str| {
        b.get(f)
            .and_then(Value::as_str)
            .filter(|v| !v.trim().is_empty())
            .map(str::to_owned)
            .ok_or_else(|| ApiError::invalid(f, format!("{f} is required")))
    };
    let controls: Vec<CallControl> = match action.as_str() {
        "hangup" => vec![CallControl::Hangup],
        "record" => vec![CallControl::Record],
        "hold" => vec![CallControl::Hold],
        "retrieve" => vec![CallControl::Retrieve],
        "transfer" => vec![CallControl::Transfer(text("to")?)],
        "deflect" => vec![CallControl::Deflect(text("to")?)],
        "answer" => vec![CallControl::Answer],
        "conference" => vec![CallControl::Conference],
        "connect" => vec![CallControl::Connect],
        "dtmf" => {
            let keys = text("keys")?;
            let valid = keys.len() <= 32
                && keys
                    .chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D'));
            if !valid {
                return Err(ApiError::invalid(
                    "keys",
                    "keys: up to 32 of 0-9, *, # and A-D",
                ));
            }
            keys.chars().map(CallControl::Dtmf).collect()
        }
        _ => {
            return Err(ApiError::not_found(format!(
            "no call action {action:?}: hangup, hold, retrieve, record, transfer, deflect or dtmf"
        )))
        }
    };
    let sup = supervisor(&state, tenant)?;
    let line = ext.clone();
    let calls = ractor::call!(sup, |reply| actors::proto::TenantMsg::CallsOf {
        line,
        reply
    })
    .map_err(unreachable_switch)?;
    if calls.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("line {ext} is in no call"),
        ));
    }
    let mut first = controls.into_iter();
    let Some(now) = first.next() else {
        return Err(ApiError::invalid("keys", "keys is required"));
    };
    // Hanging up ends every call of the line; anything else is done in the first of
    // its calls that can (a transfer or a merge once).
    let every = now == CallControl::Hangup;
    let mut done = Vec::new();
    for c in calls {
        if ask_call(&c, &ext, now.clone()).await {
            done.push(c);
            if !every {
                break;
            }
        }
    }
    if done.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("line {ext}'s call cannot {action} now"),
        ));
    }
    let n = done.len();
    let rest: Vec<CallControl> = first.collect();
    if !rest.is_empty() {
        // Further keys follow one by one, as a phone's would.
        let line = ext.clone();
        tokio::spawn(async move {
            for key in rest {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                for c in &done {
                    ask_call(c, &line, key.clone()).await;
                }
            }
        });
    }
    Ok(Json(json!({"line": ext, "action": action, "calls": n})))
}

/// Asks a call to carry out `control` for line `line`: whether it could.
async fn ask_call(
    call: &ractor::ActorRef<actors::proto::CallMsg>,
    line: &str,
    control: actors::proto::call::CallControl,
) -> bool {
    let line = line.to_owned();
    let asked = call
        .call(
            |reply| actors::proto::CallMsg::Control(line, control, reply),
            Some(std::time::Duration::from_secs(2)),
        )
        .await;
    matches!(asked, Ok(ractor::rpc::CallResult::Success(true)))
}
