//! The application: shared state and the one Router, served by Lambda or locally.

use crate::auth::{Authenticator, Principal};
use crate::drs::SourceServers;
use crate::machines::{Machines, Runs};
use crate::policy::{self, Rule};
use crate::routes;
use crate::ssm::Commands;
use crate::store::{AuditEntry, AuditLog, GroupStore, PlanStore, RunStore};
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use std::sync::Arc;
use tracing::Instrument;

pub struct AppState {
    pub auth: Arc<dyn Authenticator>,
    pub rules: Vec<Rule>,
    pub groups: Arc<dyn GroupStore>,
    pub drs: Arc<dyn SourceServers>,
    /// Source servers' DRS launch configurations.
    pub launch_configs: Arc<dyn crate::launch_configs::LaunchConfigs>,
    /// What the plans' SSM commands printed.
    pub ssm: Arc<dyn Commands>,
    pub audit: Arc<dyn AuditLog>,
    pub plans: Arc<dyn PlanStore>,
    pub machines: Arc<dyn Machines>,
    /// Executions and approvals as the machines record them (DynamoDB).
    pub records: Arc<dyn RunStore>,
    /// Executions in Step Functions.
    pub runs: Arc<dyn Runs>,
    /// Names and ARNs the compiled machines use.
    pub deployment: aslgen::Deployment,
    /// SSM Automation executions (who started the runbook).
    pub automations: Arc<dyn crate::automation::Automations>,
    /// The runbook document the runbook's start must come from.
    pub runbook_document: String,
}

pub fn router(state: AppState) -> Router {
    routes(state).fallback(routes::not_found)
}

/// The same Router over state shared with the function's internal events.
pub fn router_shared(state: Arc<AppState>) -> Router {
    routes_shared(state).fallback(routes::not_found)
}

/// The API's routes and middleware without a fallback, so another router (local mode's
/// SPA) can share the origin.
pub fn routes(state: AppState) -> Router {
    routes_shared(Arc::new(state))
}

pub fn routes_shared(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/health", get(routes::health))
        .route("/api/me", get(routes::me))
        .route("/api/source-servers", get(routes::source_servers))
        .route(
            "/api/protection-groups",
            get(routes::groups::list).post(routes::groups::create),
        )
        .route(
            "/api/protection-groups/preview",
            post(routes::groups::preview),
        )
        .route(
            "/api/protection-groups/{id}",
            get(routes::groups::get)
                .put(routes::groups::update)
                .delete(routes::groups::delete),
        )
        .route(
            "/api/plans",
            get(routes::plans::list).post(routes::plans::create),
        )
        .route("/api/plans/import", post(routes::plans::import))
        .route(
            "/api/plans/{id}",
            get(routes::plans::get)
                .put(routes::plans::update)
                .delete(routes::plans::delete),
        )
        .route("/api/plans/{id}/versions", get(routes::plans::versions))
        .route("/api/plans/{id}/asl", get(routes::plans::asl))
        .route("/api/plans/{id}/graph", get(routes::plans::graph))
        .route("/api/plans/{id}/export", get(routes::plans::export))
        .route("/api/plans/{id}/preflight", get(routes::executions::report))
        .route(
            "/api/plans/{id}/launch-settings",
            post(routes::plans::apply_launch_settings),
        )
        .route(
            "/api/plans/{id}/executions",
            post(routes::executions::start),
        )
        .route("/api/executions", get(routes::executions::list))
        .route("/api/executions/{id}", get(routes::executions::get))
        .route(
            "/api/executions/{id}/steps/{key}/logs",
            get(routes::logs::step),
        )
        .route(
            "/api/executions/{id}/instances",
            get(routes::logs::instances),
        )
        .route(
            "/api/executions/{id}/servers",
            get(routes::executions::servers),
        )
        .route(
            "/api/executions/{id}/cancel",
            post(routes::executions::cancel),
        )
        .route(
            "/api/executions/{id}/cleanup",
            post(routes::executions::cleanup),
        )
        .route(
            "/api/executions/{id}/rerun",
            post(routes::executions::rerun),
        )
        .route(
            "/api/executions/{id}/pause",
            post(routes::executions::pause),
        )
        .route(
            "/api/executions/{id}/resume",
            post(routes::executions::resume),
        )
        .route("/api/approvals", get(routes::approvals::list))
        .route(
            "/api/approvals/{id}",
            get(routes::approvals::get).post(routes::approvals::decide),
        )
        // Layers run bottom-up: request id and audit wrap the access check.
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::limits::MAX_BODY_BYTES,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            policy::enforce,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), audit))
        .layer(middleware::from_fn(request_id))
        .with_state(state)
}

/// A request id on every response and log line. The server makes it (unique, so the
/// audit trail's keys never collide); an id the client or API Gateway sent is kept
/// beside it as `clientRequestId`, never trusted as a key.
#[derive(Clone, Debug)]
pub struct RequestId {
    pub id: String,
    pub client: Option<String>,
}

/// A new unique id (random, 122 bits).
pub fn unique_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// API Gateway's own id for the request, from the Lambda event's request context (not
/// from a header, which a client can set).
fn gateway_request_id(request: &Request) -> Option<String> {
    use lambda_http::RequestExt;
    match request.request_context_ref()? {
        lambda_http::request::RequestContext::ApiGatewayV1(ctx) => ctx.request_id.clone(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

async fn request_id(mut request: Request, next: Next) -> Response {
    let id = gateway_request_id(&request).unwrap_or_else(unique_id);
    let client = request
        .headers()
        .get("x-amzn-requestid")
        .or_else(|| request.headers().get("x-request-id"))
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(128).collect::<String>());
    request.extensions_mut().insert(RequestId {
        id: id.clone(),
        client: client.clone(),
    });
    let span = tracing::info_span!("request", request_id = %id, client_request_id = client.as_deref().unwrap_or(""), method = %request.method(), path = %request.uri().path());
    // Every log line inside carries the span, so the request id; headers (tokens) never.
    let mut response = crate::error::REQUEST_ID
        .scope(id.clone(), async {
            let response = next.run(request).await;
            tracing::info!(status = response.status().as_u16(), "handled");
            response
        })
        .instrument(span)
        .await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// Every mutating call leaves an audit record: who, what, when, on what, and how it went.
async fn audit(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    if method == Method::GET || method == Method::HEAD || method == Method::OPTIONS {
        return next.run(request).await;
    }
    let action = format!(
        "{method} {}",
        request
            .extensions()
            .get::<MatchedPath>()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| request.uri().path().to_owned())
    );
    let target = request.uri().path().to_owned();
    let (request_id, client_request_id) = request
        .extensions()
        .get::<RequestId>()
        .map(|r| (r.id.clone(), r.client.clone()))
        .unwrap_or_else(|| (unique_id(), None));
    // The principal is only known after the access check, which runs inside.
    let (parts, body) = request.into_parts();
    let principal_slot = Arc::new(std::sync::Mutex::new(None::<Principal>));
    let mut request = Request::from_parts(parts, body);
    request
        .extensions_mut()
        .insert(PrincipalSlot(principal_slot.clone()));
    let response = next.run(request).await;
    let user = principal_slot
        .lock()
        .ok()
        .and_then(|p| p.as_ref().map(|p| p.user.clone()))
        .unwrap_or_else(|| "anonymous".into());
    let entry = AuditEntry {
        at: crate::now(),
        user,
        action,
        target,
        status: response.status().as_u16(),
        request_id,
        client_request_id,
    };
    if let Err(e) = state.audit.record(entry).await {
        tracing::error!(error = %e, "audit record not written");
    }
    response
}

/// Where the access check leaves the principal for the audit layer.
#[derive(Clone)]
pub struct PrincipalSlot(pub Arc<std::sync::Mutex<Option<Principal>>>);
