//! Readiness: `/api/health` answers 503 `{"status":"starting"}` until every stored plan's
//! machine is deployed again (and, on a fresh start, the demo is seeded), then the API's
//! own 200 `{"status":"ok"}`.
//!
//! A plan whose redeploy fails for a reason that may pass (a 5xx: the emulator busy or
//! not answering) is retried in the background with a growing wait while health says
//! `starting` and lists it under `pending`. A plan that cannot be deployed as stored (a
//! 4xx: it fails validation, e.g. a protection group it names was deleted) is reported
//! once and listed under `problems`; it does not hold readiness back. Neither does a
//! plan still failing after [`RETRY_WAITS`]: it moves to `problems` too. Saving such a
//! plan again deploys it. The API keeps serving meanwhile.

use api::app::AppState;
use api::error::ApiError;
use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Waits between the attempts of a plan whose redeploy failed for a reason that may pass.
pub const RETRY_WAITS: [Duration; 8] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
    Duration::from_secs(10),
    Duration::from_secs(10),
    Duration::from_secs(10),
    Duration::from_secs(10),
];

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanProblem {
    pub plan: String,
    pub error: String,
    pub attempts: usize,
}

#[derive(Default)]
struct Status {
    started: bool,
    pending: BTreeMap<String, PlanProblem>,
    problems: BTreeMap<String, PlanProblem>,
}

/// Whether local mode is ready, and which stored plans are not deployed.
pub struct Readiness {
    status: Mutex<Status>,
}

impl Readiness {
    /// Ready at once (servers without stored plans to deploy: the system tests).
    pub fn ready() -> Arc<Self> {
        Arc::new(Self {
            status: Mutex::new(Status {
                started: true,
                ..Status::default()
            }),
        })
    }

    /// Starting until [`Readiness::started`].
    pub fn starting() -> Arc<Self> {
        Arc::new(Self {
            status: Mutex::new(Status::default()),
        })
    }

    fn status(&self) -> std::sync::MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The start-up work is done (retries may still be pending).
    pub fn started(&self) {
        self.status().started = true;
    }

    pub fn is_ready(&self) -> bool {
        let status = self.status();
        status.started && status.pending.is_empty()
    }

    pub fn pending(&self) -> Vec<PlanProblem> {
        self.status().pending.values().cloned().collect()
    }

    pub fn problems(&self) -> Vec<PlanProblem> {
        self.status().problems.values().cloned().collect()
    }

    fn retrying(&self, problem: PlanProblem) {
        self.status().pending.insert(problem.plan.clone(), problem);
    }

    fn failed(&self, problem: PlanProblem) {
        let mut status = self.status();
        status.pending.remove(&problem.plan);
        status.problems.insert(problem.plan.clone(), problem);
    }

    fn deployed(&self, plan: &str) {
        let mut status = self.status();
        status.pending.remove(plan);
        status.problems.remove(plan);
    }

    fn body(&self) -> Value {
        let status = self.status();
        json!({
            "status": "starting",
            "pending": status.pending.values().collect::<Vec<_>>(),
            "problems": status.problems.values().collect::<Vec<_>>(),
        })
    }
}

/// The layer in front of the whole site: `GET /api/health` says `starting` (503) until
/// ready; once ready it is the API's answer, with `problems` added when there are any.
pub async fn gate(
    State(readiness): State<Arc<Readiness>>,
    request: Request,
    next: Next,
) -> Response {
    let is_health = request.uri().path() == "/api/health"
        && (request.method() == Method::GET || request.method() == Method::HEAD);
    if !is_health {
        return next.run(request).await;
    }
    if !readiness.is_ready() {
        let mut response =
            (StatusCode::SERVICE_UNAVAILABLE, Json(readiness.body())).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return response;
    }
    let problems = readiness.problems();
    let response = next.run(request).await;
    if problems.is_empty() || !response.status().is_success() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut value: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({}));
    if let Some(object) = value.as_object_mut() {
        object.insert("problems".into(), json!(problems));
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(value.to_string()))
}

/// What stopped one plan's deploy, in a line: the error and its details.
fn describe(e: &ApiError) -> String {
    let mut text = e.to_string();
    for detail in &e.details {
        text.push_str(&format!("; {}: {}", detail.path, detail.message));
    }
    text
}

/// Deploys one stored plan's machine again, as it is stored now (`Ok(false)`: the plan
/// no longer exists).
async fn deploy(state: &AppState, id: &str) -> Result<bool, ApiError> {
    let Some(plan) = state
        .plans
        .get(id)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
    else {
        return Ok(false);
    };
    let built = api::plans::build(state, &plan.plan).await?;
    state
        .machines
        .deploy(&built.compiled.name, &built.compiled.definition_minified())
        .await?;
    Ok(true)
}

/// A failure worth retrying: ours or a service's (5xx), not the plan's (4xx).
fn transient(e: &ApiError) -> bool {
    e.status.is_server_error()
}

/// Deploys every stored plan again, reporting failures on the console and in
/// `readiness`; retries the ones that may pass, then marks readiness started.
/// Runs until every plan is deployed or given up (local mode runs it in the background).
pub async fn redeploy_stored(state: AppState, readiness: Arc<Readiness>) {
    let mut listing = 0;
    let ids: Vec<String> = loop {
        match state.plans.list().await {
            Ok(plans) => break plans.into_iter().map(|p| p.id).collect(),
            Err(e) => {
                let error = format!("listing the stored plans: {e}");
                let Some(wait) = RETRY_WAITS.get(listing) else {
                    eprintln!("drs-local: {error}; gave up, the stored plans are not deployed");
                    readiness.failed(PlanProblem {
                        plan: "*".into(),
                        error,
                        attempts: listing + 1,
                    });
                    readiness.started();
                    return;
                };
                readiness.retrying(PlanProblem {
                    plan: "*".into(),
                    error,
                    attempts: listing + 1,
                });
                listing += 1;
                tokio::time::sleep(*wait).await;
            }
        }
    };
    readiness.deployed("*");
    let mut retry: Vec<String> = Vec::new();
    for id in ids {
        match deploy(&state, &id).await {
            Ok(_) => {}
            Err(e) if transient(&e) => {
                println!(
                    "  plan {id}: not deployed yet ({}); retrying in the background",
                    describe(&e)
                );
                readiness.retrying(PlanProblem {
                    plan: id.clone(),
                    error: describe(&e),
                    attempts: 1,
                });
                retry.push(id);
            }
            Err(e) => report_invalid(&readiness, &id, &e, 1),
        }
    }
    readiness.started();
    let retried = !retry.is_empty();
    for (round, wait) in RETRY_WAITS.iter().enumerate() {
        if retry.is_empty() {
            break;
        }
        tokio::time::sleep(*wait).await;
        let attempts = round + 2;
        let last = round + 1 == RETRY_WAITS.len();
        let mut again = Vec::new();
        for id in retry {
            match deploy(&state, &id).await {
                Ok(true) => {
                    println!("  plan {id}: deployed (attempt {attempts})");
                    readiness.deployed(&id);
                }
                Ok(false) => readiness.deployed(&id),
                Err(e) if transient(&e) && !last => {
                    readiness.retrying(PlanProblem {
                        plan: id.clone(),
                        error: describe(&e),
                        attempts,
                    });
                    again.push(id);
                }
                Err(e) if transient(&e) => {
                    eprintln!(
                        "drs-local: plan {id} is not deployed: {} (gave up after {attempts} attempts; save the plan to deploy it)",
                        describe(&e)
                    );
                    readiness.failed(PlanProblem {
                        plan: id,
                        error: describe(&e),
                        attempts,
                    });
                }
                Err(e) => report_invalid(&readiness, &id, &e, attempts),
            }
        }
        retry = again;
    }
    if retried {
        println!("  stored plans: retries done; /api/health is ok");
    }
}

fn report_invalid(readiness: &Readiness, id: &str, e: &ApiError, attempts: usize) {
    eprintln!(
        "drs-local: plan {id} cannot be deployed as stored: {} (fix it and save it to deploy it)",
        describe(e)
    );
    readiness.failed(PlanProblem {
        plan: id.to_owned(),
        error: describe(e),
        attempts,
    });
}

#[cfg(test)]
mod tests {
    //! The gate over the wire: a server on 127.0.0.1 with the API's health route behind it.
    use super::*;
    use axum::Router;
    use axum::routing::get;

    async fn serve(readiness: Arc<Readiness>) -> String {
        let app = Router::new()
            .route(
                "/api/health",
                get(|| async { Json(json!({"status": "ok", "version": "test"})) }),
            )
            .route("/api/other", get(|| async { "other" }))
            .layer(axum::middleware::from_fn_with_state(readiness, gate));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        url
    }

    async fn health(url: &str) -> (u16, Value) {
        let response = reqwest::get(format!("{url}/api/health"))
            .await
            .expect("health answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn health_says_starting_until_ready_then_lists_problems() {
        let readiness = Readiness::starting();
        let url = serve(readiness.clone()).await;
        let (status, body) = health(&url).await;
        assert_eq!((status, &body["status"]), (503, &json!("starting")));
        // Other routes serve meanwhile.
        let other = reqwest::get(format!("{url}/api/other"))
            .await
            .expect("other");
        assert_eq!(other.status().as_u16(), 200);

        readiness.retrying(PlanProblem {
            plan: "a".into(),
            error: "Unavailable: busy".into(),
            attempts: 1,
        });
        readiness.failed(PlanProblem {
            plan: "b".into(),
            error: "Invalid: no group".into(),
            attempts: 1,
        });
        readiness.started();
        let (status, body) = health(&url).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["pending"][0]["plan"], "a");
        assert_eq!(body["problems"][0]["plan"], "b");

        readiness.deployed("a");
        let (status, body) = health(&url).await;
        assert_eq!(status, 200);
        assert_eq!(body["status"], "ok");
        assert_eq!(body["version"], "test");
        assert_eq!(body["problems"][0]["error"], "Invalid: no group");

        readiness.deployed("b");
        let (status, body) = health(&url).await;
        assert_eq!(
            (status, body),
            (200, json!({"status": "ok", "version": "test"}))
        );
    }

    #[test]
    fn only_server_errors_are_retried() {
        assert!(transient(&ApiError::internal("x")));
        assert!(!transient(&ApiError::invalid("x", Vec::new())));
        assert!(!transient(&ApiError::not_found("x")));
    }
}
