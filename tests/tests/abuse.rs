//! The standing abuse suite: the API tried as an attacker and as impatient operators
//! would, over the real wire (moto, the DRS simulator, the emulator's Cognito). Every
//! route × method × role × no token from the route table itself; malformed bodies,
//! headers, ids and page tokens; 20 concurrent requests at every write that guards
//! something (claims, saves, starts, votes). It prints its counts; 5xx, unauthorized
//! successes and lost or duplicated writes must all be 0.

use reqwest::Method;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use system_tests::{Api, Env, TABLE, s, text};

/// Servers of the demo fleet that the shop plan does not use.
const FREE: [&str; 4] = [
    "s-0a1b2c3d4e5f60014",
    "s-0a1b2c3d4e5f60015",
    "s-0a1b2c3d4e5f60016",
    "s-0a1b2c3d4e5f60017",
];
const ROLES: [&str; 5] = ["Admin", "PlanAuthor", "Operator", "Approver", "Viewer"];
const RACERS: usize = 20;

#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    races: AtomicU64,
    five_xx: AtomicU64,
    unauthorized_successes: AtomicU64,
    lost_or_duplicated: AtomicU64,
    failures: std::sync::Mutex<Vec<String>>,
}

impl Tally {
    /// Sends one request, counting it and any 5xx; a 5xx or a non-JSON error is noted.
    async fn call(
        &self,
        api: &Api,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let head = method == Method::HEAD;
        let (status, body) = api.call_with(token, method.clone(), path, body).await;
        if status >= 500 {
            self.five_xx.fetch_add(1, Ordering::Relaxed);
            self.fail(format!("{method} {path}: {status} {body}"));
        } else if status >= 400 && !head && !body["error"].is_string() {
            self.fail(format!(
                "{method} {path}: {status} without a JSON error: {body}"
            ));
        }
        (status, body)
    }

    async fn raw(&self, request: reqwest::RequestBuilder, what: &str) -> (u16, Value) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let response = request.send().await.expect("API answers");
        let status = response.status().as_u16();
        let body: Value =
            serde_json::from_str(&response.text().await.unwrap_or_default()).unwrap_or(Value::Null);
        if status >= 500 {
            self.five_xx.fetch_add(1, Ordering::Relaxed);
            self.fail(format!("{what}: {status} {body}"));
        } else if status >= 400 && !body["error"].is_string() {
            self.fail(format!("{what}: {status} without a JSON error: {body}"));
        }
        (status, body)
    }

    fn fail(&self, what: String) {
        self.failures.lock().expect("tally").push(what);
    }

    fn check(&self, ok: bool, what: impl Into<String>) {
        if !ok {
            self.fail(what.into());
        }
    }

    fn race(&self) {
        self.races.fetch_add(1, Ordering::Relaxed);
    }

    fn lost(&self, what: String) {
        self.lost_or_duplicated.fetch_add(1, Ordering::Relaxed);
        self.fail(what);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_api_holds_under_attack_and_races() {
    let (env, api, _listeners) = system_tests::three_tier_api().await;
    let tally = Tally::default();

    method_matrix(&api, &tally).await;
    tokens(&env, &api, &tally).await;
    malformed(&env, &api, &tally).await;
    claims(&env, &api, &tally).await;
    saves(&env, &api, &tally).await;
    groups_in_use(&api, &tally).await;
    audit_trail(&env, &api, &tally).await;
    ended_runs(&env, &api, &tally).await;
    starts_and_votes(&env, &api, &tally).await;
    outage(&env, &api, &tally).await;

    println!(
        "abuse suite: {} requests sent, {} concurrent races run ({RACERS} requests each), {} 5xx seen, {} unauthorized successes, {} lost or duplicated writes",
        tally.requests.load(Ordering::Relaxed),
        tally.races.load(Ordering::Relaxed),
        tally.five_xx.load(Ordering::Relaxed),
        tally.unauthorized_successes.load(Ordering::Relaxed),
        tally.lost_or_duplicated.load(Ordering::Relaxed),
    );
    let failures = tally.failures.lock().expect("tally").clone();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    env.stop().await;
}

/// Every route of the table × every method × every role and no token: a method without a
/// rule is 405 for everyone; HEAD has exactly GET's rights; otherwise 401 without a token,
/// 403 without a role, and never either with one.
async fn method_matrix(api: &Api, tally: &Tally) {
    let rules = api::policy::rules();
    let mut paths: Vec<&str> = rules.iter().map(|r| r.path).collect();
    paths.sort_unstable();
    paths.dedup();
    let methods = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::TRACE,
        Method::from_bytes(b"PURGE").expect("a method"),
    ];
    let callers: Vec<Option<&str>> = std::iter::once(None).chain(ROLES.map(Some)).collect();
    for path in paths {
        let url = path.replace("{id}", "abuse-x").replace("{key}", "k");
        for method in &methods {
            let rule = api::policy::rule_for(&rules, method, path);
            for caller in &callers {
                let token = caller.map(|r| api.pool.token(r).to_owned());
                let (status, body) = tally
                    .call(api, token.as_deref(), method.clone(), &url, None)
                    .await;
                let expected_refusal = match (rule, caller) {
                    (None, _) => Some(405),
                    (Some(r), _) if r.roles.is_none() => None,
                    (Some(_), None) => Some(401),
                    (Some(r), Some(role)) => {
                        let role = api::auth::Role::parse(role).expect("role");
                        (!r.roles.unwrap_or_default().contains(&role)).then_some(403)
                    }
                };
                let what = format!("{method} {url} as {caller:?}: {status} {body}");
                match expected_refusal {
                    Some(refusal) => {
                        if (200..300).contains(&status) {
                            tally.unauthorized_successes.fetch_add(1, Ordering::Relaxed);
                        }
                        tally.check(status == refusal, format!("expected {refusal}: {what}"));
                    }
                    None => tally.check(
                        ![401, 403, 405].contains(&status),
                        format!("expected to pass the access check: {what}"),
                    ),
                }
            }
        }
    }
}

/// Tokens that must not pass: ID tokens, other schemes, garbage of every size.
async fn tokens(env: &Env, api: &Api, tally: &Tally) {
    let idp = aws_sdk_cognitoidentityprovider::Client::new(&env.aws);
    let signed_in = system_tests::cognito::authenticate(
        &idp,
        &api.pool.client_id,
        "admin",
        system_tests::cognito::PASSWORD,
    )
    .await
    .expect("sign in");
    let id_token = signed_in.id_token.expect("an ID token");
    let (status, body) = tally
        .call(api, Some(&id_token), Method::GET, "/api/me", None)
        .await;
    tally.check(
        status == 401,
        format!("an ID token is refused: {status} {body}"),
    );
    // Tokens signed with the pool's own key: valid ones pass, one not valid yet (`nbf`)
    // or issued for another client does not; an unsigned one (`alg: none`) neither.
    let mint = |client: &str, nbf_offset: i64| {
        let out = std::process::Command::new(system_tests::root().join(".venv/bin/python"))
            .arg(system_tests::root().join("tests/abuse/mint_token.py"))
            .args([
                &api.pool.issuer,
                client,
                "minted",
                "Admin",
                &nbf_offset.to_string(),
            ])
            .output()
            .expect("python mints a token");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let client = api.pool.client_id.clone();
    for (token, want, what) in [
        (mint(&client, -60), 200, "a valid minted token"),
        (
            mint(&client, 3_600),
            401,
            "a token not valid for an hour (nbf)",
        ),
        (
            mint("another-client", -60),
            401,
            "a token for another app client",
        ),
        (
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4IiwidG9rZW5fdXNlIjoiYWNjZXNzIn0."
                .to_owned(),
            401,
            "an unsigned token",
        ),
    ] {
        let (status, body) = tally
            .call(api, Some(&token), Method::GET, "/api/me", None)
            .await;
        tally.check(
            status == want,
            format!("{what}: {status}, wanted {want}: {body}"),
        );
        if want != 200 && (200..300).contains(&status) {
            tally.unauthorized_successes.fetch_add(1, Ordering::Relaxed);
        }
    }

    let huge = "x".repeat(10_000);
    for header in [
        "Bearer ",
        "Basic YWRtaW46YWRtaW4=",
        "Bearer a.b.c",
        &format!("Bearer {huge}"),
    ] {
        let (status, _) = tally
            .raw(
                api.http
                    .get(format!("{}/api/me", api.url))
                    .header("authorization", header),
                "bad authorization header",
            )
            .await;
        tally.check(
            status == 401,
            format!(
                "`{}…` is refused: {status}",
                &header[..header.len().min(20)]
            ),
        );
        if (200..300).contains(&status) {
            tally.unauthorized_successes.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Malformed bodies, ids, page tokens and sizes: a 4xx naming the problem, never a 5xx,
/// never a panic, and fast.
async fn malformed(env: &Env, api: &Api, tally: &Tally) {
    let admin = Some(api.pool.token("Admin"));
    for path in [
        "/api/executions?nextToken=18446744073709551615",
        "/api/executions?nextToken=99999999999999999999999999",
        "/api/executions?nextToken=-1",
        "/api/executions?limit=0",
        "/api/executions?limit=abc",
        "/api/approvals?status=everything",
        "/api/plans/shop-dr?version=18446744073709551616",
        "/api/plans/shop-dr/graph?format=png",
    ] {
        let (status, body) = tally.call(api, admin, Method::GET, path, None).await;
        tally.check(status == 400, format!("{path}: {status} {body}"));
    }
    let long = "a".repeat(10_000);
    for path in [
        format!("/api/plans/{long}"),
        "/api/plans/%00".into(),
        "/api/executions/..%2F..%2Fetc".into(),
        "/api/approvals/'%3B%20DROP%20TABLE".into(),
        "/api/protection-groups/%F0%9F%92%A5".into(),
        format!("/api/executions/{long}/steps/{long}/logs"),
    ] {
        let (status, body) = tally.call(api, admin, Method::GET, &path, None).await;
        tally.check(
            (400..500).contains(&status),
            format!("{}: {status} {body}", &path[..path.len().min(60)]),
        );
    }
    let post = |path: &'static str, body: String, content_type: &'static str| {
        api.http
            .post(format!("{}{path}", api.url))
            .bearer_auth(api.pool.token("Admin"))
            .header("content-type", content_type)
            .body(body)
    };
    for (path, body, content_type, want) in [
        (
            "/api/protection-groups",
            "{".to_owned(),
            "application/json",
            400,
        ),
        (
            "/api/protection-groups",
            "[]".to_owned(),
            "application/json",
            400,
        ),
        (
            "/api/protection-groups",
            "{\"name\": 5}".to_owned(),
            "application/json",
            400,
        ),
        (
            "/api/protection-groups",
            "{\"name\": \"x\"}".to_owned(),
            "text/plain",
            415,
        ),
        ("/api/plans", "null".to_owned(), "application/json", 400),
        (
            "/api/plans",
            "x".repeat(2 * 1024 * 1024),
            "application/json",
            413,
        ),
        (
            "/api/plans/import",
            "[".repeat(100_000),
            "application/yaml",
            422,
        ),
        (
            "/api/plans/import",
            "x".repeat(2 * 1024 * 1024),
            "application/yaml",
            413,
        ),
        (
            "/api/approvals/abuse-x",
            "{\"decision\": \"MAYBE\"}".to_owned(),
            "application/json",
            422,
        ),
    ] {
        let size = body.len() / 1024;
        let started = Instant::now();
        let (status, answer) = tally.raw(post(path, body, content_type), path).await;
        tally.check(
            status == want,
            format!("POST {path} ({content_type}): {status}, wanted {want}: {answer}"),
        );
        // A figure, not a verdict: how fast the refusal came.
        if content_type == "application/yaml" {
            println!(
                "abuse suite: POST {path} ({size} KB) answered {status} in {} ms",
                started.elapsed().as_millis()
            );
        }
    }
    // A protection group with a name past the limit counts characters, not bytes.
    let name = "é".repeat(100);
    let (status, body) = tally
        .call(
            api,
            admin,
            Method::POST,
            "/api/protection-groups",
            Some(json!({"id": "long-name", "name": name, "servers": [FREE[3]]})),
        )
        .await;
    tally.check(
        status == 201,
        format!("100 two-byte characters is a valid name: {status} {body}"),
    );
    let (status, _) = tally
        .call(
            api,
            admin,
            Method::DELETE,
            &format!(
                "/api/protection-groups/{}?version=1",
                body["id"].as_str().unwrap_or("x")
            ),
            None,
        )
        .await;
    tally.check(
        status == 204,
        format!("the test group is deleted: {status}"),
    );

    // A wave of 50,000 groups (too large to store) and one of 14,000 (storable, but past
    // 200 groups a wave): both refused at once, before any group is read.
    for (count, want, path) in [(50_000, 413, "plan"), (14_000, 422, "plan.waves[0].groups")] {
        let groups: Vec<Value> = (0..count)
            .map(|i| json!({"group": format!("{i:x}")}))
            .collect();
        let huge_wave = json!({"plan": {"id": "huge", "name": "Huge", "waves": [{"name": "W", "groups": groups}]}});
        let started = Instant::now();
        let (status, body) = tally
            .call(api, admin, Method::POST, "/api/plans", Some(huge_wave))
            .await;
        let took = started.elapsed();
        tally.check(
            status == want && body["details"][0]["path"] == path,
            format!("{count} groups: {status} {body}"),
        );
        println!(
            "abuse suite: a plan naming {count} groups answered {status} in {} ms",
            took.as_millis()
        );
    }

    // A plan too large to store is refused before anything is deployed: no orphan machine.
    let machines_before = env
        .sfn
        .list_state_machines()
        .send()
        .await
        .expect("list")
        .state_machines
        .len();
    let mut plan = api.get("Viewer", "/api/plans/shop-dr").await.1["plan"].clone();
    plan["id"] = json!("too-large");
    plan["name"] = json!("Too large");
    plan["description"] = json!("d".repeat(300 * 1024));
    let (status, body) = tally
        .call(
            api,
            admin,
            Method::POST,
            "/api/plans",
            Some(json!({"plan": plan})),
        )
        .await;
    tally.check(status == 413, format!("a 300 KB plan: {status} {body}"));
    let machines_after = env
        .sfn
        .list_state_machines()
        .send()
        .await
        .expect("list")
        .state_machines
        .len();
    tally.check(
        machines_before == machines_after,
        format!("no orphan machine: {machines_before} → {machines_after}"),
    );
}

/// Twenty updates of one group at the same version, each adding the same server: one
/// wins, and the server's owner record is the winner's. Twenty groups claiming one
/// server: one wins.
async fn claims(env: &Env, api: &Api, tally: &Tally) {
    let author = api.pool.token("PlanAuthor");
    let (status, body) = tally
        .call(
            api,
            Some(author),
            Method::POST,
            "/api/protection-groups",
            Some(json!({"id": "race-g", "name": "Race", "servers": [FREE[0]]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    tally.race();
    let updates = (0..RACERS).map(|i| {
        tally.call(
            api,
            Some(author),
            Method::PUT,
            "/api/protection-groups/race-g",
            Some(json!({"name": format!("Race {i}"), "servers": [FREE[0], FREE[1]], "version": 1})),
        )
    });
    let answers = futures_join(updates).await;
    let won = answers.iter().filter(|(s, _)| *s == 200).count();
    tally.check(
        won == 1,
        format!("one update wins: {:?}", statuses(&answers)),
    );
    tally.check(
        answers.iter().all(|(s, _)| [200, 409].contains(s)),
        format!("updates: {:?}", statuses(&answers)),
    );
    for server in [FREE[0], FREE[1]] {
        if owner(env, server).await.as_deref() != Some("race-g") {
            tally.lost(format!(
                "owner record of {server} lost after the update race"
            ));
        }
    }
    let (status, body) = tally
        .call(
            api,
            Some(author),
            Method::POST,
            "/api/protection-groups",
            Some(json!({"id": "thief", "name": "Thief", "servers": [FREE[1]]})),
        )
        .await;
    if status == 201 {
        tally.lost(format!("a second group claimed {}: {body}", FREE[1]));
    }

    tally.race();
    let creates = (0..RACERS).map(|i| {
        tally.call(
            api,
            Some(author),
            Method::POST,
            "/api/protection-groups",
            Some(json!({"id": format!("claim-{i}"), "name": format!("Claim {i}"), "servers": [FREE[2]]})),
        )
    });
    let answers = futures_join(creates).await;
    let won: Vec<String> = answers
        .iter()
        .filter(|(s, _)| *s == 201)
        .map(|(_, b)| b["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    tally.check(
        won.len() == 1,
        format!("one claim wins: {:?}", statuses(&answers)),
    );
    if won.len() != 1 || owner(env, FREE[2]).await.as_deref() != won.first().map(String::as_str) {
        tally.lost(format!(
            "the owner of {} is not the one winner {won:?}",
            FREE[2]
        ));
    }
}

/// Twenty saves of one plan at the same version: one wins, and the deployed machine is
/// the stored plan's.
async fn saves(env: &Env, api: &Api, tally: &Tally) {
    let (_, current) = api.get("Viewer", "/api/plans/shop-dr").await;
    let version = current["version"].as_u64().expect("version");
    tally.race();
    let saves = (0..RACERS).map(|i| {
        let mut plan = current["plan"].clone();
        plan["defaults"]["launchTimeout"] = json!(format!("{}m", 31 + i));
        tally.call(
            api,
            Some(api.pool.token("PlanAuthor")),
            Method::PUT,
            "/api/plans/shop-dr",
            Some(json!({"plan": plan, "version": version})),
        )
    });
    let answers = futures_join(saves).await;
    let won = answers.iter().filter(|(s, _)| *s == 200).count();
    tally.check(won == 1, format!("one save wins: {:?}", statuses(&answers)));
    let (_, stored) = api.get("Viewer", "/api/plans/shop-dr").await;
    if stored["version"].as_u64() != Some(version + 1) {
        tally.lost(format!(
            "stored version after the race: {}",
            stored["version"]
        ));
    }
    let deployed = env
        .sfn
        .describe_state_machine()
        .state_machine_arn(stored["stateMachineArn"].as_str().unwrap_or_default())
        .send()
        .await
        .expect("the machine is deployed")
        .definition;
    let response = api
        .http
        .get(format!("{}/api/plans/shop-dr/asl", api.url))
        .bearer_auth(api.pool.token("Viewer"))
        .send()
        .await
        .expect("asl");
    let compiled: Value =
        serde_json::from_str(&response.text().await.unwrap_or_default()).unwrap_or(Value::Null);
    let deployed: Value = serde_json::from_str(&deployed).unwrap_or(Value::Null);
    if deployed != compiled {
        tally.lost("the deployed machine is not the stored plan's".into());
    }
}

/// A group a plan uses cannot be deleted; the answer names the plan.
async fn groups_in_use(api: &Api, tally: &Tally) {
    let (_, group) = api.get("Viewer", "/api/protection-groups/shop-db").await;
    let path = format!(
        "/api/protection-groups/shop-db?version={}",
        group["version"]
    );
    let (status, body) = tally
        .call(
            api,
            Some(api.pool.token("Admin")),
            Method::DELETE,
            &path,
            None,
        )
        .await;
    tally.check(
        status == 409
            && body["message"]
                .as_str()
                .unwrap_or_default()
                .contains("shop-dr"),
        format!("deleting a group in use: {status} {body}"),
    );
}

/// Two requests naming the same request id leave two audit records: the record's key is
/// the server's own id, the client's kept beside it.
async fn audit_trail(env: &Env, api: &Api, tally: &Tally) {
    for _ in 0..2 {
        let request = api
            .http
            .post(format!("{}/api/protection-groups/preview", api.url))
            .bearer_auth(api.pool.token("PlanAuthor"))
            .header("x-request-id", "the-same-id")
            .header("content-type", "application/json")
            .body(json!({"servers": [FREE[3]]}).to_string());
        let (status, body) = tally.raw(request, "preview").await;
        tally.check(status == 200, format!("preview: {status} {body}"));
    }
    let records = env
        .ddb
        .scan()
        .table_name(TABLE)
        .filter_expression("clientRequestId = :c")
        .expression_attribute_values(":c", s("the-same-id"))
        .send()
        .await
        .expect("scan")
        .items
        .unwrap_or_default();
    if records.len() != 2 {
        tally.lost(format!(
            "{} audit records for two requests sharing an id",
            records.len()
        ));
    }
}

/// Cancel a drill that waits for approval: its approval is void, leaves the inbox, and
/// deciding it is a 409 (not a decision recorded and then a 503).
async fn ended_runs(env: &Env, api: &Api, tally: &Tally) {
    let (status, started) = tally
        .call(
            api,
            Some(api.pool.token("Operator")),
            Method::POST,
            "/api/plans/shop-dr/executions",
            Some(json!({"mode": "DRILL", "pollSeconds": 1})),
        )
        .await;
    assert_eq!(status, 201, "{started}");
    let id = started["id"].as_str().unwrap_or_default().to_owned();
    let approval = wait_for_approval(api, &id).await;
    let (status, body) = tally
        .call(
            api,
            Some(api.pool.token("Operator")),
            Method::POST,
            &format!("/api/executions/{id}/cancel"),
            None,
        )
        .await;
    tally.check(
        status == 200 && body["approvalsVoided"] == 1,
        format!("cancel: {status} {body}"),
    );
    let (_, inbox) = api.get("Approver", "/api/approvals").await;
    tally.check(
        inbox["items"]
            .as_array()
            .is_some_and(|i| i.iter().all(|a| a["approvalId"] != approval.as_str())),
        format!("a cancelled run's approval leaves the inbox: {inbox}"),
    );
    let (status, body) = tally
        .call(
            api,
            Some(api.pool.token("Approver")),
            Method::POST,
            &format!("/api/approvals/{approval}"),
            Some(json!({"decision": "APPROVE"})),
        )
        .await;
    tally.check(
        status == 409,
        format!("deciding a cancelled run's approval: {status} {body}"),
    );
    let (_, record) = api
        .get("Viewer", &format!("/api/approvals/{approval}"))
        .await;
    tally.check(
        record["status"] == "CANCELLED",
        format!("the approval reads CANCELLED: {record}"),
    );
    // The next runs launch the same servers: wait until DRS has terminated these.
    let started = Instant::now();
    while env.live_drill_instances() > 0 && started.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Twenty RECOVERY starts at once: one runs. Twenty approvals by one approver of its
/// two-person gate: one vote counts. The starter cannot approve; a second person can.
async fn starts_and_votes(env: &Env, api: &Api, tally: &Tally) {
    // A start that has taken the plan's lock but not yet started its execution is never
    // taken for stale; one whose execution never came within the grace is.
    let (_, plan) = api.get("Viewer", "/api/plans/shop-dr").await;
    let ghost = format!(
        "{}:ghost-start",
        plan["stateMachineArn"]
            .as_str()
            .unwrap_or_default()
            .replace(":stateMachine:", ":execution:")
    );
    let put_lock = |taken_at: i64| {
        env.ddb
            .put_item()
            .table_name(TABLE)
            .item("pk", s("LOCK#PLAN#shop-dr"))
            .item("sk", s("LOCK"))
            .item("execution", s(&ghost))
            .item("token", s("ghost-token"))
            .item(
                "takenAt",
                aws_sdk_dynamodb::types::AttributeValue::N(taken_at.to_string()),
            )
            .send()
    };
    let now = api::domain::locks::now_epoch();
    put_lock(now).await.expect("a lock of a start in progress");
    let (status, body) = tally
        .call(
            api,
            Some(api.pool.token("Operator")),
            Method::POST,
            "/api/plans/shop-dr/executions",
            Some(json!({"mode": "DRILL", "pollSeconds": 1})),
        )
        .await;
    if status == 201 {
        tally.lost(format!(
            "a start took the plan from a start still in progress: {body}"
        ));
    }
    tally.check(
        status == 409
            && body["message"]
                .as_str()
                .unwrap_or_default()
                .contains("ghost-start"),
        format!("a start in progress holds: {status} {body}"),
    );
    put_lock(now - 600)
        .await
        .expect("a lock of a start that died");

    tally.race();
    let starts = (0..RACERS).map(|_| {
        tally.call(
            api,
            Some(api.pool.token("Operator")),
            Method::POST,
            "/api/plans/shop-dr/executions",
            Some(json!({"mode": "RECOVERY", "confirm": "Shop DR", "pollSeconds": 1})),
        )
    });
    let answers = futures_join(starts).await;
    let started: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 201)
        .map(|(_, b)| b)
        .collect();
    if started.len() != 1 {
        tally.lost(format!(
            "{} runs of one plan started at once: {:?}",
            started.len(),
            statuses(&answers)
        ));
    }
    let Some(run) = started
        .first()
        .and_then(|b| b["id"].as_str())
        .map(str::to_owned)
    else {
        return;
    };
    let approval = wait_for_approval(api, &run).await;
    let path = format!("/api/approvals/{approval}");
    let approve = json!({"decision": "APPROVE", "comment": "é".repeat(2_000)});
    let (status, body) = tally
        .call(
            api,
            Some(api.pool.token("Operator")),
            Method::POST,
            &path,
            Some(approve.clone()),
        )
        .await;
    tally.check(
        status == 403,
        format!("the Operator who started it is no approver: {status} {body}"),
    );
    // An Admin who starts a run cannot approve it either: separation of duties.
    let starter_admin = env.add_user(api, "admin2", "Admin").await;
    let second = env.add_user(api, "approver2", "Approver").await;

    tally.race();
    let votes = (0..RACERS).map(|_| {
        tally.call(
            api,
            Some(api.pool.token("Approver")),
            Method::POST,
            &path,
            Some(approve.clone()),
        )
    });
    let answers = futures_join(votes).await;
    let counted = answers.iter().filter(|(s, _)| *s == 202).count();
    tally.check(
        answers.iter().all(|(s, _)| [202, 409].contains(s)),
        format!("votes: {:?}", statuses(&answers)),
    );
    let item = env
        .ddb
        .get_item()
        .table_name(TABLE)
        .key("pk", s(&format!("APPROVAL#{approval}")))
        .key("sk", s("APPROVAL"))
        .consistent_read(true)
        .send()
        .await
        .expect("approval")
        .item
        .unwrap_or_default();
    let votes = item
        .get("votes")
        .and_then(|v| v.as_l().ok())
        .map_or(0, Vec::len);
    if counted != 1 || votes != 1 || text(&item, "status") != "PENDING" {
        tally.lost(format!(
            "one approver's 20 votes: {counted} counted, {votes} recorded, status {}",
            text(&item, "status")
        ));
    }
    let (status, body) = tally
        .call(
            api,
            Some(&second),
            Method::POST,
            &path,
            Some(approve.clone()),
        )
        .await;
    tally.check(
        status == 200 && body["status"] == "APPROVED",
        format!("a second person approves: {status} {body}"),
    );
    let (status, body) = tally
        .call(
            api,
            Some(api.pool.token("Operator")),
            Method::POST,
            &format!("/api/executions/{run}/cancel"),
            None,
        )
        .await;
    tally.check(
        status == 200,
        format!("the recovery is cancelled: {status} {body}"),
    );

    // admin2 starts a drill of a one-group plan and cannot approve its gate.
    let plan = json!({"id": "sod", "name": "SoD", "waves": [{"name": "W", "before": [{"type": "approval", "message": "go?", "drillQuorum": 2}], "groups": [{"group": "race-g"}]}]});
    let (status, body) = tally
        .call(
            api,
            Some(api.pool.token("PlanAuthor")),
            Method::POST,
            "/api/plans",
            Some(json!({"plan": plan})),
        )
        .await;
    tally.check(status == 201, format!("plan sod: {status} {body}"));
    let (status, started) = tally
        .call(
            api,
            Some(&starter_admin),
            Method::POST,
            "/api/plans/sod/executions",
            Some(json!({"mode": "DRILL", "pollSeconds": 1})),
        )
        .await;
    tally.check(
        status == 201,
        format!("admin2 starts sod: {status} {started}"),
    );
    let run = started["id"].as_str().unwrap_or_default().to_owned();
    let approval = wait_for_approval(api, &run).await;
    let (status, body) = tally
        .call(
            api,
            Some(&starter_admin),
            Method::POST,
            &format!("/api/approvals/{approval}"),
            Some(json!({"decision": "APPROVE"})),
        )
        .await;
    tally.check(
        status == 403,
        format!("an Admin who started the run cannot approve it: {status} {body}"),
    );
    if (200..300).contains(&status) {
        tally.unauthorized_successes.fetch_add(1, Ordering::Relaxed);
    }
    // The plan asks two people for its drills: one vote counts, a rejection decides.
    let (status, body) = tally
        .call(
            api,
            Some(api.pool.token("Approver")),
            Method::POST,
            &format!("/api/approvals/{approval}"),
            Some(json!({"decision": "APPROVE"})),
        )
        .await;
    tally.check(
        status == 202 && body["approvals"] == 1 && body["needed"] == 2,
        format!("a drill quorum of two counts the first vote: {status} {body}"),
    );
    let (status, body) = tally
        .call(
            api,
            Some(api.pool.token("Admin")),
            Method::POST,
            &format!("/api/approvals/{approval}"),
            Some(json!({"decision": "REJECT", "comment": "test over"})),
        )
        .await;
    tally.check(
        status == 200,
        format!("another Admin rejects: {status} {body}"),
    );
}

/// DynamoDB gone: 503 with a plain sentence, no SDK text.
async fn outage(env: &Env, api: &Api, tally: &Tally) {
    env.ddb
        .delete_table()
        .table_name(TABLE)
        .send()
        .await
        .expect("delete the table");
    tally.requests.fetch_add(1, Ordering::Relaxed);
    let (status, body) = api.get("Viewer", "/api/protection-groups").await;
    let message = body["message"].as_str().unwrap_or_default();
    tally.check(
        status == 503
            && message.contains("DynamoDB")
            && message.contains("request id")
            && !message.contains("ResourceNotFound")
            && !message.contains("arn:"),
        format!("an outage is a plain 503: {status} {body}"),
    );
}

async fn wait_for_approval(api: &Api, run: &str) -> String {
    let started = Instant::now();
    loop {
        let (_, inbox) = api.get("Admin", "/api/approvals").await;
        if let Some(id) = inbox["items"]
            .as_array()
            .and_then(|items| items.iter().find(|a| a["executionName"] == run))
            .and_then(|a| a["approvalId"].as_str())
        {
            return id.to_owned();
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no approval for {run}: {inbox}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn owner(env: &Env, server: &str) -> Option<String> {
    let item = env
        .ddb
        .get_item()
        .table_name(TABLE)
        .key("pk", s(&format!("SERVER#{server}")))
        .key("sk", s("OWNER"))
        .consistent_read(true)
        .send()
        .await
        .expect("owner")
        .item?;
    Some(text(&item, "groupId"))
}

fn statuses(answers: &[(u16, Value)]) -> Vec<u16> {
    answers.iter().map(|(s, _)| *s).collect()
}

/// Runs the requests at once and collects their answers.
async fn futures_join<F>(futures: impl Iterator<Item = F>) -> Vec<(u16, Value)>
where
    F: std::future::Future<Output = (u16, Value)>,
{
    futures::future::join_all(futures).await
}
