//! DRS errors in the restJson1 shape the SDKs read: `x-amzn-ErrorType` header, and a
//! JSON body with `message` (and `code`, quota fields where DRS has them).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DrsError {
    #[error("{0}")]
    Validation(String),
    #[error("{message}")]
    Conflict {
        message: String,
        resource_id: String,
    },
    #[error("{message}")]
    QuotaExceeded {
        message: String,
        quota_code: &'static str,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("Rate exceeded")]
    Throttling,
    #[error("{0}")]
    Internal(String),
}

impl DrsError {
    pub fn type_name(&self) -> &'static str {
        match self {
            DrsError::Validation(_) => "ValidationException",
            DrsError::Conflict { .. } => "ConflictException",
            DrsError::QuotaExceeded { .. } => "ServiceQuotaExceededException",
            DrsError::NotFound(_) => "ResourceNotFoundException",
            DrsError::Throttling => "ThrottlingException",
            DrsError::Internal(_) => "InternalServerException",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            DrsError::Validation(_) => StatusCode::BAD_REQUEST,
            DrsError::Conflict { .. } => StatusCode::CONFLICT,
            DrsError::QuotaExceeded { .. } => StatusCode::PAYMENT_REQUIRED,
            DrsError::NotFound(_) => StatusCode::NOT_FOUND,
            DrsError::Throttling => StatusCode::TOO_MANY_REQUESTS,
            DrsError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn body(&self) -> Value {
        let message = self.to_string();
        match self {
            DrsError::Conflict { resource_id, .. } => json!({
                "message": message, "code": "CONFLICT", "resourceId": resource_id, "resourceType": "SOURCE_SERVER"
            }),
            DrsError::QuotaExceeded { quota_code, .. } => json!({
                "message": message, "code": "SERVICE_QUOTA_EXCEEDED", "serviceCode": "drs", "quotaCode": quota_code
            }),
            DrsError::Validation(_) => {
                json!({"message": message, "code": "VALIDATION_EXCEPTION", "reason": "OTHER"})
            }
            _ => json!({ "message": message }),
        }
    }
}

impl IntoResponse for DrsError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        response.headers_mut().insert(
            "x-amzn-ErrorType",
            HeaderValue::from_static(self.type_name()),
        );
        response
    }
}
