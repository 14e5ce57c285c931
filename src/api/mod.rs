//! The control API `pbx serve` offers over HTTP (`--http-addr`): JSON under `/api/v1`,
//! its OpenAPI document at `/api/v1/openapi.json` (`openapi.json`, checked against
//! the routes by the tests), Prometheus metrics at `/metrics`.
//!
//! Every request carries an API key (`Authorization: Bearer pbx_…`, `pbx api-key`):
//! the operator's (tenants, metrics), a tenant administrator's (that tenant only: it
//! names no tenant, so another tenant's objects are not even found), or a user's (one
//! line). A source that keeps presenting wrong keys is answered 429 for a while. The
//! handlers work through the same store methods as the CLI (`actors::store`), on the
//! store's thread.

pub(crate) mod admin;
mod error;
pub(crate) mod events;
mod metrics;
pub(crate) mod phones;
mod plan_entries;
mod provision;
pub(crate) mod removal;
pub(crate) mod routes;

use std::net::SocketAddr;
use std::sync::Arc;

use actors::auth_guard::AuthGuard;
use actors::directory::Directory;
use actors::store::{ApiScope, StoreHandle};
use axum::http::HeaderMap;

pub use error::ApiError;

/// The OpenAPI document of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// What the handlers share.
pub struct ApiState {
    pub store: StoreHandle,
    pub directory: Arc<Directory>,
    /// Where the tenants' files live (`--files-dir`, else the data directory): a
    /// plan's prompts are checked there, uploaded prompts written there.
    pub files_dir: std::path::PathBuf,
    /// The switch's SIP port (provisioned phones register there).
    pub sip_port: u16,
    /// What calls, queues and trunks publish (live events).
    pub events: Option<actors::switch::SwitchEvents>,
    /// Sources presenting wrong keys.
    pub(crate) guard: AuthGuard,
}

impl ApiState {
    pub fn new(
        store: StoreHandle,
        directory: Arc<Directory>,
        files_dir: std::path::PathBuf,
        sip_port: u16,
        events: Option<actors::switch::SwitchEvents>,
    ) -> Arc<ApiState> {
        Arc::new(ApiState {
            store,
            directory,
            files_dir,
            sip_port,
            events,
            guard: AuthGuard::default(),
        })
    }

    /// The scope of the request's key, or why there is none.
    async fn principal(
        &self,
        headers: &HeaderMap,
        source: SocketAddr,
    ) -> Result<ApiScope, ApiError> {
        let ip = source.ip();
        if self.guard.is_penalised(ip) {
            return Err(ApiError::slow_down());
        }
        let key = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|k| k.trim().to_owned());
        let Some(key) = key else {
            return Err(ApiError::unauthorized(
                "an API key is needed: Authorization: Bearer pbx_…",
            ));
        };
        let scope = self
            .store
            .call(move |s| s.check_api_key(&key))
            .await
            .map_err(ApiError::from)?;
        match scope {
            Some(scope) => Ok(scope),
            None => {
                self.guard.failure(ip);
                Err(ApiError::unauthorized("the API key is not valid"))
            }
        }
    }
}

/// Serves the API on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, state: Arc<ApiState>) {
    let app = routes::router(state);
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    if let Err(e) = axum::serve(listener, service).await {
        tracing::error!(error = %e, "the HTTP API stopped");
    }
}
