//! The frame of every page (navigation by role, language switch, sign-out), the
//! form helpers that show a refusal next to its field, and the error pages.

use std::collections::HashMap;

use actors::store::WebRole;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::i18n::Lang;
use super::session::Session;

/// Refusals by form field.
pub type Errors = HashMap<&'static str, String>;

/// Why a page is not shown.
#[derive(Debug)]
pub enum WebError {
    /// Not this account's (another tenant's, another role's) or not there: 404.
    NotFound(Lang),
    /// A form without this session's CSRF token: 403.
    Csrf(Lang),
    Internal,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, lang, text) = match self {
            WebError::NotFound(l) => (StatusCode::NOT_FOUND, l, "Page not found."),
            WebError::Csrf(l) => (
                StatusCode::FORBIDDEN,
                l,
                "The form's security token is missing or stale: reload the page and try again.",
            ),
            WebError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                Lang::En,
                "The switch could not do that.",
            ),
        };
        let body = html! { p.error role="alert" { (lang.t(text)) } p { a href="/web/" { "←" } } };
        (status, bare_page(lang, lang.t(text), body)).into_response()
    }
}

impl From<actors::Error> for WebError {
    fn from(e: actors::Error) -> Self {
        tracing::error!(error = %e, "web page failed");
        WebError::Internal
    }
}

const CSS: &str = include_str!("assets/app.css");

fn head(title: &str) -> Markup {
    html! {
        meta charset="utf-8";
        meta name="viewport" content="width=device-width, initial-scale=1";
        title { (title) " · pbx" }
        style { (PreEscaped(CSS)) }
    }
}

/// A page without navigation (sign-in, errors).
pub fn bare_page(lang: Lang, title: &str, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang=(lang.code()) {
                head { (head(title)) }
                body { main.narrow { (body) } }
            }
        }
        .into_string(),
    )
}

/// The navigation of `role`: (path, text).
fn nav(role: &WebRole) -> &'static [(&'static str, &'static str)] {
    match role {
        WebRole::Operator => &[("/web/tenants", "Tenants")],
        WebRole::Admin { .. } => &[
            ("/web/users", "Users"),
            ("/web/devices", "Devices"),
            ("/web/groups", "Hunt groups"),
            ("/web/queues", "Queues"),
            ("/web/ivrs", "IVR menus"),
            ("/web/schedules", "Schedules"),
            ("/web/plan", "Plan"),
            ("/web/trunks", "Trunks"),
            ("/web/prompts", "Prompts"),
            ("/web/journal", "Journal"),
            ("/web/statistics", "Statistics"),
            ("/web/monitor", "Live monitor"),
        ],
        WebRole::User { .. } => &[
            ("/web/me", "My settings"),
            ("/web/me/voicemail", "Voicemail"),
            ("/web/me/journal", "My calls"),
        ],
    }
}

/// A page of the signed-in account: `here` is its path (marked in the navigation,
/// and where a language change returns to).
pub fn page(s: &Session, here: &str, title: &str, body: Markup) -> Html<String> {
    let lang = s.lang();
    Html(
        html! {
            (DOCTYPE)
            html lang=(lang.code()) {
                head { (head(title)) }
                body {
                    header {
                        strong.brand { "pbx" }
                        nav {
                            @for (path, text) in nav(&s.account.role) {
                                a href=(path) class=[(here.starts_with(path)).then_some("here")] { (lang.t(text)) }
                            }
                        }
                        span.who { (s.account.login) }
                        form.inline method="post" action="/web/language" {
                            (csrf(s))
                            input type="hidden" name="back" value=(here);
                            select name="language" aria-label=(lang.t("Language")) onchange="this.form.submit()" {
                                option value="en" selected[lang == Lang::En] { "English" }
                                option value="de" selected[lang == Lang::De] { "Deutsch" }
                            }
                        }
                        form.inline method="post" action="/web/sign-out" {
                            (csrf(s))
                            button type="submit" { (lang.t("Sign out")) }
                        }
                    }
                    main {
                        h1 { (title) }
                        (body)
                    }
                }
            }
        }
        .into_string(),
    )
}

/// The hidden CSRF field of a form.
pub fn csrf(s: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(s.csrf); }
}

/// A labelled input with its refusal (if any) next to it.
pub fn field(
    lang: Lang,
    (label, name): (&'static str, &'static str),
    value: &str,
    kind: &str,
    errors: &Errors,
) -> Markup {
    let error = errors.get(name);
    html! {
        label class=[error.map(|_| "invalid")] {
            (lang.t(label))
            input name=(name) type=(kind) value=(value) aria-invalid=[error.map(|_| "true")];
            @if let Some(e) = error { span.error data-field=(name) { (e) } }
        }
    }
}

/// A notice above a form: saved, or refused.
pub fn notice(lang: Lang, saved: bool, errors: &Errors) -> Markup {
    html! {
        @if !errors.is_empty() {
            p.error role="alert" { (lang.t("Nothing was saved: see the fields marked.")) }
            @if let Some(e) = errors.get("form") { p.error { (e) } }
        } @else if saved {
            p.ok role="status" { (lang.t("Saved.")) }
        }
    }
}

/// A page with a form: 422 when its refusals are shown, else 200.
pub fn status_of(errors: &Errors) -> StatusCode {
    if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

/// Milliseconds as `m:ss` (or `h:mm:ss`).
pub fn duration(ms: u64) -> String {
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// Unix milliseconds as a UTC date and time.
pub fn when(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// A refused API-style request as a refusal next to its field (`form` when it names
/// none).
pub fn refusal(e: crate::api::ApiError) -> Result<Errors, WebError> {
    if e.status == StatusCode::UNPROCESSABLE_ENTITY || e.status == StatusCode::FORBIDDEN {
        Ok(Errors::from([(e.field.unwrap_or("form"), e.error)]))
    } else if e.status == StatusCode::NOT_FOUND {
        Err(WebError::NotFound(Lang::En))
    } else {
        Err(WebError::Internal)
    }
}

/// A store refusal as a refusal next to its field.
pub fn store_refusal(e: actors::Error) -> Result<Errors, WebError> {
    refusal(e.into())
}
