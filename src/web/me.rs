//! A user's own pages: their line's settings (forwarding, do not disturb, the number
//! shown), agent login in their groups and queues, the voicemail PIN; their messages
//! (played in the browser, marked heard, deleted: the phone's lamp follows); their
//! calls.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Form, Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::layout::{csrf, duration, field, notice, page, store_refusal, when, Errors, WebError};
use super::session::Session;
use super::settings::{line_settings, save_line_settings};
use crate::api::ApiState;

type Fields = Form<HashMap<String, String>>;

async fn me_page(
    state: &ApiState,
    s: &Session,
    (saved, errors): (bool, &Errors),
) -> Result<Response, WebError> {
    let (tenant, line) = s.user()?;
    let lang = s.lang();
    let ext = line.clone();
    let (features, logins) = state
        .store
        .call(move |st| Ok((st.line_features(tenant, &ext)?, st.agent_logins(tenant)?)))
        .await?;
    let mine: Vec<_> = logins.into_iter().filter(|a| a.ext == line).collect();
    let body = html! {
        form.card method="post" action="/web/me" id="settings" {
            (notice(lang, saved, errors))
            (csrf(s))
            (line_settings(lang, &features, errors))
            (field(lang, ("Voicemail PIN", "pin"), "", "password", errors))
            button type="submit" { (lang.t("Save")) }
        }
        @if !mine.is_empty() {
            section.card #agent {
                h2 { (lang.t("Agent login")) }
                @for a in &mine {
                    form.inline method="post" action="/web/me" {
                        (csrf(s))
                        input type="hidden" name="agent_group" value=(a.group);
                        input type="hidden" name="agent_on" value=(if a.logged_in { "off" } else { "on" });
                        (a.group) " (" (a.kind) "): " (if a.logged_in { lang.t("logged in") } else { lang.t("logged out") }) " "
                        button.quiet type="submit" { (if a.logged_in { lang.t("Log out") } else { lang.t("Log in") }) }
                    }
                    br;
                }
            }
        }
    };
    let status = super::layout::status_of(errors);
    let title = format!("{} · {}", lang.t("My settings"), s.user()?.1);
    Ok((status, page(s, "/web/me", &title, body)).into_response())
}

pub async fn me(State(state): State<Arc<ApiState>>, s: Session) -> Result<Response, WebError> {
    me_page(&state, &s, (false, &Errors::new())).await
}

pub async fn save(
    State(state): State<Arc<ApiState>>,
    s: Session,
    Form(f): Fields,
) -> Result<Response, WebError> {
    s.check(f.get("csrf").map(String::as_str))?;
    let (tenant, line) = s.user()?;
    if let Some(group) = f.get("agent_group").cloned() {
        let on = f.get("agent_on").is_some_and(|v| v == "on");
        let ext = line.clone();
        let _ = state
            .store
            .call(move |st| st.set_agent_login(tenant, &ext, Some(&group), on))
            .await;
        return Ok(Redirect::to("/web/me").into_response());
    }
    let mut errors = save_line_settings(&state, tenant, &line, true, &f).await?;
    if let Some(pin) = f.get("pin").filter(|p| !p.is_empty()).cloned() {
        if errors.is_empty() {
            let ext = line.clone();
            if let Err(e) = state
                .store
                .call(move |st| st.set_voicemail_pin(tenant, &ext, &pin))
                .await
            {
                errors = store_refusal(e)?;
                if let Some(why) = errors.remove("form") {
                    errors.insert("pin", why);
                }
            }
        }
    }
    let saved = errors.is_empty();
    me_page(&state, &s, (saved, &errors)).await
}

pub async fn voicemail(
    State(state): State<Arc<ApiState>>,
    s: Session,
) -> Result<Response, WebError> {
    let (tenant, line) = s.user()?;
    let lang = s.lang();
    let messages = state
        .store
        .call(move |st| st.voicemail_messages(tenant, Some(&line)))
        .await?;
    let body = html! {
        (greeting_form(&s, &Errors::new(), false))
        @if messages.is_empty() { p { (lang.t("No messages.")) } }
        table #messages {
            tbody { @for m in messages.iter().filter(|m| m.state != "recording") {
                tr data-id=(m.id) {
                    td { (when(m.received_at)) } td { (m.caller) } td { (duration(m.duration_ms)) }
                    td { (if m.state == "new" { lang.t("new") } else { lang.t("heard") }) }
                    td { audio controls preload="none" src={"/web/me/voicemail/" (m.id)} {} }
                    td { form.inline method="post" action="/web/me/voicemail" {
                        (csrf(&s))
                        input type="hidden" name="id" value=(m.id);
                        @if m.state == "new" { button.quiet type="submit" name="action" value="heard" { "✓ " (lang.t("heard")) } " " }
                        button.quiet type="submit" name="action" value="delete" { (lang.t("Delete")) }
                    } }
                }
            } }
        }
    };
    Ok(page(&s, "/web/me/voicemail", lang.t("Voicemail"), body).into_response())
}

fn greeting_form(s: &Session, errors: &Errors, saved: bool) -> maud::Markup {
    let lang = s.lang();
    html! {
        form.card method="post" action="/web/me/greeting" enctype="multipart/form-data" id="greeting" {
            h2 { (lang.t("Greeting")) }
            (notice(lang, saved, errors))
            (csrf(s))
            label class=[errors.get("file").map(|_| "invalid")] { (lang.t("WAV file"))
                input type="file" name="file" accept=".wav,audio/wav";
                @if let Some(e) = errors.get("file") { span.error data-field="file" { (e) } } }
            button type="submit" { (lang.t("Upload")) }
        }
    }
}

/// The mailbox's own greeting, uploaded as WAV and checked as every prompt is (kept
/// as the tenant's prompt `greeting-<line>`, which the mailbox plays).
pub async fn greeting(
    State(state): State<Arc<ApiState>>,
    s: Session,
    mut form: axum::extract::Multipart,
) -> Result<Response, WebError> {
    let (mut token, mut wav) = (None, Vec::new());
    while let Ok(Some(part)) = form.next_field().await {
        match part.name().unwrap_or_default() {
            "csrf" => token = part.text().await.ok(),
            "file" => wav = part.bytes().await.map(|b| b.to_vec()).unwrap_or_default(),
            _ => {}
        }
    }
    s.check(token.as_deref())?;
    let (tenant, line) = s.user()?;
    let t = super::tenant_of(&state, tenant).await?;
    let errors = if wav.is_empty() {
        Errors::from([("file", "choose a WAV file".to_owned())])
    } else {
        match actors::tenant::prompts::add_bytes(
            &state.files_dir,
            &t.name,
            &format!("greeting-{line}"),
            &wav,
        ) {
            Ok(_) => Errors::new(),
            Err(e) => Errors::from([("file", e.to_string())]),
        }
    };
    let lang = s.lang();
    let saved = errors.is_empty();
    let status = super::layout::status_of(&errors);
    let body = html! {
        (greeting_form(&s, &errors, saved))
        p { a href="/web/me/voicemail" { (lang.t("Voicemail")) } }
    };
    Ok((
        status,
        page(&s, "/web/me/voicemail", lang.t("Voicemail"), body),
    )
        .into_response())
}

/// A message of this user's mailbox: `None` for anyone else's.
async fn own_message(
    state: &ApiState,
    s: &Session,
    id: i64,
) -> Result<actors::store::VoicemailMessage, WebError> {
    let (tenant, line) = s.user()?;
    let messages = state
        .store
        .call(move |st| st.voicemail_messages(tenant, Some(&line)))
        .await?;
    messages
        .into_iter()
        .find(|m| m.id == id && m.state != "recording")
        .ok_or(WebError::NotFound(s.lang()))
}

/// The message as WAV, for the page's player.
pub async fn message(
    State(state): State<Arc<ApiState>>,
    s: Session,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let m = own_message(&state, &s, id).await?;
    let file = m.file.clone();
    let wav = tokio::task::spawn_blocking(move || std::fs::read(file))
        .await
        .map_err(|_| WebError::Internal)?
        .map_err(|_| WebError::NotFound(s.lang()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "audio/wav"),
            (header::CACHE_CONTROL, "no-store, private"),
        ],
        wav,
    )
        .into_response())
}

/// Marks a message heard or deletes it; the line's message lamp follows.
pub async fn voicemail_action(
    State(state): State<Arc<ApiState>>,
    s: Session,
    Form(f): Fields,
) -> Result<Response, WebError> {
    s.check(f.get("csrf").map(String::as_str))?;
    let id: i64 = f
        .get("id")
        .and_then(|v| v.parse().ok())
        .ok_or(WebError::NotFound(s.lang()))?;
    let m = own_message(&state, &s, id).await?;
    let delete = f.get("action").is_some_and(|a| a == "delete");
    state
        .store
        .call(move |st| {
            if delete {
                st.voicemail_delete(m.id)
            } else {
                st.voicemail_heard(m.id)
            }
        })
        .await?;
    let (tenant, line) = s.user()?;
    if let Some(l) = state.directory.line(tenant, &line) {
        let _ = l.cast(actors::proto::LineMsg::MailboxChanged);
    }
    Ok(Redirect::to("/web/me/voicemail").into_response())
}

pub async fn journal(State(state): State<Arc<ApiState>>, s: Session) -> Result<Response, WebError> {
    let (tenant, line) = s.user()?;
    let lang = s.lang();
    let calls = state
        .store
        .call(move |st| st.line_journal(tenant, &line, 200))
        .await?;
    let body = super::journal::table(lang, &calls);
    Ok(page(&s, "/web/me/journal", lang.t("My calls"), body).into_response())
}
