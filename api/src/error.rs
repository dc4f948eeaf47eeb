//! API errors: `{"error": code, "message": sentence, "details": [{"path", "message"}]}`
//! with the status that names what went wrong. Bad input is never a 5xx.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detail {
    pub path: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    /// A plain sentence for the client.
    pub message: String,
    pub details: Vec<Detail>,
    /// What went wrong inside (SDK errors, ARNs, URLs): logged with the request id,
    /// never sent.
    pub internal: Option<String>,
}

tokio::task_local! {
    /// The request being served, so an error's log line and its answer name it.
    pub static REQUEST_ID: String;
}

fn request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            internal: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "Forbidden", message)
    }

    pub fn new_method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "Conflict", message)
    }

    pub fn stale(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "StaleVersion", message)
    }

    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(StatusCode::GONE, "Gone", message)
    }

    pub fn invalid(message: impl Into<String>, details: Vec<Detail>) -> Self {
        Self {
            details,
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", message)
        }
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "TooLarge", message)
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            message,
        )
    }

    /// A failure of ours: the client reads a plain sentence and the request id; `detail`
    /// goes to the log only.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self {
            internal: Some(detail.to_string()),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal",
                "the request failed on our side",
            )
        }
    }

    /// A service we call did not answer as it should (`service`: "DynamoDB", "DRS" …);
    /// `detail` goes to the log only.
    pub fn unavailable(service: &str, detail: impl std::fmt::Display) -> Self {
        Self {
            internal: Some(detail.to_string()),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                format!("{service} is not answering as it should; try again shortly"),
            )
        }
    }
}

impl From<aslgen::Invalid> for ApiError {
    fn from(invalid: aslgen::Invalid) -> Self {
        let count = invalid.problems.len();
        ApiError::invalid(
            format!(
                "{count} problem{} in the request",
                if count == 1 { "" } else { "s" }
            ),
            invalid
                .problems
                .into_iter()
                .map(|p| Detail {
                    path: p.path,
                    message: p.message,
                })
                .collect(),
        )
    }
}

/// A token that does not verify is the caller's problem (401); keys we cannot fetch
/// are ours (503), and the URL stays in the log.
impl From<crate::auth::AuthError> for ApiError {
    fn from(e: crate::auth::AuthError) -> Self {
        match e {
            crate::auth::AuthError::Keys { .. } => {
                ApiError::unavailable("the user pool's key service", e)
            }
            crate::auth::AuthError::Directory(_) => ApiError::unavailable("the user pool", e),
            _ => ApiError::unauthorized(e.to_string()),
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "<[Detail]>::is_empty")]
    details: &'a [Detail],
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut message = self.message;
        if self.status.is_server_error() {
            // The span carries the request id too; the answer names it so a client can
            // quote it.
            tracing::error!(code = self.code, message = %message, internal = self.internal.as_deref().unwrap_or(""), "request failed");
            if let Some(id) = request_id() {
                message = format!("{message} (request id `{id}`)");
            }
        } else if let Some(internal) = &self.internal {
            tracing::warn!(code = self.code, internal = %internal, "request refused");
        }
        let body = Body {
            error: self.code,
            message: &message,
            details: &self.details,
        };
        (self.status, axum::Json(body)).into_response()
    }
}

/// Store failures as clients see them: a conflict names what it conflicts with; a
/// database that does not answer is a 503; detail stays in the log.
impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match e {
            StoreError::Owned { .. } | StoreError::Exists(_) => ApiError::conflict(e.to_string()),
            StoreError::Stale { .. } => ApiError::stale(e.to_string()),
            StoreError::NotFound(_) => ApiError::not_found(e.to_string()),
            StoreError::TooLarge(what) => ApiError::too_large(format!(
                "{what} is larger than the database stores (400 KB an item)"
            )),
            StoreError::Backend(detail) => ApiError::unavailable("DynamoDB", detail),
            StoreError::Corrupt(detail) => ApiError::internal(detail),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthError;
    use crate::store::StoreError;

    async fn body_of(error: ApiError) -> (StatusCode, serde_json::Value) {
        let response = REQUEST_ID
            .scope("req-1".to_owned(), async { error.into_response() })
            .await;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .expect("body");
        (status, serde_json::from_slice(&bytes).expect("JSON"))
    }

    #[tokio::test]
    async fn internal_detail_stays_in_the_log() {
        let keys = AuthError::Keys {
            url: "https://cognito-idp.example/pool/.well-known/jwks.json".into(),
            reason: "connection refused".into(),
        };
        let (status, body) = body_of(keys.into()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let message = body["message"].as_str().expect("message");
        assert!(
            !message.contains("jwks") && message.contains("`req-1`"),
            "{body}"
        );

        let outage = StoreError::Backend(
            "unhandled error (ServiceUnavailable: arn:aws:dynamodb:us-east-1:1:table/t)".into(),
        );
        let (status, body) = body_of(outage.into()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!body.to_string().contains("arn:"), "{body}");

        let (status, body) = body_of(StoreError::TooLarge("the item".into()).into()).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::PAYLOAD_TOO_LARGE, Some("TooLarge"))
        );

        let (status, body) = body_of(ApiError::internal("panic-ish detail arn:x")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!body.to_string().contains("arn:"), "{body}");
    }

    #[tokio::test]
    async fn a_client_error_keeps_its_sentence() {
        let (status, body) = body_of(AuthError::WrongClient.into()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            body["message"],
            "the token was issued for another app client"
        );
    }
}
