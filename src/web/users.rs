//! The administrator's users: a paged, searchable list (number, name, person,
//! registration, state), adding a user (a line with its SIP password, a person when
//! named, a web sign-in when asked), and one user's page (name, password, the line's
//! own settings, removal).

use std::collections::HashMap;
use std::sync::Arc;

use actors::store::{NewLine, TenantId, WebRole};
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::{csrf, field, notice, page, store_refusal, Errors, WebError};
use super::session::{hash_password, Session};
use super::settings::{line_settings, save_line_settings};
use crate::api::ApiState;

type S = State<Arc<ApiState>>;
type Fields = Form<HashMap<String, String>>;

const PAGE: usize = 50;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: usize,
}

/// The states of the tenant's lines now (lines not named are free).
pub async fn line_states(state: &ApiState, tenant: TenantId) -> HashMap<String, &'static str> {
    match state.directory.tenant(tenant) {
        Some(t) => ractor::call!(t.supervisor, actors::proto::TenantMsg::LineStates)
            .unwrap_or_default()
            .into_iter()
            .collect(),
        None => HashMap::new(),
    }
}

fn new_user_form(s: &Session, values: &HashMap<String, String>, errors: &Errors) -> Markup {
    let lang = s.lang();
    let v = |k: &str| values.get(k).map(String::as_str).unwrap_or_default();
    html! {
        form.card method="post" action="/web/users" id="add-user" {
            h2 { (lang.t("Add a user")) }
            (notice(lang, false, errors))
            (csrf(s))
            (field(lang, ("Extension", "ext"), v("ext"), "text", errors))
            (field(lang, ("Name", "name"), v("name"), "text", errors))
            (field(lang, ("SIP password", "password"), "", "password", errors))
            (field(lang, ("E-mail", "email"), v("email"), "email", errors))
            fieldset {
                legend { (lang.t("Web sign-in (optional)")) }
                (field(lang, ("Login", "login"), v("login"), "text", errors))
                (field(lang, ("Web password", "web_password"), "", "password", errors))
            }
            button type="submit" { (lang.t("Add")) }
        }
    }
}

async fn list_page(
    state: &ApiState,
    s: &Session,
    q: &ListQuery,
    form: (&HashMap<String, String>, &Errors),
) -> Result<Response, WebError> {
    let tenant = s.admin()?;
    let lang = s.lang();
    let (search, offset) = (q.q.clone(), q.page.saturating_mul(PAGE));
    let (rows, total) = state
        .store
        .call(move |st| st.lines_page(tenant, &search, (offset, PAGE)))
        .await?;
    let states = line_states(state, tenant).await;
    let pages = total.div_ceil(PAGE).max(1);
    let link = |p: usize| format!("/web/users?q={}&page={p}", urlencode(&q.q));
    let body = html! {
        form.inline method="get" action="/web/users" role="search" {
            input name="q" value=(q.q) placeholder=(lang.t("Search")) aria-label=(lang.t("Search"));
            " " button type="submit" { (lang.t("Search")) }
        }
        table #users {
            thead { tr {
                th { (lang.t("Extension")) } th { (lang.t("Name")) } th { (lang.t("Person")) }
                th { (lang.t("Registered")) } th { (lang.t("State")) }
            } }
            tbody {
                @for (ext, name, person) in &rows {
                    @let devices = state.directory.bindings(tenant, ext).map_or(0, |b| b.len());
                    @let st = states.get(ext.as_str()).copied().unwrap_or("free");
                    tr data-ext=(ext) {
                        td { a href={"/web/users/" (ext)} { (ext) } }
                        td { (name.as_deref().unwrap_or_default()) }
                        td { (person.as_deref().unwrap_or_default()) }
                        td.registered { (devices) }
                        td class={"state-" (st.replace(' ', "-"))} { (lang.t(st)) }
                    }
                }
            }
        }
        div.pager {
            @if q.page > 0 { a href=(link(q.page - 1)) { "← " (lang.t("previous")) } }
            span { (q.page + 1) " " (lang.t("of")) " " (pages) " (" (total) ")" }
            @if q.page + 1 < pages { a href=(link(q.page + 1)) { (lang.t("next")) " →" } }
        }
        (new_user_form(s, form.0, form.1))
    };
    let status = super::layout::status_of(form.1);
    Ok((status, page(s, "/web/users", lang.t("Users"), body)).into_response())
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub async fn users(
    State(state): S,
    s: Session,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    list_page(&state, &s, &q, (&HashMap::new(), &Errors::new())).await
}

/// Adds a user: the line, then (when given) the person and the web sign-in; a
/// refusal of any part stores nothing of it.
pub async fn add_user(State(state): S, s: Session, Form(f): Fields) -> Result<Response, WebError> {
    s.check(f.get("csrf").map(String::as_str))?;
    let id = s.admin()?;
    let text = |k: &str| {
        f.get(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let ext = text("ext").unwrap_or_default();
    let mut errors = Errors::new();
    let web = match (
        text("login"),
        f.get("web_password").filter(|p| !p.is_empty()),
    ) {
        (Some(login), Some(p)) if p.len() >= 8 => Some((login, hash_password(p.clone()).await)),
        (Some(_), _) => {
            errors.insert(
                "web_password",
                "a web password has at least 8 characters".into(),
            );
            None
        }
        (None, Some(_)) => {
            errors.insert("login", "a web password needs a login".into());
            None
        }
        (None, None) => None,
    };
    if errors.is_empty() {
        let line = NewLine {
            ext: ext.clone(),
            display_name: text("name"),
            password: f.get("password").cloned().unwrap_or_default(),
        };
        let (name, email) = (text("name"), text("email"));
        let tenant = super::tenant_of(&state, id).await?;
        let done = state
            .store
            .call(move |st| {
                st.add_line(&tenant, &line)?;
                // All or nothing: what a later part refuses undoes the line and the
                // person made for it (a person who existed already is only linked).
                let mut made_person = None;
                let rest = (|| {
                    if let (Some(person), true) = (&name, email.is_some()) {
                        let known = st.users(tenant.id)?.iter().any(|u| u.name == *person);
                        if !known {
                            st.add_user(tenant.id, person, email.as_deref())?;
                            made_person = Some(person.clone());
                        }
                        st.set_line_user(tenant.id, &line.ext, Some(person))?;
                    }
                    if let Some((login, hash)) = &web {
                        let role = WebRole::User {
                            tenant: tenant.id,
                            line: line.ext.clone(),
                        };
                        let now = actors::clock::unix_millis();
                        st.add_web_account(login, &role, hash, "en", now)?;
                    }
                    Ok(())
                })();
                if let Err(e) = rest {
                    if let Some(person) = &made_person {
                        let _ = st.remove_user(tenant.id, person);
                    }
                    st.remove_line(tenant.id, &line.ext)?;
                    return Err(e);
                }
                Ok(())
            })
            .await;
        match done {
            Ok(()) => {
                crate::api::admin::config_changed(&state, id);
                return Ok(Redirect::to(&format!("/web/users/{ext}")).into_response());
            }
            Err(e) => errors = store_refusal(e)?,
        }
    }
    let q = ListQuery::default();
    list_page(&state, &s, &q, (&f, &errors)).await
}

async fn user_page(
    state: &ApiState,
    s: &Session,
    ext: &str,
    (saved, errors): (bool, &Errors),
) -> Result<Response, WebError> {
    let tenant = s.admin()?;
    let lang = s.lang();
    let line = ext.to_owned();
    let found = state
        .store
        .call(move |st| {
            Ok(match st.line(tenant, &line)? {
                Some(l) => Some((
                    l,
                    st.line_user(tenant, &line)?,
                    st.line_features(tenant, &line)?,
                )),
                None => None,
            })
        })
        .await?;
    let Some((record, person, features)) = found else {
        return Err(WebError::NotFound(lang));
    };
    let bindings = state.directory.bindings(tenant, ext).unwrap_or_default();
    let body = html! {
        section.card {
            p { (lang.t("Person")) ": " (person.as_deref().unwrap_or("–")) }
            p #registered data-count=(bindings.len()) { (lang.t("Registered")) ": " (bindings.len()) }
            ul {
                @for b in bindings.iter() {
                    li { (b.contact) @if let Some(ua) = &b.user_agent { " (" (ua) ")" } }
                }
            }
        }
        form.card method="post" action={"/web/users/" (ext)} {
            (notice(lang, saved, errors))
            (csrf(s))
            (field(lang, ("Name", "name"), record.display_name.as_deref().unwrap_or_default(), "text", errors))
            (field(lang, ("SIP password", "password"), "", "password", errors))
            (line_settings(lang, &features, errors))
            button type="submit" { (lang.t("Save")) }
        }
        form.card method="post" action={"/web/users/" (ext) "/remove"} {
            (csrf(s))
            button.quiet type="submit" { (lang.t("Remove")) }
        }
    };
    let title = format!("{} {ext}", lang.t("Extension"));
    let status = super::layout::status_of(errors);
    Ok((status, page(s, "/web/users", &title, body)).into_response())
}

pub async fn user(
    State(state): S,
    s: Session,
    Path(ext): Path<String>,
) -> Result<Response, WebError> {
    user_page(&state, &s, &ext, (false, &Errors::new())).await
}

pub async fn save_user(
    State(state): S,
    s: Session,
    Path(ext): Path<String>,
    Form(f): Fields,
) -> Result<Response, WebError> {
    s.check(f.get("csrf").map(String::as_str))?;
    let tenant = s.admin()?;
    let line = ext.clone();
    if state
        .store
        .call(move |st| st.line(tenant, &line))
        .await?
        .is_none()
    {
        return Err(WebError::NotFound(s.lang()));
    }
    // The password is checked before anything is saved.
    let short = f
        .get("password")
        .is_some_and(|p| !p.is_empty() && p.len() < 6);
    let mut errors = if short {
        Errors::from([(
            "password",
            "a password needs at least 6 characters".to_owned(),
        )])
    } else {
        save_line_settings(&state, tenant, &ext, false, &f).await?
    };
    if errors.is_empty() {
        let t = super::tenant_of(&state, tenant).await?;
        let tid = t.id;
        let name = f.get("name").cloned();
        let password = f.get("password").filter(|p| !p.is_empty()).cloned();
        let line = ext.clone();
        let done = state
            .store
            .call(move |st| {
                st.set_line_name(t.id, &line, name.as_deref())?;
                if let Some(p) = &password {
                    st.set_password(&t, &line, p)?;
                }
                Ok(())
            })
            .await;
        match done {
            // The running line checks the new password from now on.
            Ok(()) => crate::api::admin::devices_changed(&state, tid, &ext),
            Err(e) => errors = store_refusal(e)?,
        }
    }
    let saved = errors.is_empty();
    user_page(&state, &s, &ext, (saved, &errors)).await
}

pub async fn remove_user(
    State(state): S,
    s: Session,
    Path(ext): Path<String>,
    Form(f): Fields,
) -> Result<Response, WebError> {
    s.check(f.get("csrf").map(String::as_str))?;
    let tenant = s.admin()?;
    let line = ext.clone();
    match state
        .store
        .call(move |st| st.remove_line(tenant, &line))
        .await
    {
        Ok(()) => {
            crate::api::removal::line_removed(&state, tenant, ext).await;
            Ok(Redirect::to("/web/users").into_response())
        }
        Err(e) => {
            let errors = store_refusal(e)?;
            user_page(&state, &s, &ext, (false, &errors)).await
        }
    }
}
