//! A run runs what its start compiled: the plan against the live groups and DRS
//! inventory, published as a state machine version. What the pre-flight showed, what the
//! locks hold and what the machine launches are one list, whatever was saved before.

use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use system_tests::{Api, Env, wait_for};

const FREE: &str = "s-0a1b2c3d4e5f60014";

fn launched(env: &Env, execution: &str) -> BTreeSet<String> {
    env.launched_servers(execution).into_iter().collect()
}

fn set(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// Starts a drill, approves whatever it asks, waits for it to succeed; returns its start
/// answer and its final record.
async fn drill(api: &Api, plan: &str) -> (Value, Value) {
    let (status, started) = api
        .call(
            Some("Operator"),
            Method::POST,
            &format!("/api/plans/{plan}/executions"),
            Some(json!({"mode": "DRILL", "pollSeconds": 1})),
        )
        .await;
    assert_eq!(status, 201, "{started}");
    let id = started["id"].as_str().expect("id").to_owned();
    let path = format!("/api/executions/{id}");
    let started_at = Instant::now();
    loop {
        let (_, record) = api.get("Viewer", &path).await;
        // Ended as recorded and in Step Functions (the notification comes after the record).
        if record["status"] != "RUNNING"
            && !record["status"].is_null()
            && record["engineStatus"] != "RUNNING"
        {
            assert_eq!(record["status"], "SUCCEEDED", "{record}");
            return (started, record);
        }
        let (_, inbox) = api.get("Approver", "/api/approvals").await;
        for approval in inbox["items"].as_array().into_iter().flatten() {
            if approval["executionName"] == id.as_str() {
                let decide = format!(
                    "/api/approvals/{}",
                    approval["approvalId"].as_str().unwrap_or_default()
                );
                api.call(
                    Some("Approver"),
                    Method::POST,
                    &decide,
                    Some(json!({"decision": "APPROVE"})),
                )
                .await;
            }
        }
        assert!(started_at.elapsed() < Duration::from_secs(180), "{record}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_launches_the_servers_its_preflight_showed_from_a_version_of_its_own() {
    let (env, api, _listeners) = system_tests::three_tier_api().await;

    // After the save, the web group loses one server and gains another.
    let (_, web) = api.get("Viewer", "/api/protection-groups/shop-web").await;
    let mut servers = set(&web["servers"]);
    let dropped = servers.pop_last().expect("a web server");
    servers.insert(FREE.to_owned());
    let (status, body) = api
        .call(
            Some("PlanAuthor"),
            Method::PUT,
            "/api/protection-groups/shop-web",
            Some(json!({"name": web["name"], "servers": servers, "version": web["version"]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // The edit answers with the plans it changes (the UI says so).
    assert_eq!(body["plansChanged"], json!(["shop-dr"]), "{body}");

    let (started, record) = drill(&api, "shop-dr").await;
    let id = started["id"].as_str().expect("id");
    let shown = set(&started["servers"]);
    assert_eq!(
        shown.len() as u64,
        started["preflight"]["servers"].as_u64().unwrap_or(0)
    );
    assert!(
        shown.contains(FREE) && !shown.contains(&dropped),
        "{shown:?}"
    );
    let (_, kept) = api
        .get("Viewer", &format!("/api/executions/{id}/servers"))
        .await;
    assert_eq!(set(&kept["servers"]), shown, "the run keeps the list");
    assert_eq!(record["serverCount"].as_u64(), Some(shown.len() as u64));
    assert!(
        record.get("servers").is_none(),
        "the dashboard's read stays small"
    );
    assert_eq!(
        launched(&env, id),
        shown,
        "the machine launched exactly that list"
    );

    // The record names the version; its definition is what the start compiled.
    let version = record["stateMachineVersionArn"]
        .as_str()
        .expect("a version ARN");
    assert!(
        version.starts_with(record["stateMachineArn"].as_str().unwrap_or("-")),
        "{record}"
    );
    let described = env
        .sfn
        .describe_execution()
        .execution_arn(record["executionArn"].as_str().unwrap_or_default())
        .send()
        .await
        .expect("the execution");
    assert_eq!(described.state_machine_version_arn(), Some(version));
    let published: Value = serde_json::from_str(
        &env.sfn
            .describe_state_machine()
            .state_machine_arn(version)
            .send()
            .await
            .expect("the version")
            .definition,
    )
    .expect("JSON");
    let compiled: Value = serde_json::from_str(
        &api.http
            .get(format!("{}/api/plans/shop-dr/asl", api.url))
            .bearer_auth(api.pool.token("Viewer"))
            .send()
            .await
            .expect("asl")
            .text()
            .await
            .unwrap_or_default(),
    )
    .expect("JSON");
    assert_eq!(published, compiled);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_selected_group_follows_the_tags_when_the_plan_runs() {
    let env = Env::start(system_tests::Setup::default()).await;
    let api = env.start_api().await;
    let selector = json!({"Application": "crm", "Role": "web"});
    let (status, group) = api
        .call(
            Some("PlanAuthor"),
            Method::POST,
            "/api/protection-groups",
            Some(json!({"id": "crm-web", "name": "CRM web", "tagSelector": selector})),
        )
        .await;
    assert_eq!(status, 201, "{group}");
    let plan = json!({"id": "crm-web-dr", "name": "CRM web DR", "drill": {"cleanup": "immediate"},
        "waves": [{"name": "Web", "groups": [{"group": "crm-web"}]}]});
    let (status, body) = api
        .call(
            Some("PlanAuthor"),
            Method::POST,
            "/api/plans",
            Some(json!({"plan": plan})),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let (first, _) = drill(&api, "crm-web-dr").await;
    let before = set(&first["servers"]);
    assert!(before.len() >= 2, "{first}");
    assert_eq!(
        launched(&env, first["id"].as_str().unwrap_or_default()),
        before
    );

    // One web server is retagged in DRS between the two runs.
    let moved = before.first().expect("a server").clone();
    let described = env
        .drs
        .describe_source_servers()
        .filters(
            aws_sdk_drs::types::DescribeSourceServersRequestFilters::builder()
                .source_server_ids(&moved)
                .build(),
        )
        .send()
        .await
        .expect("describe");
    let arn = described.items()[0].arn().expect("an ARN").to_owned();
    env.drs
        .tag_resource()
        .resource_arn(&arn)
        .tags("Role", "retired")
        .send()
        .await
        .expect("retag");
    system_tests::wait_for(&api, "Viewer", "/api/executions?plan=crm-web-dr", |b| {
        b["items"]
            .as_array()
            .is_some_and(|i| i.iter().all(|e| e["status"] != "RUNNING"))
    })
    .await;

    let (second, _) = drill(&api, "crm-web-dr").await;
    let after = set(&second["servers"]);
    let expected: BTreeSet<String> = before.iter().filter(|s| **s != moved).cloned().collect();
    assert_eq!(after, expected, "the second run follows the tags");
    assert_eq!(
        launched(&env, second["id"].as_str().unwrap_or_default()),
        expected
    );
    env.stop().await;
}

/// The drill instances the simulator holds, by the job that launched them: (alive, terminating).
fn instances_of(env: &Env, jobs: &BTreeSet<String>) -> (usize, usize) {
    let world = drs_sim::server::lock(&env.sim().world);
    let mine = world.instances.values().filter(|r| jobs.contains(&r.job));
    mine.fold((0, 0), |(alive, ending), r| {
        if r.terminating {
            (alive, ending + 1)
        } else {
            (alive + 1, ending)
        }
    })
}

/// The launch jobs of one execution.
fn jobs_of(env: &Env, execution: &str) -> BTreeSet<String> {
    env.launches()
        .into_iter()
        .filter(|(_, call)| call.request["tags"]["drsOrchestratorExecution"] == execution)
        .filter_map(|(_, call)| call.job_id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleaning_up_one_drill_leaves_the_next_drills_instances_running() {
    let env = Env::start(system_tests::Setup::default()).await;
    let api = env.start_api().await;
    let (status, body) = api
        .call(
            Some("PlanAuthor"),
            Method::POST,
            "/api/protection-groups",
            Some(json!({"id": "pair", "name": "Pair", "servers": [FREE, "s-0a1b2c3d4e5f60015"]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    // Instances are kept after the drill, and the drill waits for an approval after its
    // launch: the second run is running with its instances up when the first is cleaned.
    let plan = json!({"id": "keep", "name": "Keep", "drill": {"cleanup": "keep"},
        "waves": [{"name": "W", "groups": [{"group": "pair"}],
                   "after": [{"type": "approval", "message": "Done looking?"}]}]});
    let (status, body) = api
        .call(
            Some("PlanAuthor"),
            Method::POST,
            "/api/plans",
            Some(json!({"plan": plan})),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let (first, _) = drill(&api, "keep").await;
    let a = first["id"].as_str().expect("id").to_owned();
    let a_jobs = jobs_of(&env, &a);
    assert_eq!(instances_of(&env, &a_jobs), (2, 0), "A keeps its instances");

    let (status, second) = api
        .call(
            Some("Operator"),
            Method::POST,
            "/api/plans/keep/executions",
            Some(json!({"mode": "DRILL", "pollSeconds": 1})),
        )
        .await;
    assert_eq!(status, 201, "{second}");
    let b = second["id"].as_str().expect("id").to_owned();
    let started = Instant::now();
    while instances_of(&env, &jobs_of(&env, &b)).0 < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "B never launched"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let (status, cleaned) = api
        .call(
            Some("Operator"),
            Method::POST,
            &format!("/api/executions/{a}/cleanup"),
            None,
        )
        .await;
    assert_eq!(
        (status, cleaned["cleanup"]["status"].as_str()),
        (202, Some("RUNNING")),
        "{cleaned}"
    );
    wait_for(&api, "Viewer", &format!("/api/executions/{a}"), |r| {
        r["cleanup"] == "CLEAN"
    })
    .await;
    assert_eq!(
        instances_of(&env, &a_jobs),
        (0, 0),
        "A's instances are gone"
    );
    assert_eq!(
        instances_of(&env, &jobs_of(&env, &b)),
        (2, 0),
        "B's instances are untouched"
    );

    // Cancelling B terminates B's own.
    let (status, cancelled) = api
        .call(
            Some("Operator"),
            Method::POST,
            &format!("/api/executions/{b}/cancel"),
            None,
        )
        .await;
    assert_eq!(
        (status, cancelled["cleanup"]["status"].as_str()),
        (200, Some("RUNNING")),
        "{cancelled}"
    );
    wait_for(&api, "Viewer", &format!("/api/executions/{b}"), |r| {
        r["cleanup"] == "CLEAN"
    })
    .await;
    assert_eq!(instances_of(&env, &jobs_of(&env, &b)), (0, 0));
    env.stop().await;
}
