//! Removing through the API: a tenant (the operator), a line and a person (the
//! tenant's administrator). The store refuses what is still needed (a line the plan
//! routes to: 422 naming `ext`); what is gone stops at once in the running switch (a
//! removed line's actor and registrations, a removed tenant's supervisor and domains).

use actors::store::ApiScope;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};

use super::routes::{admin, From, S};
use super::ApiError;

/// 404 for a refusal saying the object does not exist; the rest as it is.
fn missing_is_404(e: actors::Error) -> ApiError {
    match e {
        actors::Error::Field { why, .. } if why.starts_with("no ") => ApiError::not_found(why),
        e => e.into(),
    }
}

pub async fn remove_tenant(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.principal(&headers, from).await? != ApiScope::Operator {
        return Err(ApiError::forbidden("this needs the operator's key"));
    }
    let id = {
        let name = name.clone();
        state
            .store
            .call(move |s| Ok(s.tenants()?.into_iter().find(|t| t.name == name)))
            .await?
            .map(|t| t.id)
    };
    state
        .store
        .call(move |s| s.remove_tenant(&name))
        .await
        .map_err(missing_is_404)?;
    if let Some(id) = id {
        tenant_removed(&state, id);
    }
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove_line(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
    Path(ext): Path<String>,
) -> Result<StatusCode, ApiError> {
    let tenant = admin(&state.principal(&headers, from).await?)?;
    let line = ext.clone();
    state
        .store
        .call(move |s| s.remove_line(tenant, &line))
        .await
        .map_err(missing_is_404)?;
    line_removed(&state, tenant, ext).await;
    Ok(StatusCode::NO_CONTENT)
}

/// What follows line `ext`'s removal from the store (API and web alike): its
/// mailbox greeting (the tenant's prompt `greeting-EXT`) goes, so the next line of
/// that number starts with the default one, and its running actor stops.
pub(crate) async fn line_removed(
    state: &super::ApiState,
    tenant: actors::store::TenantId,
    ext: String,
) {
    if let Ok(t) = super::routes::tenant_of(state, tenant).await {
        let name = format!("greeting-{ext}");
        let _ = actors::tenant::prompts::remove(&state.files_dir, &t.name, &name, None);
    }
    if let Some(entry) = state.directory.tenant(tenant) {
        let _ = entry
            .supervisor
            .send_message(actors::proto::TenantMsg::LineRemoved(ext));
    }
}

/// What follows tenant `id`'s removal from the store: its domains stop resolving
/// now and its supervisor ends (the switch does not start it again: the store no
/// longer has it).
pub(crate) fn tenant_removed(state: &super::ApiState, id: actors::store::TenantId) {
    if let Some(entry) = state.directory.remove_tenant(id) {
        entry.supervisor.stop(Some("tenant removed".into()));
    }
}

pub async fn remove_person(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let tenant = admin(&state.principal(&headers, from).await?)?;
    state
        .store
        .call(move |s| s.remove_user(tenant, &name))
        .await
        .map_err(missing_is_404)?;
    Ok(StatusCode::NO_CONTENT)
}
