//! schemathesis fuzzes the API from its OpenAPI document: no input may produce a 5xx.

use reqwest::Method;
use serde_json::json;
use system_tests::{Env, Setup, root};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_errors() {
    let schemathesis = root().join(".venv/bin/schemathesis");
    assert!(
        schemathesis.exists(),
        "schemathesis is not installed: run tests/run.sh (it creates .venv)"
    );
    let env = Env::start(Setup::default()).await;
    let api = env.start_api().await;
    // Some data, so reads and updates reach the stores and not only 404s.
    let (status, _) = api
        .call(
            Some("Admin"),
            Method::POST,
            "/api/protection-groups",
            Some(json!({"id": "fuzz", "name": "Fuzz", "servers": ["s-0a1b2c3d4e5f60001"]})),
        )
        .await;
    assert_eq!(status, 201);
    let url = api.url.clone();
    let token = api.pool.token("Admin").to_owned();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(schemathesis)
            .arg("run")
            .arg(root().join("api/openapi.json"))
            .args(["--url", &url])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .args(["--checks", "not_a_server_error"])
            .args(["--max-examples", "25"])
            .args(["--phases", "examples,fuzzing"])
            .args(["--workers", "1"])
            .env("SCHEMATHESIS_HOOKS", "")
            .output()
            .expect("schemathesis runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary: Vec<&str> = stdout.lines().rev().take(12).collect();
    println!(
        "{}",
        summary.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    assert!(
        output.status.success(),
        "schemathesis found failures:\n{stdout}\n{stderr}"
    );
    env.stop().await;
}
