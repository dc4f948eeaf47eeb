//! The Router answers API Gateway (REST) events as Lambda delivers them, recorded as JSON.

use tower::ServiceExt;

fn state() -> api::AppState {
    let aws = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:9")
        .build();
    let config = api::config::Config {
        table: "drs-orchestrator".into(),
        issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_test".into(),
        client_id: "client".into(),
        jwks_url: "http://127.0.0.1:9/jwks.json".into(),
        machine_role_arn: "arn:aws:iam::123456789012:role/plans".into(),
        deployment: aslgen::Deployment::default(),
        runbook_document: "DRS-Orchestrator-RunRecoveryPlan".into(),
        versions: api::machines::VersionLimit::default(),
    };
    config.state_with(&aws)
}

async fn answer(fixture: &str) -> (u16, String, Option<String>) {
    // As the Lambda is configured (templates): the stage is not part of the route.
    // SAFETY: every test sets the same value before reading any event.
    unsafe { std::env::set_var("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true") };
    let event = std::fs::read_to_string(format!(
        "{}/tests/fixtures/{fixture}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let request = lambda_http::request::from_str(&event).expect("an API Gateway event");
    let (parts, body) = request.into_parts();
    let request = axum::http::Request::from_parts(parts, axum::body::Body::from(body.to_vec()));
    let response = api::router(state()).oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned(), id)
}

#[tokio::test]
async fn health_from_an_api_gateway_event() {
    let (status, body, id) = answer("apigw-health.json").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    assert_eq!(
        id.as_deref(),
        Some("req-health-1"),
        "API Gateway's request id is kept"
    );
}

#[tokio::test]
async fn a_protected_route_without_a_token_is_refused() {
    let (status, body, _) = answer("apigw-groups.json").await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("\"error\":\"Unauthorized\""), "{body}");
}

#[tokio::test]
async fn a_method_the_route_lacks_is_405() {
    let request = axum::http::Request::builder()
        .method("PATCH")
        .uri("/api/health")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = api::router(state()).oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    assert_eq!(status, 405, "{}", String::from_utf8_lossy(&bytes));
}

#[test]
fn the_function_tells_the_runbooks_events_from_api_gateways() {
    use api::runbook::{FunctionEvent, InternalEvent};
    let fixture = std::fs::read_to_string(format!(
        "{}/tests/fixtures/apigw-health.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let http: FunctionEvent = serde_json::from_str(&fixture).expect("an API Gateway event");
    assert!(matches!(http, FunctionEvent::Http(_)));
    let runbook = r#"{"internal": "startPlan", "automationExecutionId": "e-1", "planId": "shop-dr", "mode": "DRILL", "confirm": "", "pollSeconds": 30}"#;
    let internal: FunctionEvent = serde_json::from_str(runbook).expect("the runbook's event");
    assert!(matches!(
        internal,
        FunctionEvent::Internal(InternalEvent::StartPlan(ref s)) if s.plan_id == "shop-dr"
    ));
    // An unknown internal event is neither.
    assert!(serde_json::from_str::<FunctionEvent>(r#"{"internal": "dropTables"}"#).is_err());
}
