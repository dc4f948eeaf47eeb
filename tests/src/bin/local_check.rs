//! The scripted check of local mode (`.ci/run`): against a running `./deploy.sh local`,
//! sign in as the operator, start a drill of the demo plan, approve it as the approver
//! through the outbox's approval link, and see the execution succeed with its drill
//! instances terminated. `--persisted` instead checks what a restart must keep.
//!
//! `local-check --url http://127.0.0.1:8080 --aws http://127.0.0.1:4566 [--persisted]`

use local::cognito::{PASSWORD, sign_in, user_for};
use serde_json::{Value, json};
use std::process::ExitCode;
use std::time::{Duration, Instant};

struct Check {
    url: String,
    http: reqwest::Client,
}

impl Check {
    async fn call(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), String> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.map_err(|e| format!("{path}: {e}"))?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    async fn get(&self, token: &str, path: &str) -> Result<Value, String> {
        match self.call(token, reqwest::Method::GET, path, None).await? {
            (200, body) => Ok(body),
            (status, body) => Err(format!("GET {path} answered {status}: {body}")),
        }
    }
}

fn step(text: &str) {
    println!("local-check: {text}");
}

async fn run(url: &str, aws: &str, persisted: bool) -> Result<(), String> {
    let check = Check {
        url: url.trim_end_matches('/').to_owned(),
        http: reqwest::Client::new(),
    };
    let config: Value = check
        .http
        .get(format!("{}/config.json", check.url))
        .send()
        .await
        .map_err(|e| format!("{url} does not answer ({e}); is `./deploy.sh local` running?"))?
        .text()
        .await
        .map_err(|e| format!("/config.json: {e}"))
        .and_then(|t| {
            serde_json::from_str(&t).map_err(|e| format!("/config.json is not JSON: {e}"))
        })?;
    let client_id = config["clientId"]
        .as_str()
        .ok_or("config.json has no clientId")?;
    // One origin: SPA routes get the page, unknown API paths the API's JSON 404, and the
    // outbox wants a signed-in user.
    for (path, want_status, want_kind) in [
        ("/approvals/some-id", 200, "text/html"),
        ("/api/no-such-route", 404, "application/json"),
        ("/api/outbox", 401, "application/json"),
    ] {
        let url = format!("{}{path}", check.url);
        let response = check
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let status = response.status().as_u16();
        let kind = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if status != want_status || !kind.starts_with(want_kind) {
            return Err(format!(
                "GET {path} answered {status} {kind}; expected {want_status} {want_kind}"
            ));
        }
    }
    step("one origin: SPA routes, JSON 404 under /api, the outbox needs a token");
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(aws)
        .region(aws_config::Region::new(local::REGION))
        .credentials_provider(aws_sdk_drs::config::Credentials::new(
            "local", "local", None, None, "local",
        ))
        .load()
        .await;
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&sdk);
    let operator = sign_in(&cognito, client_id, &user_for("Operator"), PASSWORD)
        .await
        .map_err(|e| e.to_string())?;
    let approver = sign_in(&cognito, client_id, &user_for("Approver"), PASSWORD)
        .await
        .map_err(|e| e.to_string())?;
    step("signed in as operator and approver (Cognito in the emulator)");

    if persisted {
        let plans = check.get(&operator, "/api/plans").await?;
        let ids: Vec<&str> = plans["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["id"].as_str())
            .collect();
        if !ids.contains(&"shop-dr") {
            return Err(format!(
                "after the restart the plans are {ids:?}, without shop-dr"
            ));
        }
        let runs = check.get(&operator, "/api/executions").await?;
        let succeeded = runs["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["status"] == "SUCCEEDED")
            .count();
        if succeeded == 0 {
            return Err(format!(
                "after the restart no succeeded execution is recorded: {runs}"
            ));
        }
        let outbox = check.get(&approver, "/api/outbox").await?;
        let messages = outbox["items"].as_array().map_or(0, Vec::len);
        if messages == 0 {
            return Err("after the restart the outbox is empty".into());
        }
        let (status, _) = check
            .call(
                &operator,
                reqwest::Method::GET,
                "/api/plans/shop-dr/asl",
                None,
            )
            .await?;
        if status != 200 {
            return Err(format!(
                "the restored plan's machine is not readable ({status})"
            ));
        }
        step(&format!(
            "restart kept {} plans, {succeeded} succeeded execution(s), {messages} outbox message(s)",
            ids.len()
        ));
        return Ok(());
    }

    let started = Instant::now();
    let (status, run) = check
        .call(
            &operator,
            reqwest::Method::POST,
            "/api/plans/shop-dr/executions",
            Some(json!({"mode": "DRILL", "pollSeconds": 1})),
        )
        .await?;
    if status != 201 && status != 202 && status != 200 {
        return Err(format!("starting the drill answered {status}: {run}"));
    }
    let id = run["id"]
        .as_str()
        .ok_or_else(|| format!("no execution id in {run}"))?
        .to_owned();
    step(&format!("operator started drill {id} of shop-dr"));

    // The approval email reaches the outbox; its link is the only way in.
    let link = loop {
        let outbox = check.get(&approver, "/api/outbox").await?;
        let found = outbox["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|m| {
                let text = m["message"].as_str().unwrap_or_default();
                (text.contains(&id) || text.contains("Approve"))
                    .then(|| {
                        m["links"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .find(|l| l.contains("/approvals/"))
                            .map(str::to_owned)
                    })
                    .flatten()
            });
        let pending = match &found {
            Some(link) => {
                let approval_id = link.rsplit('/').next().unwrap_or_default();
                check
                    .get(&approver, &format!("/api/approvals/{approval_id}"))
                    .await
                    .ok()
                    .filter(|a| {
                        a["status"] == "PENDING"
                            && a["executionName"].as_str().is_none_or(|n| n == id)
                    })
            }
            None => None,
        };
        if let (Some(link), Some(_)) = (found, pending) {
            break link;
        }
        if started.elapsed() > Duration::from_secs(180) {
            return Err("no pending approval link reached the outbox within 180 s".into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    if !link.starts_with(&check.url) {
        return Err(format!(
            "the approval link {link} does not point at the site {}",
            check.url
        ));
    }
    let approval_id = link.rsplit('/').next().unwrap_or_default().to_owned();
    step(&format!("approval email in the outbox links to {link}"));
    let (status, decided) = check
        .call(
            &approver,
            reqwest::Method::POST,
            &format!("/api/approvals/{approval_id}"),
            Some(json!({"decision": "APPROVE", "comment": "local-check"})),
        )
        .await?;
    if status != 200 {
        return Err(format!("approving answered {status}: {decided}"));
    }
    step("approver approved it");

    let execution = loop {
        let execution = check
            .get(&operator, &format!("/api/executions/{id}"))
            .await?;
        match execution["status"].as_str().unwrap_or_default() {
            "RUNNING" | "" => {}
            "SUCCEEDED" => break execution,
            other => return Err(format!("the drill ended {other}: {execution}")),
        }
        if started.elapsed() > Duration::from_secs(600) {
            return Err(format!("the drill still runs after 600 s: {execution}"));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    step(&format!(
        "drill SUCCEEDED in {:.1} s",
        started.elapsed().as_secs_f64()
    ));

    let servers: Vec<String> = execution["servers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect();
    let drs = aws_sdk_drs::Client::new(&sdk);
    let described = drs
        .describe_recovery_instances()
        .send()
        .await
        .map_err(|e| format!("DescribeRecoveryInstances: {:?}", e.into_service_error()))?;
    let left: Vec<&str> = described
        .items()
        .iter()
        .filter(|r| r.is_drill() == Some(true))
        .filter(|r| {
            servers.is_empty()
                || servers
                    .iter()
                    .any(|s| Some(s.as_str()) == r.source_server_id())
        })
        .filter_map(|r| r.recovery_instance_id())
        .collect();
    if !left.is_empty() {
        return Err(format!("drill instances not terminated: {left:?}"));
    }
    step("no drill instance is left in DRS");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let url = arg("--url").unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let aws = arg("--aws").unwrap_or_else(|| "http://127.0.0.1:4566".into());
    let persisted = args.iter().any(|a| a == "--persisted");
    match run(&url, &aws, persisted).await {
        Ok(()) => {
            println!("local-check: passed");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("local-check: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}
