//! The REST API behind the web UI and automation: one axum Router under `/api`, served
//! by `lambda_http` in AWS and by a plain HTTP server locally — the same code. AWS
//! services sit behind small traits (`store`, `drs`, `ssm`); handlers stay thin.

pub mod app;
pub mod auth;
pub mod automation;
pub mod config;
pub mod directory;
pub mod domain;
pub mod drs;
pub mod error;
pub mod launch_configs;
pub mod limits;
pub mod machines;
pub mod plans;
pub mod policy;
pub mod routes;
pub mod runbook;
pub mod ssm;
pub mod store;
#[cfg(test)]
pub mod twins;

pub use app::{AppState, router, router_shared};

/// Now, as an ISO 8601 UTC timestamp with milliseconds.
pub fn now() -> String {
    use time::format_description::well_known::Rfc3339;
    let now = time::OffsetDateTime::now_utc();
    now.replace_millisecond(now.millisecond())
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}
