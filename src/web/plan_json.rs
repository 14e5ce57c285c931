//! The rest of the plan: numbers (DDI), line groups, pickup groups and outbound
//! routes an entry at a time as JSON (the API's shape, `/api/v1/plan/{section}`), and
//! the whole plan as one document (time zone, location, emergency numbers and
//! locations, least-cost routing, agents' skills). Both go through the plan's checks;
//! a refusal is shown at the text it is about and nothing changes.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde_json::Value;

use super::layout::{csrf, notice, page, store_refusal, Errors, WebError};
use super::session::Session;
use crate::api::ApiState;

/// The sections edited here, with their titles.
pub const SECTIONS: [(&str, &str); 5] = [
    ("ddi_numbers", "Numbers"),
    ("line_groups", "Line groups"),
    ("pickup_groups", "Pickup groups"),
    ("outbound", "Outbound routes"),
    ("conferences", "Conferences"),
];

fn title_of(section: &str) -> Option<&'static str> {
    SECTIONS
        .iter()
        .find(|(s, _)| *s == section)
        .map(|(_, t)| *t)
}

async fn section_page(
    state: &ApiState,
    s: &Session,
    section: &str,
    (text, errors, saved): (&str, &Errors, bool),
) -> Result<Response, WebError> {
    let id = s.admin()?;
    let lang = s.lang();
    let title = title_of(section).ok_or(WebError::NotFound(lang))?;
    let tenant = super::tenant_of(state, id).await?;
    let sec = section.to_owned();
    let list = state
        .store
        .call(move |st| st.plan_entries(&tenant, &sec))
        .await?;
    let (_, key) = actors::store::section_key(section).unwrap_or_default();
    let here = format!("/web/plan/{section}");
    let body = html! {
        p { @for (s, t) in SECTIONS { a href={"/web/plan/" (s)} { (lang.t(t)) } " · " } a href="/web/plan" { (lang.t("Plan")) } }
        table #entries {
            thead { tr { th { (key) } th { "JSON" } } }
            tbody { @for e in &list { tr { td { (e[key].as_str().unwrap_or_default()) } td { code { (e.to_string()) } } } } }
        }
        form.card method="post" action=(here) {
            h2 { (lang.t("Add")) " / " (lang.t("Save")) " (" (key) ")" }
            (notice(lang, saved, errors))
            (csrf(s))
            label class=[errors.get("entry").map(|_| "invalid")] { "JSON"
                textarea name="entry" rows="6" cols="80" { (text) }
                @if let Some(e) = errors.get("entry") { span.error data-field="entry" { (e) } } }
            label.check { input type="checkbox" name="remove" value="on"; (lang.t("Remove")) }
            button type="submit" { (lang.t("Save")) }
        }
    };
    let status = super::layout::status_of(errors);
    Ok((status, page(s, "/web/plan", lang.t(title), body)).into_response())
}

pub async fn section(
    State(state): State<Arc<ApiState>>,
    s: Session,
    Path(section): Path<String>,
) -> Result<Response, WebError> {
    section_page(&state, &s, &section, ("", &Errors::new(), false)).await
}

/// Puts (or, with `remove`, removes) the entry the JSON names by its key field.
pub async fn save_section(
    State(state): State<Arc<ApiState>>,
    s: Session,
    Path(section): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Result<Response, WebError> {
    s.check(f.get("csrf").map(String::as_str))?;
    let id = s.admin()?;
    let Some((sec, key_field)) = actors::store::section_key(&section) else {
        return Err(WebError::NotFound(s.lang()));
    };
    let text = f.get("entry").cloned().unwrap_or_default();
    let remove = f.get("remove").is_some_and(|v| v == "on");
    let errors = match serde_json::from_str::<Value>(&text) {
        Err(e) => Errors::from([("entry", format!("not JSON: {e}"))]),
        Ok(entry) => {
            let key = entry[key_field].as_str().unwrap_or_default().to_owned();
            if key.is_empty() {
                Errors::from([("entry", format!("the entry needs its {key_field}"))])
            } else {
                let tenant = super::tenant_of(&state, id).await?;
                let dir = state.files_dir.clone();
                let done = state
                    .store
                    .call(move |st| {
                        if remove {
                            st.remove_plan_entry(&tenant, (sec, &key), &dir).map(|_| ())
                        } else {
                            st.put_plan_entry(&tenant, (sec, &key), entry, &dir)
                                .map(|_| ())
                        }
                    })
                    .await;
                match done {
                    Ok(()) => {
                        crate::api::admin::config_changed(&state, id);
                        Errors::new()
                    }
                    Err(e) => {
                        let mut errors = store_refusal(e)?;
                        let why: Vec<String> = errors.drain().map(|(_, w)| w).collect();
                        Errors::from([("entry", why.join("; "))])
                    }
                }
            }
        }
    };
    let saved = errors.is_empty();
    let shown = if saved { "" } else { text.as_str() };
    section_page(&state, &s, &section, (shown, &errors, saved)).await
}

async fn plan_page(
    state: &ApiState,
    s: &Session,
    (text, errors, saved): (Option<&str>, &Errors, bool),
) -> Result<Response, WebError> {
    let id = s.admin()?;
    let lang = s.lang();
    let stored = state.store.call(move |st| st.dialplan_json(id)).await?;
    let pretty = stored
        .as_deref()
        .and_then(|j| serde_json::from_str::<Value>(j).ok())
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_default();
    let body = html! {
        p { @for (s, t) in SECTIONS { a href={"/web/plan/" (s)} { (lang.t(t)) } " · " } }
        form.card method="post" action="/web/plan" {
            h2 { (lang.t("The whole plan (time zone, location, emergency, least-cost routing, skills)")) }
            (notice(lang, saved, errors))
            (csrf(s))
            label class=[errors.get("plan").map(|_| "invalid")] { "JSON"
                textarea name="plan" rows="30" cols="100" { (text.unwrap_or(&pretty)) }
                @if let Some(e) = errors.get("plan") { span.error data-field="plan" { (e) } } }
            button type="submit" { (lang.t("Save")) }
        }
    };
    let status = super::layout::status_of(errors);
    Ok((status, page(s, "/web/plan", lang.t("Plan"), body)).into_response())
}

pub async fn plan(State(state): State<Arc<ApiState>>, s: Session) -> Result<Response, WebError> {
    plan_page(&state, &s, (None, &Errors::new(), false)).await
}

pub async fn save_plan(
    State(state): State<Arc<ApiState>>,
    s: Session,
    Form(f): Form<HashMap<String, String>>,
) -> Result<Response, WebError> {
    s.check(f.get("csrf").map(String::as_str))?;
    let id = s.admin()?;
    let text = f.get("plan").cloned().unwrap_or_default();
    let tenant = super::tenant_of(&state, id).await?;
    let dir = state.files_dir.clone();
    let json = text.clone();
    match state
        .store
        .call(move |st| st.set_plan(&tenant, &json, &dir))
        .await
    {
        Ok(()) => {
            crate::api::admin::config_changed(&state, id);
            Ok(Redirect::to("/web/plan").into_response())
        }
        Err(actors::Error::Invalid(why)) => {
            plan_page(
                &state,
                &s,
                (Some(&text), &Errors::from([("plan", why)]), false),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
