//! Starts each built `bootstrap` against a local fake of the Lambda Runtime API and
//! checks that it answers a real event: the API an API Gateway (REST) event, the probe
//! a TCP check and a malformed request, the custom resource a CloudFormation request.
//! arm64 bootstraps run under qemu-user on an x86_64 host.
//!
//! `lambda-smoke DIR ARCH` where DIR holds `<name>/bootstrap` (deploy.sh check).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Router, body::Bytes};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::path::{Path as FsPath, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Default)]
struct Runtime {
    queue: Mutex<VecDeque<(String, Value)>>,
    answers: Mutex<Vec<Answer>>,
    cfn: Mutex<Vec<Value>>,
    arrived: Notify,
}

#[derive(Debug, Clone)]
struct Answer {
    request_id: String,
    kind: &'static str,
    body: Value,
}

type Shared = Arc<Runtime>;

async fn next(State(rt): State<Shared>) -> impl IntoResponse {
    // Long-poll as the real Runtime API does: hold the request until there is an event.
    loop {
        let item = rt.queue.lock().map(|mut q| q.pop_front()).ok().flatten();
        if let Some((id, event)) = item {
            let mut headers = HeaderMap::new();
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() + 60_000)
                .unwrap_or_default();
            let set = |h: &mut HeaderMap, k: &'static str, v: String| {
                if let Ok(v) = HeaderValue::from_str(&v) {
                    h.insert(k, v);
                }
            };
            set(&mut headers, "lambda-runtime-aws-request-id", id);
            set(
                &mut headers,
                "lambda-runtime-deadline-ms",
                deadline.to_string(),
            );
            set(
                &mut headers,
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:smoke".into(),
            );
            set(
                &mut headers,
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000".into(),
            );
            return (StatusCode::OK, headers, event.to_string());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn record(rt: &Runtime, request_id: String, kind: &'static str, body: &Bytes) {
    let body =
        serde_json::from_slice(body).unwrap_or_else(|_| json!(String::from_utf8_lossy(body)));
    if let Ok(mut answers) = rt.answers.lock() {
        answers.push(Answer {
            request_id,
            kind,
            body,
        });
    }
    rt.arrived.notify_waiters();
}

async fn response(State(rt): State<Shared>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    record(&rt, id, "response", &body);
    StatusCode::ACCEPTED
}

async fn error(State(rt): State<Shared>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    record(&rt, id, "error", &body);
    StatusCode::ACCEPTED
}

async fn init_error(State(rt): State<Shared>, body: Bytes) -> StatusCode {
    record(&rt, "init".into(), "init-error", &body);
    StatusCode::ACCEPTED
}

async fn cfn_response(State(rt): State<Shared>, body: Bytes) -> StatusCode {
    if let (Ok(value), Ok(mut cfn)) = (serde_json::from_slice(&body), rt.cfn.lock()) {
        cfn.push(value);
    }
    StatusCode::OK
}

struct Case {
    name: &'static str,
    env: Vec<(&'static str, String)>,
    events: Vec<Value>,
    check: fn(&[Answer], &[Value]) -> Result<String, String>,
}

fn cases(runtime_url: &str, tcp_port: u16) -> Vec<Case> {
    let api_event: Value = serde_json::from_str(include_str!(
        "../../../api/tests/fixtures/apigw-groups.json"
    ))
    .unwrap_or(Value::Null);
    vec![
        Case {
            name: "api",
            env: vec![
                ("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true".into()),
                (
                    "COGNITO_ISSUER",
                    "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_smoke".into(),
                ),
                ("COGNITO_CLIENT_ID", "smoke".into()),
                ("COGNITO_JWKS_URL", "http://127.0.0.1:9/jwks.json".into()),
                ("TABLE_NAME", "smoke-orchestrator".into()),
            ],
            events: vec![api_event],
            check: |answers, _| {
                let a = answers.first().ok_or("no answer")?;
                let status = a.body["statusCode"].as_u64().unwrap_or(0);
                // No Authorization header: the API itself refuses, in API Gateway's shape.
                if a.kind == "response" && status == 401 {
                    Ok(format!(
                        "API Gateway event -> statusCode {status}, body {}",
                        a.body["body"]
                    ))
                } else {
                    Err(format!("{} {}", a.kind, a.body))
                }
            },
        },
        Case {
            name: "probe",
            // The smoke test's listener is on loopback, which the deployed probe refuses.
            env: vec![("PROBE_ALLOW_LOOPBACK", "true".into())],
            events: vec![
                json!({"check": "tcp", "port": tcp_port, "targets": ["127.0.0.1"], "timeoutMs": 2000}),
                json!({"check": "tcp", "port": 0, "targets": ["not-an-ip"]}),
                json!({"check": "http", "port": 80, "targets": ["169.254.169.254"]}),
            ],
            check: |answers, _| {
                let ok = answers
                    .iter()
                    .find(|a| a.request_id == "req-1")
                    .ok_or("no answer to the TCP check")?;
                let bad = answers
                    .iter()
                    .find(|a| a.request_id == "req-2")
                    .ok_or("no answer to the bad request")?;
                if ok.kind != "response" || ok.body["healthy"] != json!(true) {
                    return Err(format!("TCP check: {} {}", ok.kind, ok.body));
                }
                if bad.kind != "error" || bad.body["errorType"] != json!("Probe.BadRequest") {
                    return Err(format!("bad request: {} {}", bad.kind, bad.body));
                }
                let metadata = answers
                    .iter()
                    .find(|a| a.request_id == "req-3")
                    .ok_or("no answer to the metadata-address check")?;
                if metadata.kind != "error"
                    || metadata.body["errorType"] != json!("Probe.BadRequest")
                    || !metadata.body["errorMessage"]
                        .as_str()
                        .is_some_and(|m| m.contains("`169.254.169.254`"))
                {
                    return Err(format!(
                        "metadata address: {} {}",
                        metadata.kind, metadata.body
                    ));
                }
                Ok(format!(
                    "TCP check -> healthy; malformed -> {}; 169.254.169.254 -> {}",
                    bad.body["errorType"], metadata.body["errorType"]
                ))
            },
        },
        Case {
            name: "custom-resource",
            env: vec![],
            events: vec![json!({
                "RequestType": "Create",
                "ResponseURL": format!("{runtime_url}/cfn-response"),
                "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/smoke/1",
                "RequestId": "cfn-1",
                "ResourceType": "Custom::EmptyBucket",
                "LogicalResourceId": "EmptySite",
                "ResourceProperties": {"ServiceToken": "x", "BucketName": "site"}
            })],
            check: |answers, cfn| {
                let a = answers.first().ok_or("no answer")?;
                let put = cfn.first().ok_or("nothing was PUT to the ResponseURL")?;
                if a.kind == "response"
                    && put["Status"] == json!("SUCCESS")
                    && put["RequestId"] == json!("cfn-1")
                {
                    Ok(format!(
                        "CloudFormation Create -> {} {}",
                        put["Status"], put["PhysicalResourceId"]
                    ))
                } else {
                    Err(format!("{} {} / PUT {put}", a.kind, a.body))
                }
            },
        },
    ]
}

async fn run(
    dir: &FsPath,
    arch: &str,
    case: &Case,
    rt: Shared,
    api: &str,
) -> Result<String, String> {
    let bootstrap = dir.join(case.name).join("bootstrap");
    if !bootstrap.exists() {
        return Err(format!("{} is missing", bootstrap.display()));
    }
    let emulate = arch == "arm64" && std::env::consts::ARCH != "aarch64";
    let mut command = if emulate {
        let mut c = tokio::process::Command::new("qemu-aarch64-static");
        c.arg("-L").arg("/usr/aarch64-linux-gnu").arg(&bootstrap);
        c
    } else {
        tokio::process::Command::new(&bootstrap)
    };
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api)
        .env("AWS_LAMBDA_FUNCTION_NAME", format!("smoke-{}", case.name))
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/smoke")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "smoke")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "smoke")
        .env("AWS_SECRET_ACCESS_KEY", "smoke")
        .envs(case.env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (i, event) in case.events.iter().enumerate() {
        if let Ok(mut q) = rt.queue.lock() {
            q.push_back((format!("req-{}", i + 1), event.clone()));
        }
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bootstrap.display()))?;
    let want = case.events.len();
    let waited = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let count = rt.answers.lock().map(|a| a.len()).unwrap_or(0);
            let init_failed = rt
                .answers
                .lock()
                .map(|a| a.iter().any(|x| x.kind == "init-error"))
                .unwrap_or(false);
            if count >= want || init_failed {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let _ = child.start_kill();
    let output = child.wait_with_output().await.map_err(|e| e.to_string())?;
    let stderr = String::from_utf8_lossy(&output.stderr)
        .chars()
        .take(2_000)
        .collect::<String>();
    if waited.is_err() {
        return Err(format!("no answer within 60 s; stderr: {stderr}"));
    }
    let answers = rt.answers.lock().map(|a| a.clone()).unwrap_or_default();
    let cfn = rt.cfn.lock().map(|c| c.clone()).unwrap_or_default();
    (case.check)(&answers, &cfn).map_err(|e| format!("{e}; stderr: {stderr}"))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(arch)) = (args.get(1), args.get(2)) else {
        eprintln!(
            "usage: lambda-smoke DIR ARCH (DIR holds <name>/bootstrap; ARCH arm64 or x86_64)"
        );
        return std::process::ExitCode::from(2);
    };
    let dir = PathBuf::from(dir);
    // A listener for the probe's TCP check.
    let Ok(target) = tokio::net::TcpListener::bind("127.0.0.1:0").await else {
        eprintln!("cannot bind a TCP target");
        return std::process::ExitCode::from(2);
    };
    let tcp_port = target.local_addr().map(|a| a.port()).unwrap_or(0);
    tokio::spawn(async move {
        while let Ok((socket, _)) = target.accept().await {
            drop(socket);
        }
    });
    let mut failed = 0;
    let names: Vec<&str> = cases("", 0).iter().map(|c| c.name).collect();
    for name in names {
        let rt: Shared = Arc::default();
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .route("/cfn-response", put(cfn_response))
            .with_state(rt.clone());
        let Ok(listener) = tokio::net::TcpListener::bind("127.0.0.1:0").await else {
            eprintln!("cannot bind the fake Runtime API");
            return std::process::ExitCode::from(2);
        };
        let api = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let all = cases(&format!("http://{api}"), tcp_port);
        let Some(case) = all.iter().find(|c| c.name == name) else {
            continue;
        };
        match run(&dir, arch, case, rt, &api).await {
            Ok(summary) => println!("ok      {name:<16} {summary}"),
            Err(e) => {
                println!("FAILED  {name:<16} {e}");
                failed += 1;
            }
        }
        server.abort();
    }
    if failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
