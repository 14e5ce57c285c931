//! The plan's entries as pages: hunt groups, queues (with their agents' logins), IVR
//! menus and schedules, each listed with a form that adds or changes one entry by its
//! key (`Store::put_plan_entry`, the whole plan's checks), and removes it. A refusal
//! lands next to the field it is about (members, schedule, overflow, choices,
//! announcement). The schedules page previews what happens to a call to a number at
//! a time, as `pbx route` tells it.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde_json::{json, Value};

use super::layout::{csrf, field, notice, page, store_refusal, Errors, WebError};
use super::session::Session;
use crate::api::ApiState;

type S = State<Arc<ApiState>>;
type Fields = Form<HashMap<String, String>>;

/// A comma- or space-separated list.
fn list(s: &str) -> Vec<String> {
    s.split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

fn text(v: &Value, k: &str) -> String {
    match &v[k] {
        Value::String(s) => s.clone(),
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The form field a plan refusal is about, by what it names.
fn field_of(why: &str, fields: &[(&'static str, &'static str)]) -> &'static str {
    fields
        .iter()
        .find(|(word, _)| why.contains(word))
        .map_or("form", |(_, f)| f)
}

/// Puts entry `key` of `section`; the refusals by field.
async fn put(
    state: &ApiState,
    s: &Session,
    (section, key): (&'static str, String),
    entry: Value,
    words: &[(&'static str, &'static str)],
) -> Result<Errors, WebError> {
    let id = s.admin()?;
    let tenant = super::tenant_of(state, id).await?;
    let dir = state.files_dir.clone();
    if key.is_empty() {
        return Ok(Errors::from([(
            "number",
            "a number or name is required".to_owned(),
        )]));
    }
    match state
        .store
        .call(move |st| st.put_plan_entry(&tenant, (section, &key), entry, &dir))
        .await
    {
        Ok(_) => {
            crate::api::admin::config_changed(state, id);
            Ok(Errors::new())
        }
        Err(actors::Error::Field { field, why }) if field == section => {
            Ok(Errors::from([(field_of(&why, words), why)]))
        }
        Err(e) => store_refusal(e),
    }
}

async fn entries(
    state: &ApiState,
    s: &Session,
    section: &'static str,
) -> Result<Vec<Value>, WebError> {
    let id = s.admin()?;
    let tenant = super::tenant_of(state, id).await?;
    Ok(state
        .store
        .call(move |st| st.plan_entries(&tenant, section))
        .await?)
}

fn remove_button(s: &Session, section: &str, key: &str, back: &str) -> Markup {
    html! {
        form.inline method="post" action="/web/plan/remove" {
            (csrf(s))
            input type="hidden" name="section" value=(section);
            input type="hidden" name="key" value=(key);
            input type="hidden" name="back" value=(back);
            button.quiet type="submit" { (s.lang().t("Remove")) }
        }
    }
}

fn respond(
    s: &Session,
    here: &str,
    title: &'static str,
    errors: &Errors,
    body: Markup,
) -> Response {
    let status = super::layout::status_of(errors);
    (status, page(s, here, s.lang().t(title), body)).into_response()
}

// ---- hunt groups ----

const GROUP_WORDS: &[(&str, &str)] = &[
    ("member", "members"),
    ("schedule", "schedule"),
    ("forward", "forward"),
];

async fn groups_page(
    state: &ApiState,
    s: &Session,
    values: &HashMap<String, String>,
    errors: &Errors,
) -> Result<Response, WebError> {
    let lang = s.lang();
    let list = entries(state, s, "groups").await?;
    let v = |k: &str| values.get(k).map(String::as_str).unwrap_or_default();
    let body = html! {
        table #groups {
            thead { tr { th { (lang.t("Number")) } th { (lang.t("Name")) } th { (lang.t("Strategy")) } th { (lang.t("Members")) } th {} } }
            tbody { @for g in &list {
                @let n = text(g, "number");
                tr { td { (n) } td { (text(g, "name")) } td { (g["strategy"]["kind"].as_str().unwrap_or("parallel")) }
                     td { (text(g, "members")) } td { (remove_button(s, "groups", &n, "/web/groups")) } }
            } }
        }
        form.card method="post" action="/web/groups" {
            h2 { (lang.t("Add")) " / " (lang.t("Save")) }
            (notice(lang, false, errors))
            (csrf(s))
            (field(lang, ("Number", "number"), v("number"), "text", errors))
            (field(lang, ("Name", "name"), v("name"), "text", errors))
            label { (lang.t("Strategy")) select name="strategy" {
                @for x in ["parallel", "sequential", "queue"] { option selected[v("strategy") == x] { (x) } } } }
            (field(lang, ("Members", "members"), v("members"), "text", errors))
            (field(lang, ("Schedules", "schedule"), v("schedule"), "text", errors))
            button type="submit" { (lang.t("Save")) }
        }
    };
    Ok(respond(s, "/web/groups", "Hunt groups", errors, body))
}

pub async fn groups(State(state): S, s: Session) -> Result<Response, WebError> {
    groups_page(&state, &s, &HashMap::new(), &Errors::new()).await
}

pub async fn save_group(
    State(state): S,
    s: Session,
    Form(f): Fields,
) -> Result<Response, WebError> {
    s.check(f.get("csrf").map(String::as_str))?;
    let g = |k: &str| f.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let strategy = match g("strategy").as_str() {
        "sequential" => json!({"kind": "sequential", "ring_seconds": 15}),
        "queue" => json!({"kind": "queue"}),
        _ => json!({"kind": "parallel"}),
    };
    let mut entry =
        json!({"name": g("name"), "strategy": strategy, "members": list(&g("members"))});
    if !g("schedule").is_empty() {
        entry["schedule"] = json!(g("schedule"));
    }
    let errors = put(&state, &s, ("groups", g("number")), entry, GROUP_WORDS).await?;
    if errors.is_empty() {
        return Ok(Redirect::to("/web/groups").into_response());
    }
    groups_page(&state, &s, &f, &errors).await
}

// ---- queues and their agents ----

const QUEUE_WORDS: &[(&str, &str)] = &[
    ("member", "members"),
    ("overflow", "overflow"),
    ("schedule", "schedule"),
];

async fn queues_page(
    state: &ApiState,
    s: &Session,
    values: &HashMap<String, String>,
    errors: &Errors,
) -> Result<Response, WebError> {
    let lang = s.lang();
    let id = s.admin()?;
    let list = entries(state, s, "queues").await?;
    let logins = state.store.call(move |st| st.agent_logins(id)).await?;
    let v = |k: &str| values.get(k).map(String::as_str).unwrap_or_default();
    let body = html! {
        table #queues {
            thead { tr { th { (lang.t("Number")) } th { (lang.t("Name")) } th { (lang.t("Overflow to")) } th { (lang.t("Agents")) } th {} } }
            tbody { @for q in &list {
                @let n = text(q, "number");
                tr { td { (n) } td { (text(q, "name")) } td { (text(q, "overflow")) }
                     td { @for a in logins.iter().filter(|a| a.group == n) {
                        form.inline method="post" action="/web/queues/agent" {
                            (csrf(s))
                            input type="hidden" name="queue" value=(n);
                            input type="hidden" name="ext" value=(a.ext);
                            input type="hidden" name="logged_in" value=(if a.logged_in { "off" } else { "on" });
                            button.quiet type="submit" title=(if a.logged_in { lang.t("Log out") } else { lang.t("Log in") }) {
                                (a.ext) " " (if a.logged_in { "●" } else { "○" }) }
                        } " "
                     } }
                     td { (remove_button(s, "queues", &n, "/web/queues")) } }
            } }
        }
        form.card method="post" action="/web/queues" {
            h2 { (lang.t("Add")) " / " (lang.t("Save")) }
            (notice(lang, false, errors))
            (csrf(s))
            (field(lang, ("Number", "number"), v("number"), "text", errors))
            (field(lang, ("Name", "name"), v("name"), "text", errors))
            (field(lang, ("Members", "members"), v("members"), "text", errors))
            (field(lang, ("Overflow to", "overflow"), v("overflow"), "text", errors))
            button type="submit" { (lang.t("Save")) }
        }
    };
    Ok(respond(s, "/web/queues", "Queues", errors, body))
}

pub async fn queues(State(state): S, s: Session) -> Result<Response, WebError> {
    queues_page(&state, &s, &HashMap::new(), &Errors::new()).await
}

pub async fn save_queue(
    State(state): S,
    s: Session,
    Form(f): Fields,
) -> Result<Response, WebError> {
    s.check(f.get("csrf").map(String::as_str))?;
    let g = |k: &str| f.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let mut entry = json!({"name": g("name"), "members": list(&g("members"))});
    if !g("overflow").is_empty() {
        entry["overflow"] = json!(g("overflow"));
    }
    let errors = put(&state, &s, ("queues", g("number")), entry, QUEUE_WORDS).await?;
    if errors.is_empty() {
        return Ok(Redirect::to("/web/queues").into_response());
    }
    queues_page(&state, &s, &f, &errors).await
}

/// An agent logged in or out of a queue by the administrator.
pub async fn agent(State(state): S, s: Session, Form(f): Fields) -> Result<Response, WebError> {
    s.check(f.get("csrf").map(String::as_str))?;
    let tenant = s.admin()?;
    let (queue, ext) = (
        f.get("queue").cloned().unwrap_or_default(),
        f.get("ext").cloned().unwrap_or_default(),
    );
    let on = f.get("logged_in").is_some_and(|v| v == "on");
    let _ = state
        .store
        .call(move |st| st.set_agent_login(tenant, &ext, Some(&queue), on))
        .await;
    Ok(Redirect::to("/web/queues").into_response())
}

// ---- IVR menus ----

const IVR_WORDS: &[(&str, &str)] = &[
    ("choice", "choices"),
    ("prompt", "announcement"),
    ("announcement", "announcement"),
    ("drop-off", "drop_off"),
    ("schedule", "schedule"),
];

/// `1=200, 2=300` as the menu's choices.
fn choices(s: &str) -> Result<serde_json::Map<String, Value>, String> {
    let mut out = serde_json::Map::new();
    for c in list(s) {
        let (digit, to) = c
            .split_once('=')
            .ok_or_else(|| format!("{c:?}: DIGIT=NUMBER"))?;
        out.insert(digit.trim().into(), json!(to.trim()));
    }
    Ok(out)
}

async fn ivrs_page(
    state: &ApiState,
    s: &Session,
    values: &HashMap<String, String>,
    errors: &Errors,
) -> Result<Response, WebError> {
    let lang = s.lang();
    let list = entries(state, s, "ivrs").await?;
    let id = s.admin()?;
    let tenant = super::tenant_of(state, id).await?;
    let prompts = actors::tenant::prompts::list(&state.files_dir, &tenant.name).unwrap_or_default();
    let v = |k: &str| values.get(k).map(String::as_str).unwrap_or_default();
    let shown = |m: &Value| {
        m["choices"]
            .as_object()
            .map(|c| {
                c.iter()
                    .map(|(d, t)| format!("{d}={}", t.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    let body = html! {
        table #ivrs {
            thead { tr { th { (lang.t("Number")) } th { (lang.t("Name")) } th { (lang.t("Announcement")) } th { (lang.t("Choices")) } th {} } }
            tbody { @for m in &list {
                @let n = text(m, "number");
                tr { td { (n) } td { (text(m, "name")) } td { (text(m, "announcement")) } td { (shown(m)) }
                     td { (remove_button(s, "ivrs", &n, "/web/ivrs")) } }
            } }
        }
        form.card method="post" action="/web/ivrs" {
            h2 { (lang.t("Add")) " / " (lang.t("Save")) }
            (notice(lang, false, errors))
            (csrf(s))
            (field(lang, ("Number", "number"), v("number"), "text", errors))
            (field(lang, ("Name", "name"), v("name"), "text", errors))
            label class=[errors.get("announcement").map(|_| "invalid")] { (lang.t("Announcement"))
                select name="announcement" { option value="" { "–" }
                    @for (p, _) in &prompts { option selected[v("announcement") == p] { (p) } } }
                @if let Some(e) = errors.get("announcement") { span.error data-field="announcement" { (e) } } }
            (field(lang, ("Choices", "choices"), v("choices"), "text", errors))
            button type="submit" { (lang.t("Save")) }
        }
    };
    Ok(respond(s, "/web/ivrs", "IVR menus", errors, body))
}

pub async fn ivrs(State(state): S, s: Session) -> Result<Response, WebError> {
    ivrs_page(&state, &s, &HashMap::new(), &Errors::new()).await
}

pub async fn save_ivr(State(state): S, s: Session, Form(f): Fields) -> Result<Response, WebError> {
    s.check(f.get("csrf").map(String::as_str))?;
    let g = |k: &str| f.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let errors = match choices(&g("choices")) {
        Err(why) => Errors::from([("choices", why)]),
        Ok(c) => {
            let mut entry = json!({"name": g("name"), "choices": c});
            if !g("announcement").is_empty() {
                entry["announcement"] = json!(g("announcement"));
            }
            put(&state, &s, ("ivrs", g("number")), entry, IVR_WORDS).await?
        }
    };
    if errors.is_empty() {
        return Ok(Redirect::to("/web/ivrs").into_response());
    }
    ivrs_page(&state, &s, &f, &errors).await
}

// ---- schedules and the routing preview ----

#[derive(serde::Deserialize, Default)]
pub struct Preview {
    to: Option<String>,
    from: Option<String>,
    at: Option<String>,
}

async fn schedules_page(
    state: &ApiState,
    s: &Session,
    values: &HashMap<String, String>,
    errors: &Errors,
    preview: &Preview,
) -> Result<Response, WebError> {
    let lang = s.lang();
    let list = entries(state, s, "schedules").await?;
    let id = s.admin()?;
    let v = |k: &str| values.get(k).map(String::as_str).unwrap_or_default();
    // "What happens to a call to N at T": the `pbx route` answer.
    let answer = match &preview.to {
        Some(to) if !to.trim().is_empty() => {
            let tenant = super::tenant_of(state, id).await?;
            let (to, from) = (
                to.trim().to_owned(),
                preview
                    .from
                    .clone()
                    .filter(|f| !f.trim().is_empty())
                    .unwrap_or_else(|| "+4930555000".into()),
            );
            let at = preview
                .at
                .clone()
                .filter(|a| !a.trim().is_empty())
                .map(|a| local_time(&a));
            Some(
                state
                    .store
                    .call(move |st| {
                        let compiled = compiled_plan(st, &tenant)?;
                        Ok(match compiled.as_deref() {
                            Some((plan, router)) => crate::cli::route::explain_on(
                                st,
                                &tenant,
                                (plan, router),
                                (&from, &to),
                                (at.as_deref(), false),
                            )
                            .unwrap_or_else(|e| e.to_string()),
                            None => "no plan".to_owned(),
                        })
                    })
                    .await?,
            )
        }
        _ => None,
    };
    let body = html! {
        table #schedules {
            thead { tr { th { (lang.t("Name")) } th { "JSON" } th {} } }
            tbody { @for e in &list {
                @let n = text(e, "name");
                tr { td { (n) } td { code { (e.to_string()) } } td { (remove_button(s, "schedules", &n, "/web/schedules")) } }
            } }
        }
        form.card method="post" action="/web/schedules" {
            h2 { (lang.t("Add")) " / " (lang.t("Save")) }
            (notice(lang, false, errors))
            (csrf(s))
            (field(lang, ("Name", "name"), v("name"), "text", errors))
            label class=[errors.get("entry").map(|_| "invalid")] { "JSON (closed, holidays, when_closed)"
                textarea name="entry" rows="6" cols="70" { (v("entry")) }
                @if let Some(e) = errors.get("entry") { span.error data-field="entry" { (e) } } }
            button type="submit" { (lang.t("Save")) }
        }
        form.card method="get" action="/web/schedules" id="preview" {
            h2 { (lang.t("What happens to a call")) }
            label { (lang.t("To")) input name="to" value=(preview.to.clone().unwrap_or_default()); }
            label { (lang.t("From")) input name="from" value=(preview.from.clone().unwrap_or_default()) placeholder="+4930555000"; }
            label { (lang.t("at")) input name="at" type="datetime-local" value=(preview.at.clone().unwrap_or_default()); }
            button type="submit" { (lang.t("Show")) }
            @if let Some(a) = &answer { pre #route { (a) } }
        }
    };
    Ok(respond(s, "/web/schedules", "Schedules", errors, body))
}

/// The tenant's plan as routing reads it, compiled; kept while the plan and the
/// lines are unchanged (`Store::plan_version`), since compiling thousands of
/// extensions takes longer than a page may.
type Compiled = Option<Arc<(dialplan::TenantPlan, dialplan::Router)>>;

fn compiled_plan(
    st: &actors::store::Store,
    tenant: &actors::store::Tenant,
) -> actors::Result<Compiled> {
    type Cache =
        std::sync::Mutex<HashMap<actors::store::TenantId, (actors::store::PlanVersion, Compiled)>>;
    static CACHE: std::sync::OnceLock<Cache> = std::sync::OnceLock::new();
    let version = st.plan_version(tenant.id)?;
    let cache = CACHE.get_or_init(Default::default);
    if let Some((v, c)) = cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&tenant.id)
    {
        if *v == version {
            return Ok(c.clone());
        }
    }
    let compiled = st
        .tenant_plan(tenant.id)?
        .and_then(|p| dialplan::Router::new(&p).ok().map(|r| Arc::new((p, r))));
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(tenant.id, (version, compiled.clone()));
    Ok(compiled)
}

/// A browser's `datetime-local` (no zone) as RFC 3339 in UTC; RFC 3339 as it is.
fn local_time(at: &str) -> String {
    if chrono::DateTime::parse_from_rfc3339(at).is_ok() {
        return at.to_owned();
    }
    let with_secs = if at.len() == 16 {
        format!("{at}:00")
    } else {
        at.to_owned()
    };
    format!("{with_secs}+00:00")
}

pub async fn schedules(
    State(state): S,
    s: Session,
    Query(p): Query<Preview>,
) -> Result<Response, WebError> {
    schedules_page(&state, &s, &HashMap::new(), &Errors::new(), &p).await
}

pub async fn save_schedule(
    State(state): S,
    s: Session,
    Form(f): Fields,
) -> Result<Response, WebError> {
    s.check(f.get("csrf").map(String::as_str))?;
    let name = f
        .get("name")
        .map(|v| v.trim().to_owned())
        .unwrap_or_default();
    let errors =
        match serde_json::from_str::<Value>(f.get("entry").map(String::as_str).unwrap_or("{}")) {
            Err(e) => Errors::from([("entry", format!("not JSON: {e}"))]),
            Ok(entry) => put(&state, &s, ("schedules", name), entry, &[("", "entry")]).await?,
        };
    if errors.is_empty() {
        return Ok(Redirect::to("/web/schedules").into_response());
    }
    schedules_page(&state, &s, &f, &errors, &Preview::default()).await
}

/// Removes an entry of the plan; refused (the rest refers to it), the page says why.
pub async fn remove_entry(
    State(state): S,
    s: Session,
    Form(f): Fields,
) -> Result<Response, WebError> {
    s.check(f.get("csrf").map(String::as_str))?;
    let id = s.admin()?;
    let g = |k: &str| f.get(k).cloned().unwrap_or_default();
    let (section, key, back) = (g("section"), g("key"), g("back"));
    let tenant = super::tenant_of(&state, id).await?;
    let dir = state.files_dir.clone();
    let done = state
        .store
        .call(move |st| st.remove_plan_entry(&tenant, (&section, &key), &dir))
        .await;
    let errors = match done {
        Ok(_) => {
            crate::api::admin::config_changed(&state, id);
            return Ok(Redirect::to(if back.starts_with("/web/") {
                &back
            } else {
                "/web/"
            })
            .into_response());
        }
        Err(e) => {
            let mut errors = store_refusal(e)?;
            if let Some(why) = errors.remove(g("section").as_str()) {
                errors.insert("form", why);
            }
            errors
        }
    };
    let none = HashMap::new();
    match back.as_str() {
        "/web/queues" => queues_page(&state, &s, &none, &errors).await,
        "/web/ivrs" => ivrs_page(&state, &s, &none, &errors).await,
        "/web/schedules" => schedules_page(&state, &s, &none, &errors, &Preview::default()).await,
        _ => groups_page(&state, &s, &none, &errors).await,
    }
}
