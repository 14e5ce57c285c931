//! The API's errors: a status and a JSON body `{"error": …, "field": …}` naming the
//! request field at fault when one is.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: String,
    pub field: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error: error.into(),
            field: None,
        }
    }

    pub fn unauthorized(why: &str) -> ApiError {
        Self::new(StatusCode::UNAUTHORIZED, why)
    }

    pub fn forbidden(why: &str) -> ApiError {
        Self::new(StatusCode::FORBIDDEN, why)
    }

    pub fn not_found(what: impl Into<String>) -> ApiError {
        Self::new(StatusCode::NOT_FOUND, what)
    }

    pub fn slow_down() -> ApiError {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many wrong API keys from this address: try again later",
        )
    }

    /// Refused input: 422 naming `field`.
    pub fn invalid(field: &'static str, why: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            error: why.into(),
            field: Some(field),
        }
    }
}

impl From<actors::Error> for ApiError {
    fn from(e: actors::Error) -> ApiError {
        match e {
            actors::Error::Invalid(why) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, why),
            actors::Error::Field { field, why } => ApiError::invalid(field, why),
            other => {
                tracing::error!(error = %other, "API request failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the switch could not do that",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({ "error": self.error });
        if let Some(f) = self.field {
            body["field"] = serde_json::json!(f);
        }
        let mut r = (self.status, Json(body)).into_response();
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            r.headers_mut()
                .insert("Retry-After", axum::http::HeaderValue::from_static("5"));
        }
        r
    }
}
