//! The operator's tenants: listed with their domains and line counts, added (with
//! their first administrator's sign-in), removed.

use std::collections::HashMap;
use std::sync::Arc;

use actors::store::WebRole;
use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::layout::{csrf, field, notice, page, store_refusal, Errors, WebError};
use super::session::{hash_password, Session};
use crate::api::ApiState;

type Fields = Form<HashMap<String, String>>;

async fn tenants_page(
    state: &ApiState,
    s: &Session,
    values: &HashMap<String, String>,
    errors: &Errors,
) -> Result<Response, WebError> {
    s.operator()?;
    let lang = s.lang();
    let list = state
        .store
        .call(|st| {
            let mut out = Vec::new();
            for t in st.tenants()? {
                let n = st.extensions(t.id)?.len();
                out.push((t, n));
            }
            Ok(out)
        })
        .await?;
    let v = |k: &str| values.get(k).map(String::as_str).unwrap_or_default();
    let body = html! {
        table #tenants {
            thead { tr { th { (lang.t("Name")) } th { (lang.t("Domains")) } th { (lang.t("Lines")) } th {} } }
            tbody { @for (t, n) in &list {
                tr { td { (t.name) } td { (t.domains.join(", ")) } td { (n) }
                     td { form.inline method="post" action={"/web/tenants/" (t.name) "/remove"} {
                         (csrf(s)) button.quiet type="submit" { (lang.t("Remove")) } } } }
            } }
        }
        form.card method="post" action="/web/tenants" {
            h2 { (lang.t("Add")) }
            (notice(lang, false, errors))
            (csrf(s))
            (field(lang, ("Name", "name"), v("name"), "text", errors))
            (field(lang, ("Domains", "domains"), v("domains"), "text", errors))
            (field(lang, ("Login", "login"), v("login"), "text", errors))
            (field(lang, ("Web password", "web_password"), "", "password", errors))
            button type="submit" { (lang.t("Add")) }
        }
    };
    let status = super::layout::status_of(errors);
    Ok((status, page(s, "/web/tenants", lang.t("Tenants"), body)).into_response())
}

pub async fn tenants(State(state): State<Arc<ApiState>>, s: Session) -> Result<Response, WebError> {
    tenants_page(&state, &s, &HashMap::new(), &Errors::new()).await
}

pub async fn add(
    State(state): State<Arc<ApiState>>,
    s: Session,
    Form(f): Fields,
) -> Result<Response, WebError> {
    s.check(f.get("csrf").map(String::as_str))?;
    s.operator()?;
    let g = |k: &str| f.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let domains: Vec<String> = g("domains")
        .split([',', ' '])
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .collect();
    let (name, login) = (g("name"), g("login"));
    let password = f.get("web_password").cloned().unwrap_or_default();
    let errors = if login.is_empty() {
        Errors::from([(
            "login",
            "the tenant's first administrator needs a login".to_owned(),
        )])
    } else if password.len() < 8 {
        Errors::from([(
            "web_password",
            "a web password has at least 8 characters".to_owned(),
        )])
    } else {
        let hash = hash_password(password).await;
        let done = state
            .store
            .call(move |st| {
                let t = st.add_tenant(&name, &domains)?;
                let role = WebRole::Admin { tenant: t.id };
                if let Err(e) =
                    st.add_web_account(&login, &role, &hash, "en", actors::clock::unix_millis())
                {
                    st.remove_tenant(&t.name)?;
                    return Err(e);
                }
                Ok(())
            })
            .await;
        match done {
            Ok(()) => return Ok(Redirect::to("/web/tenants").into_response()),
            Err(e) => store_refusal(e)?,
        }
    };
    tenants_page(&state, &s, &f, &errors).await
}

pub async fn remove(
    State(state): State<Arc<ApiState>>,
    s: Session,
    Path(name): Path<String>,
    Form(f): Fields,
) -> Result<Response, WebError> {
    s.check(f.get("csrf").map(String::as_str))?;
    s.operator()?;
    let n = name.clone();
    let id = state
        .store
        .call(move |st| {
            Ok(st
                .tenants()?
                .into_iter()
                .find(|t| t.name == n)
                .map(|t| t.id))
        })
        .await?;
    let Some(id) = id else {
        return Err(WebError::NotFound(s.lang()));
    };
    state.store.call(move |st| st.remove_tenant(&name)).await?;
    crate::api::removal::tenant_removed(&state, id);
    Ok(Redirect::to("/web/tenants").into_response())
}
