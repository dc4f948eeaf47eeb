//! The SPA on the same origin as the API: files from the built SPA, `index.html` for its
//! routes (`/plans/…`, `/approvals/<id>`), and `/config.json` for this local stack.

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use serde_json::Value;
use std::path::Path;
use tower_http::services::{ServeDir, ServeFile};

const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>DRS Orchestrator (local)</title></head><body><main><h1>DRS Orchestrator — local mode</h1>\
<p>The web UI has not been built (frontend/dist is missing). The API is at \
<a href=\"/api/health\">/api</a>; the outbox at <code>/api/outbox</code>.</p></main></body></html>";

pub fn router(dist: &Path, config: Value) -> Router {
    let config_route = Router::new().route(
        "/config.json",
        get(move || {
            let config = config.clone();
            async move { axum::Json(config) }
        }),
    );
    let index = dist.join("index.html");
    if index.exists() {
        config_route.fallback_service(ServeDir::new(dist).fallback(ServeFile::new(index)))
    } else {
        config_route.fallback(get(|| async { Html(NOT_BUILT) }))
    }
}
