//! The plan an entry at a time: `/api/v1/plan/{section}[/{key}]` lists, reads, puts
//! and removes one hunt group, queue, menu, conference, schedule, line group, pickup
//! group, outbound route or DDI number by its number or name. Each change is checked
//! as a whole plan is: refused (422 naming the section, or the key field), nothing
//! changes; an entry the rest of the plan refers to is not removed.

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde_json::Value;

use super::routes::{admin, tenant_of, From, S};
use super::ApiError;

fn known(section: &str) -> Result<(), ApiError> {
    actors::store::section_key(section)
        .map(|_| ())
        .ok_or_else(|| {
            let all: Vec<&str> = actors::store::PLAN_SECTIONS
                .iter()
                .map(|(s, _)| *s)
                .collect();
            ApiError::not_found(format!(
                "no plan section {section:?} (one of {})",
                all.join(", ")
            ))
        })
}

pub async fn entries(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
    Path(section): Path<String>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let tenant = tenant_of(&state, admin(&state.principal(&headers, from).await?)?).await?;
    known(&section)?;
    let list = state
        .store
        .call(move |s| s.plan_entries(&tenant, &section))
        .await?;
    Ok(Json(list))
}

pub async fn entry(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
    Path((section, key)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&state, admin(&state.principal(&headers, from).await?)?).await?;
    known(&section)?;
    let (_, field) = actors::store::section_key(&section).unwrap_or_default();
    let list = state
        .store
        .call(move |s| s.plan_entries(&tenant, &section))
        .await?;
    list.into_iter()
        .find(|e| e.get(field).and_then(Value::as_str) == Some(key.as_str()))
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no entry {key:?}")))
}

pub async fn put_entry(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
    Path((section, key)): Path<(String, String)>,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let id = admin(&state.principal(&headers, from).await?)?;
    let tenant = tenant_of(&state, id).await?;
    known(&section)?;
    let Json(entry) = body.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let dir = state.files_dir.clone();
    let created = state
        .store
        .call(move |s| s.put_plan_entry(&tenant, (&section, &key), entry, &dir))
        .await?;
    super::admin::config_changed(&state, id);
    Ok(if created {
        StatusCode::CREATED
    } else {
        StatusCode::NO_CONTENT
    })
}

pub async fn remove_entry(
    State(state): S,
    ConnectInfo(from): From,
    headers: HeaderMap,
    Path((section, key)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = admin(&state.principal(&headers, from).await?)?;
    let tenant = tenant_of(&state, id).await?;
    known(&section)?;
    let dir = state.files_dir.clone();
    let what = key.clone();
    let found = state
        .store
        .call(move |s| s.remove_plan_entry(&tenant, (&section, &key), &dir))
        .await?;
    if found {
        super::admin::config_changed(&state, id);
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no entry {what:?}")))
    }
}
