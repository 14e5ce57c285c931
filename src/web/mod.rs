//! The web admin and live monitor `pbx serve` offers beside the API (same HTTP
//! address, same store methods and events): server-rendered HTML (`maud`, escaped by
//! default) with a little script for the live pages, assets compiled into the
//! binary. The operator manages tenants; a tenant's administrator its users,
//! devices, groups, queues, menus, schedules, trunks, prompts, journal and the live
//! monitor; a user their own settings, voicemail and calls. Every form carries the
//! session's CSRF token; a page of another tenant, or of another role, is 404.

mod devices;
mod i18n;
mod journal;
mod layout;
mod me;
mod monitor;
mod plan_json;
mod plan_pages;
mod session;
mod settings;
mod tenants;
mod trunks;
mod users;

use std::sync::Arc;

use actors::store::WebRole;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::api::ApiState;
pub use session::hash_password_now;

/// The tenant `id` of a signed-in account (gone meanwhile: an error page).
async fn tenant_of(
    state: &ApiState,
    id: actors::store::TenantId,
) -> Result<actors::store::Tenant, layout::WebError> {
    crate::api::routes::tenant_of(state, id)
        .await
        .map_err(|_| layout::WebError::Internal)
}

/// Where each account starts.
async fn home(s: session::Session) -> Response {
    let to = match s.account.role {
        WebRole::Operator => "/web/tenants",
        WebRole::Admin { .. } => "/web/users",
        WebRole::User { .. } => "/web/me",
    };
    Redirect::to(to).into_response()
}

/// The web admin's routes (merged into the API's router).
pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/web/") }))
        .route("/web", get(|| async { Redirect::to("/web/") }))
        .route("/web/", get(home))
        .route(
            "/web/sign-in",
            get(session::sign_in_form).post(session::sign_in),
        )
        .route("/web/sign-out", post(session::sign_out))
        .route("/web/language", post(session::set_language))
        .route("/web/tenants", get(tenants::tenants).post(tenants::add))
        .route("/web/tenants/{name}/remove", post(tenants::remove))
        .route("/web/users", get(users::users).post(users::add_user))
        .route("/web/users/{ext}", get(users::user).post(users::save_user))
        .route("/web/users/{ext}/remove", post(users::remove_user))
        .route(
            "/web/devices",
            get(devices::devices).post(devices::provision),
        )
        .route(
            "/web/groups",
            get(plan_pages::groups).post(plan_pages::save_group),
        )
        .route(
            "/web/queues",
            get(plan_pages::queues).post(plan_pages::save_queue),
        )
        .route("/web/queues/agent", post(plan_pages::agent))
        .route(
            "/web/ivrs",
            get(plan_pages::ivrs).post(plan_pages::save_ivr),
        )
        .route(
            "/web/schedules",
            get(plan_pages::schedules).post(plan_pages::save_schedule),
        )
        .route("/web/plan/remove", post(plan_pages::remove_entry))
        .route("/web/plan", get(plan_json::plan).post(plan_json::save_plan))
        .route(
            "/web/plan/{section}",
            get(plan_json::section).post(plan_json::save_section),
        )
        .route("/web/trunks", get(trunks::trunks).post(trunks::save_trunk))
        .route(
            "/web/prompts",
            get(trunks::prompts).post(trunks::upload_prompt),
        )
        .route("/web/journal", get(journal::journal))
        .route("/web/statistics", get(journal::statistics))
        .route("/web/monitor", get(monitor::monitor))
        .route("/web/monitor/events", get(monitor::events))
        .route("/web/me", get(me::me).post(me::save))
        .route(
            "/web/me/voicemail",
            get(me::voicemail).post(me::voicemail_action),
        )
        .route("/web/me/voicemail/{id}", get(me::message))
        .route("/web/me/greeting", post(me::greeting))
        .route("/web/me/journal", get(me::journal))
        .with_state(state)
}
