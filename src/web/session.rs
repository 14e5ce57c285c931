//! Signing in and who is signed in. Passwords are argon2id hashes (computed on a
//! blocking thread, never on the store's); a session is a random cookie
//! (`pbx_session`: HttpOnly, Secure, SameSite=Strict) of which the store keeps only
//! the SHA-256, with the session's CSRF token that every form carries back. Failed
//! sign-ins count against their source like wrong API keys, and a source that keeps
//! failing is answered 429 for a while.

use std::net::SocketAddr;
use std::sync::Arc;

use actors::store::{TenantId, WebAccount, WebRole};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::{ConnectInfo, Form, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::i18n::Lang;
use super::layout::{bare_page, WebError};
use crate::api::ApiState;

pub const COOKIE: &str = "pbx_session";
/// The sign-in form's own token (no session yet): a cookie and a field that must match.
const SIGN_IN_COOKIE: &str = "pbx_sign_in";
/// How long a session lasts.
const SESSION_MILLIS: u64 = 12 * 3_600_000;

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The argon2id hash of `password` (a PHC string); tens of milliseconds of CPU.
pub fn hash_password_now(password: &str) -> String {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).expect("16 bytes encode");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
}

/// `hash_password_now` on a blocking thread.
pub async fn hash_password(password: String) -> String {
    tokio::task::spawn_blocking(move || hash_password_now(&password))
        .await
        .unwrap_or_default()
}

/// Whether `password` is the one `hash` was made of (on a blocking thread).
async fn password_matches(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A hash no password matches, verified for unknown logins so that they take as
/// long as known ones.
const NOBODY: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$bm9ib2R5bm9ib2R5$Ckdp5hYcwU5wB+hv3HDDqNjY1gWW5rM2rKcpZBqCRnE";

/// The value of cookie `name` in the request.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn set_cookie(name: &str, value: &str, max_age_secs: u64) -> String {
    format!("{name}={value}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={max_age_secs}")
}

/// Who is signed in, with the session's CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    pub account: WebAccount,
    pub csrf: String,
    token_sha256: String,
}

impl Session {
    pub fn lang(&self) -> Lang {
        Lang::from_code(&self.account.language)
    }

    /// The tenant of an administrator; any other account gets 404.
    pub fn admin(&self) -> Result<TenantId, WebError> {
        match &self.account.role {
            WebRole::Admin { tenant } => Ok(*tenant),
            _ => Err(WebError::NotFound(self.lang())),
        }
    }

    /// The tenant and line of a line's user.
    pub fn user(&self) -> Result<(TenantId, String), WebError> {
        match &self.account.role {
            WebRole::User { tenant, line } => Ok((*tenant, line.clone())),
            _ => Err(WebError::NotFound(self.lang())),
        }
    }

    pub fn operator(&self) -> Result<(), WebError> {
        match self.account.role {
            WebRole::Operator => Ok(()),
            _ => Err(WebError::NotFound(self.lang())),
        }
    }

    /// The form carried this session's CSRF token.
    pub fn check(&self, token: Option<&str>) -> Result<(), WebError> {
        let given = token.unwrap_or_default();
        if given.len() == self.csrf.len()
            && given
                .bytes()
                .zip(self.csrf.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
        {
            Ok(())
        } else {
            Err(WebError::Csrf(self.lang()))
        }
    }
}

impl FromRequestParts<Arc<ApiState>> for Session {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ApiState>,
    ) -> Result<Self, Self::Rejection> {
        let sign_in = || Redirect::to("/web/sign-in").into_response();
        let Some(token) = cookie(&parts.headers, COOKIE) else {
            return Err(sign_in());
        };
        let hash = sha256_hex(token);
        let now = actors::clock::unix_millis();
        let key = hash.clone();
        let found = state
            .store
            .call(move |s| s.web_session(&key, now))
            .await
            .map_err(|_| WebError::Internal.into_response())?;
        match found {
            Some((account, csrf)) => Ok(Session {
                account,
                csrf,
                token_sha256: hash,
            }),
            None => Err(sign_in()),
        }
    }
}

/// The sign-in page (with its own token), `error` shown above the form.
fn sign_in_page(lang: Lang, error: Option<&str>, status: StatusCode) -> Response {
    let token = random_hex(16);
    let body = html! {
        form.sign-in method="post" action="/web/sign-in" {
            h1 { (lang.t("Sign in")) }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            input type="hidden" name="csrf" value=(token);
            label { (lang.t("Login")) input name="login" autocomplete="username" autofocus required; }
            label { (lang.t("Password")) input name="password" type="password" autocomplete="current-password" required; }
            button type="submit" { (lang.t("Sign in")) }
        }
    };
    (
        status,
        [(header::SET_COOKIE, set_cookie(SIGN_IN_COOKIE, &token, 3600))],
        bare_page(lang, lang.t("Sign in"), body),
    )
        .into_response()
}

pub async fn sign_in_form(headers: HeaderMap) -> Response {
    sign_in_page(accepted_language(&headers), None, StatusCode::OK)
}

/// German when the browser asks for it first.
fn accepted_language(headers: &HeaderMap) -> Lang {
    let wants = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    Lang::from_code(if wants.trim_start().starts_with("de") {
        "de"
    } else {
        "en"
    })
}

#[derive(serde::Deserialize)]
pub struct SignIn {
    login: String,
    password: String,
    csrf: Option<String>,
}

pub async fn sign_in(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<SignIn>,
) -> Response {
    let lang = accepted_language(&headers);
    let ip = from.ip();
    if state.guard.is_penalised(ip) {
        let why = lang.t("Too many attempts from your address: wait a moment.");
        let mut r = sign_in_page(lang, Some(why), StatusCode::TOO_MANY_REQUESTS);
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        return r;
    }
    let form_token = f.csrf.as_deref().unwrap_or_default();
    if form_token.is_empty() || cookie(&headers, SIGN_IN_COOKIE) != Some(form_token) {
        return WebError::Csrf(lang).into_response();
    }
    let login = f.login.clone();
    let account = state
        .store
        .call(move |s| s.web_account(&login))
        .await
        .ok()
        .flatten();
    let hash = account
        .as_ref()
        .map_or_else(|| NOBODY.to_owned(), |a| a.password_hash.clone());
    let matches = password_matches(f.password, hash).await;
    let Some(account) = account.filter(|_| matches) else {
        state.guard.failure(ip);
        tracing::info!(source = %ip, login = %f.login, "web sign-in refused");
        return sign_in_page(
            lang,
            Some(lang.t("The login or the password is wrong.")),
            StatusCode::UNAUTHORIZED,
        );
    };
    let token = random_hex(32);
    let (hash, csrf) = (sha256_hex(&token), random_hex(16));
    let now = actors::clock::unix_millis();
    let id = account.id;
    let started = state
        .store
        .call(move |s| s.start_web_session(id, &hash, &csrf, now + SESSION_MILLIS, now))
        .await;
    if started.is_err() {
        return WebError::Internal.into_response();
    }
    tracing::info!(login = %account.login, "web sign-in");
    (
        axum::response::AppendHeaders([
            (
                header::SET_COOKIE,
                set_cookie(COOKIE, &token, SESSION_MILLIS / 1000),
            ),
            (header::SET_COOKIE, set_cookie(SIGN_IN_COOKIE, "", 0)),
        ]),
        Redirect::to("/web/"),
    )
        .into_response()
}

#[derive(serde::Deserialize)]
pub struct CsrfOnly {
    csrf: Option<String>,
}

pub async fn sign_out(
    State(state): State<Arc<ApiState>>,
    session: Session,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    session.check(f.csrf.as_deref())?;
    let hash = session.token_sha256.clone();
    let _ = state.store.call(move |s| s.end_web_session(&hash)).await;
    Ok((
        [(header::SET_COOKIE, set_cookie(COOKIE, "", 0))],
        Redirect::to("/web/sign-in"),
    )
        .into_response())
}

#[derive(serde::Deserialize)]
pub struct LanguageForm {
    csrf: Option<String>,
    language: String,
    back: Option<String>,
}

/// The account's language, chosen on any page.
pub async fn set_language(
    State(state): State<Arc<ApiState>>,
    session: Session,
    Form(f): Form<LanguageForm>,
) -> Result<Response, WebError> {
    session.check(f.csrf.as_deref())?;
    let id = session.account.id;
    let language = f.language.clone();
    state
        .store
        .call(move |s| s.set_web_language(id, &language))
        .await
        .map_err(|_| WebError::NotFound(session.lang()))?;
    // Back to the page it was chosen on (a path of ours only).
    let back = f
        .back
        .filter(|b| b.starts_with("/web/") && !b.contains("//"))
        .unwrap_or_else(|| "/web/".into());
    Ok(Redirect::to(&back).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_password_matches_its_hash_only() {
        let h = hash_password("correct horse".into()).await;
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(password_matches("correct horse".into(), h.clone()).await);
        assert!(!password_matches("wrong".into(), h).await);
        assert!(!password_matches("anything".into(), NOBODY.into()).await);
    }
}
