//! The scripted check of local mode (`.ci/run`): against a running `./deploy.sh local`,
//! check its doors (the outbox takes messages from the emulator only and fetches no URL
//! from them; repeated failed sign-ins are throttled; a refresh token renews the access
//! token, an unknown one is refused), sign in as the operator, start a
//! drill of the demo plan, approve it as the approver through the outbox's approval link,
//! and see the execution succeed with its drill instances terminated.
//!
//! `--persisted` instead checks what a restart must keep (`--expect-mark TEXT`: a message
//! marked just before the last stop); `--recovering` first checks a start whose stored
//! plans could not all be deployed (started with DRS failing and crm-web's group gone):
//! health says starting while retries are pending, then ok with crm-dr as a problem once
//! the simulator's faults are cleared. `--mark TEXT` only publishes a marked message to
//! the notifications topic (and `--drop-group ID` deletes a group's record under its
//! plan), for the next start to find.
//!
//! `local-check --url http://127.0.0.1:8080 --aws http://127.0.0.1:4566
//!  [--persisted [--expect-mark TEXT] [--recovering] | --mark TEXT [--drop-group ID]]`

use local::cognito::{PASSWORD, sign_in, user_for};
use serde_json::{Value, json};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Mode {
    persisted: bool,
    recovering: bool,
    expect_mark: Option<String>,
    mark: Option<String>,
    drop_group: Option<String>,
}

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

fn subject_of(mark: &str) -> String {
    format!("local-check mark {mark}")
}

async fn outbox_subjects(check: &Check, token: &str) -> Result<Vec<String>, String> {
    let outbox = check.get(token, "/api/outbox").await?;
    Ok(outbox["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["subject"].as_str().map(str::to_owned))
        .collect())
}

async fn topic_arn(sns: &aws_sdk_sns::Client) -> Result<String, String> {
    let topics = sns
        .list_topics()
        .send()
        .await
        .map_err(|e| format!("ListTopics: {:?}", e.into_service_error()))?;
    topics
        .topics()
        .iter()
        .filter_map(|t| t.topic_arn())
        .find(|arn| arn.ends_with(&format!(":{}", local::TOPIC)))
        .map(str::to_owned)
        .ok_or_else(|| "the notifications topic does not exist".into())
}

/// The outbox takes messages from the emulator only, and never fetches a URL a message
/// names.
async fn outbox_door(
    check: &Check,
    sdk: &aws_config::SdkConfig,
    token: &str,
) -> Result<(), String> {
    let sns = aws_sdk_sns::Client::new(sdk);
    let topic = topic_arn(&sns).await?;
    let subscriptions = sns
        .list_subscriptions_by_topic()
        .topic_arn(&topic)
        .send()
        .await
        .map_err(|e| format!("ListSubscriptionsByTopic: {:?}", e.into_service_error()))?;
    let endpoint = subscriptions
        .subscriptions()
        .iter()
        .filter_map(|s| s.endpoint())
        .find(|e| e.starts_with(&format!("{}/_local/sns/", check.url)))
        .ok_or("the outbox is not subscribed to the topic with a secret endpoint")?
        .to_owned();
    // A listener that must never be called: the URL a confirmation names.
    let trap = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bind: {e}"))?;
    let trap_url = format!(
        "http://{}/confirm",
        trap.local_addr().map_err(|e| e.to_string())?
    );
    let called = Arc::new(AtomicBool::new(false));
    let flag = called.clone();
    let trap_task = tokio::spawn(async move {
        while trap.accept().await.is_ok() {
            flag.store(true, Ordering::SeqCst);
        }
    });
    let forged_subject = format!("forged approval {}", std::process::id());
    let note = |topic: &str| {
        json!({
            "Type": "Notification", "MessageId": "forged", "TopicArn": topic,
            "Subject": forged_subject,
            "Message": format!("Approve: {}/approvals/forged", check.url),
            "Timestamp": "2030-01-01T00:00:00.000Z",
        })
    };
    let post = |url: String, body: Value| {
        let request = check
            .http
            .post(url)
            .header("content-type", "text/plain; charset=UTF-8")
            .body(body.to_string());
        async move {
            request
                .send()
                .await
                .map(|r| r.status().as_u16())
                .map_err(|e| e.to_string())
        }
    };
    for (what, url, body, want) in [
        (
            "without the secret",
            format!("{}/_local/sns", check.url),
            note(&topic),
            403,
        ),
        (
            "with a wrong secret",
            format!("{}/_local/sns/0123456789abcdef0123456789abcdef", check.url),
            note(&topic),
            403,
        ),
        (
            "naming another topic",
            endpoint.clone(),
            note("arn:aws:sns:us-east-1:123456789012:other"),
            403,
        ),
        (
            "a subscription confirmation",
            endpoint.clone(),
            json!({"Type": "SubscriptionConfirmation", "TopicArn": topic, "SubscribeURL": trap_url, "Token": "t"}),
            200,
        ),
    ] {
        let status = post(url, body).await?;
        if status != want {
            return Err(format!(
                "a message posted to the outbox {what} answered {status}, not {want}"
            ));
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    trap_task.abort();
    if called.load(Ordering::SeqCst) {
        return Err("the outbox fetched the SubscribeURL of a confirmation".into());
    }
    if outbox_subjects(check, token)
        .await?
        .contains(&forged_subject)
    {
        return Err("a forged message reached the outbox".into());
    }
    step("outbox: 403 without the emulator's secret or for another topic; no SubscribeURL fetched");
    Ok(())
}

/// Repeated failed sign-ins of one user name are throttled (429 + Retry-After) while
/// another user still signs in.
async fn sign_in_door(check: &Check) -> Result<(), String> {
    let attempt = |user: String, password: &'static str| {
        let request = check
            .http
            .post(format!("{}/_local/sign-in", check.url))
            .header("content-type", "application/json")
            .body(json!({"username": user, "password": password}).to_string());
        async move {
            let response = request.send().await.map_err(|e| e.to_string())?;
            let retry = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            Ok::<_, String>((response.status().as_u16(), retry))
        }
    };
    let guessed = format!("guessed-{}", std::process::id());
    for n in 1..=5 {
        let (status, _) = attempt(guessed.clone(), "wrong-Passw0rd!").await?;
        if status != 401 {
            return Err(format!("bad password #{n} answered {status}, not 401"));
        }
    }
    match attempt(guessed.clone(), "wrong-Passw0rd!").await? {
        (429, Some(seconds)) if seconds >= 1 => {}
        other => {
            return Err(format!(
                "the 6th bad password answered {other:?}, not 429 with Retry-After"
            ));
        }
    }
    match attempt(user_for("Operator"), PASSWORD).await? {
        (200, _) => {}
        other => {
            return Err(format!(
                "the operator's sign-in answered {other:?} meanwhile"
            ));
        }
    }
    step(
        "sign-in: the 6th bad password for one user gets 429 + Retry-After; the operator still signs in",
    );
    Ok(())
}

/// The JSON of a JWT's payload (base64url, unpadded).
fn jwt_payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap_or_default();
    let (mut bits, mut count, mut bytes) = (0u32, 0u32, Vec::new());
    for c in part.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return Value::Null,
        };
        bits = (bits << 6) | u32::from(v);
        count += 6;
        if count >= 8 {
            count -= 8;
            bytes.push(((bits >> count) & 0xff) as u8);
        }
    }
    serde_json::from_slice(&bytes).unwrap_or_default()
}

/// The local sign-in's renewal: the operator's refresh token gives a new access token the
/// API takes (and names the user by user name, not by the `sub` the token also carries);
/// a refresh token Cognito refuses is a 401. With `--test-token-lifetime`, access tokens
/// last that long.
async fn refresh_door(check: &Check) -> Result<(), String> {
    let post = |path: &str, body: Value| {
        let request = check
            .http
            .post(format!("{}{path}", check.url))
            .header("content-type", "application/json")
            .body(body.to_string());
        async move {
            let response = request.send().await.map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            Ok::<_, String>((
                status,
                serde_json::from_str::<Value>(&text).unwrap_or_default(),
            ))
        }
    };
    let (status, signed_in) = post(
        "/_local/sign-in",
        json!({"username": user_for("Operator"), "password": PASSWORD}),
    )
    .await?;
    let refresh_token = signed_in["RefreshToken"].as_str().unwrap_or_default();
    if status != 200 || refresh_token.is_empty() {
        return Err(format!(
            "the operator's sign-in answered {status}: {signed_in}"
        ));
    }
    let (status, renewed) = post("/_local/refresh", json!({"refreshToken": refresh_token})).await?;
    let access = renewed["AccessToken"].as_str().unwrap_or_default();
    if status != 200 || access.is_empty() {
        return Err(format!(
            "the operator's refresh answered {status}: {renewed}"
        ));
    }
    let claims = jwt_payload(access);
    let lifetime = claims["exp"].as_i64().unwrap_or(0) - claims["iat"].as_i64().unwrap_or(0);
    if renewed["ExpiresIn"].as_i64() != Some(lifetime) {
        return Err(format!(
            "the renewed token lasts {lifetime} s but ExpiresIn says {}",
            renewed["ExpiresIn"]
        ));
    }
    let me = check.get(access, "/api/me").await?;
    if me["user"] != user_for("Operator") || me["user"] == claims["sub"] {
        return Err(format!(
            "the API names the renewed token's user {} (username {}, sub {})",
            me["user"], claims["username"], claims["sub"]
        ));
    }
    let (status, refused) = post(
        "/_local/refresh",
        json!({"refreshToken": format!("revoked-{}", std::process::id())}),
    )
    .await?;
    if status != 401 {
        return Err(format!(
            "a refresh token Cognito never issued answered {status}: {refused}"
        ));
    }
    step(&format!(
        "refresh: the operator's refresh token renews the access token ({lifetime} s; the API names `{}`, not the sub); an unknown one gets 401",
        me["user"].as_str().unwrap_or_default()
    ));
    Ok(())
}

/// Publishes a marked message to the topic (it lands in the outbox, so in the table) and,
/// when asked, deletes a protection group's record from under its plan.
async fn mark(
    check: &Check,
    sdk: &aws_config::SdkConfig,
    token: &str,
    mode: &Mode,
) -> Result<(), String> {
    if let Some(group) = &mode.drop_group {
        aws_sdk_dynamodb::Client::new(sdk)
            .delete_item()
            .table_name(local::TABLE)
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("GROUP#{group}")),
            )
            .key(
                "sk",
                aws_sdk_dynamodb::types::AttributeValue::S("GROUP".into()),
            )
            .send()
            .await
            .map_err(|e| format!("DeleteItem: {:?}", e.into_service_error()))?;
        step(&format!("deleted group {group}'s record under its plan"));
    }
    let Some(text) = &mode.mark else {
        return Ok(());
    };
    let sns = aws_sdk_sns::Client::new(sdk);
    sns.publish()
        .topic_arn(topic_arn(&sns).await?)
        .subject(subject_of(text))
        .message(format!("marked just before a stop: {text}"))
        .send()
        .await
        .map_err(|e| format!("Publish: {:?}", e.into_service_error()))?;
    if !outbox_subjects(check, token)
        .await?
        .contains(&subject_of(text))
    {
        return Err("the marked message did not reach the outbox".into());
    }
    step(&format!("marked message `{text}` is in the outbox"));
    Ok(())
}

async fn health(check: &Check) -> Result<(u16, Value), String> {
    let response = check
        .http
        .get(format!("{}/api/health", check.url))
        .send()
        .await
        .map_err(|e| format!("/api/health: {e}"))?;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

fn plans_in(body: &Value, list: &str) -> Vec<String> {
    body[list]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["plan"].as_str().map(str::to_owned))
        .collect()
}

/// A start whose stored plans could not all be deployed: started with DRS failing
/// (`--faults`) and crm-web's record deleted under crm-dr.
async fn recovering(
    check: &Check,
    aws: &str,
    token: &str,
    sdk: &aws_config::SdkConfig,
) -> Result<(), String> {
    let started = Instant::now();
    let pending = loop {
        let (status, body) = health(check).await?;
        if status == 200 {
            return Err(format!("health said ok while DRS was failing: {body}"));
        }
        if status != 503 || body["status"] != "starting" {
            return Err(format!("health answered {status} {body} while starting"));
        }
        if plans_in(&body, "pending").contains(&"shop-dr".to_owned()) {
            break body;
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err(format!("shop-dr is not pending after 60 s: {body}"));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    check.get(token, "/api/plans").await?;
    step(&format!(
        "health is 503 starting with shop-dr pending ({}) while the API serves",
        pending["pending"][0]["error"].as_str().unwrap_or_default()
    ));
    let cleared = check
        .http
        .post(format!("{}/_sim/faults", aws.trim_end_matches('/')))
        .body("{}")
        .send()
        .await
        .map_err(|e| format!("/_sim/faults: {e}"))?;
    if !cleared.status().is_success() {
        return Err(format!("clearing the faults answered {}", cleared.status()));
    }
    let cleared_at = Instant::now();
    let body = loop {
        let (status, body) = health(check).await?;
        if status == 200 {
            break body;
        }
        if cleared_at.elapsed() > Duration::from_secs(90) {
            return Err(format!(
                "health still says {status} {body} 90 s after DRS recovered"
            ));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let problems = plans_in(&body, "problems");
    if body["status"] != "ok" || problems != ["crm-dr"] {
        return Err(format!(
            "health once ready: {body}; expected ok with crm-dr as the only problem"
        ));
    }
    if !body["problems"][0]["error"]
        .as_str()
        .unwrap_or_default()
        .contains("crm-web")
    {
        return Err(format!(
            "crm-dr's problem does not name the missing group: {body}"
        ));
    }
    let plan = check.get(token, "/api/plans/shop-dr").await?;
    let arn = plan["stateMachineArn"]
        .as_str()
        .or_else(|| plan["plan"]["stateMachineArn"].as_str())
        .ok_or_else(|| format!("shop-dr has no stateMachineArn: {plan}"))?;
    aws_sdk_sfn::Client::new(sdk)
        .describe_state_machine()
        .state_machine_arn(arn)
        .send()
        .await
        .map_err(|e| {
            format!(
                "shop-dr's machine is not deployed: {:?}",
                e.into_service_error()
            )
        })?;
    step(&format!(
        "{:.1} s after DRS recovered health is ok, crm-dr listed as a problem, shop-dr's machine deployed",
        cleared_at.elapsed().as_secs_f64()
    ));
    Ok(())
}

async fn run(url: &str, aws: &str, mode: &Mode) -> Result<(), String> {
    let persisted = mode.persisted;
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

    if mode.mark.is_some() || mode.drop_group.is_some() {
        return mark(&check, &sdk, &approver, mode).await;
    }
    if mode.recovering {
        recovering(&check, aws, &operator, &sdk).await?;
    }
    if persisted {
        if let Some(text) = &mode.expect_mark
            && !outbox_subjects(&check, &approver)
                .await?
                .contains(&subject_of(text))
        {
            return Err(format!(
                "the message marked `{text}` just before the stop was not saved"
            ));
        }
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

    outbox_door(&check, &sdk, &approver).await?;
    sign_in_door(&check).await?;
    refresh_door(&check).await?;
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
                let approval_id = link
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .split('?')
                    .next()
                    .unwrap_or_default();
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
    let approval_id = link
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .split('?')
        .next()
        .unwrap_or_default()
        .to_owned();
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
    let mode = Mode {
        persisted: args.iter().any(|a| a == "--persisted"),
        recovering: args.iter().any(|a| a == "--recovering"),
        expect_mark: arg("--expect-mark"),
        mark: arg("--mark"),
        drop_group: arg("--drop-group"),
    };
    match run(&url, &aws, &mode).await {
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
