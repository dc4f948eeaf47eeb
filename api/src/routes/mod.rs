//! Handlers: thin — parse, call the domain, shape the answer.

pub mod approvals;
pub mod executions;
pub mod groups;
pub mod logs;
pub mod plans;
pub mod records;

use crate::app::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;

pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

pub async fn me(principal: axum::Extension<Principal>) -> Json<Value> {
    let roles: Vec<&str> = principal.roles.iter().map(|r| r.name()).collect();
    Json(json!({"user": principal.user, "roles": roles}))
}

pub async fn not_found() -> Response {
    ApiError::not_found("no such route").into_response()
}

/// Every DRS source server (all pages) with the protection group that owns it.
pub async fn source_servers(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let (servers, owners) = tokio::join!(state.drs.list(), state.groups.owners());
    let servers = servers?;
    let owners = owners.map_err(ApiError::from)?;
    let items: Vec<Value> = servers
        .into_iter()
        .map(|s| {
            let mut v = serde_json::to_value(&s).unwrap_or(Value::Null);
            v["protectionGroup"] = owners.get(&s.id).map(|g| json!(g)).unwrap_or(Value::Null);
            v
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}
