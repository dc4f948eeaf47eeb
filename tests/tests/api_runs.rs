//! Executions and approvals through the API, with the machines running in moto.

use aws_sdk_dynamodb::types::AttributeValue::{S, Ss};
use reqwest::Method;
use serde_json::json;

use aslgen::Split;
use aws_sdk_sfn::types::ExecutionStatus;
use system_tests::three_tier_api as three_tier_env;
use system_tests::{three_tier_api_split, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_runs_through_approval_by_the_api() {
    drill_through_approval(Split::Auto).await;
}

/// The same drill with every wave in its own child execution: the dashboard, approvals,
/// logs and clean-up read the records the children write under the parent's run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_split_per_wave_runs_through_approval_by_the_api() {
    drill_through_approval(Split::Waves).await;
}

async fn drill_through_approval(split: Split) {
    let (env, api, _listeners) = three_tier_api_split(split).await;
    let drill = json!({"mode": "DRILL", "pollSeconds": 1});
    let (status, _) = api
        .call(
            Some("Viewer"),
            Method::POST,
            "/api/plans/shop-dr/executions",
            Some(drill.clone()),
        )
        .await;
    assert_eq!(status, 403, "a viewer cannot start a run");
    let (status, preflight) = api.get("Viewer", "/api/plans/shop-dr/preflight").await;
    assert_eq!(
        (status, preflight["ready"].clone()),
        (200, json!(true)),
        "{preflight}"
    );

    let (status, started) = api
        .call(
            Some("Operator"),
            Method::POST,
            "/api/plans/shop-dr/executions",
            Some(drill.clone()),
        )
        .await;
    assert_eq!(status, 201, "{started}");
    let id = started["id"].as_str().unwrap().to_owned();
    // The dashboard opens straight away: the API records the start (and who made it)
    // before the machine's first state runs.
    let (status, opened) = api.get("Viewer", &format!("/api/executions/{id}")).await;
    assert_eq!(status, 200, "{opened}");
    assert_eq!(
        (
            opened["planId"].as_str(),
            opened["startedBy"].as_str(),
            opened["planVersion"].as_u64()
        ),
        (Some("shop-dr"), Some("operator"), Some(1)),
        "{opened}"
    );
    // The report reads the version the execution ran, whatever was saved since.
    let (status, ran) = api.get("Viewer", "/api/plans/shop-dr?version=1").await;
    assert_eq!((status, ran["version"].as_u64()), (200, Some(1)), "{ran}");
    let (status, missing) = api.get("Viewer", "/api/plans/shop-dr?version=7").await;
    assert_eq!(status, 404, "{missing}");
    assert!(
        missing["message"]
            .as_str()
            .unwrap()
            .contains("no version 7"),
        "{missing}"
    );
    let (status, bad) = api.get("Viewer", "/api/plans/shop-dr?version=latest").await;
    assert_eq!(status, 400, "{bad}");
    assert!(
        bad["message"].as_str().unwrap().contains("`latest`"),
        "{bad}"
    );
    let (status, body) = api
        .call(
            Some("Operator"),
            Method::POST,
            "/api/plans/shop-dr/executions",
            Some(drill),
        )
        .await;
    assert_eq!(status, 409, "one active execution per plan: {body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("already running"),
        "{body}"
    );

    // The approval appears for approvers; opening it changes nothing and shows no token.
    let pending = wait_for(&api, "Approver", "/api/approvals", |b| {
        !b["items"].as_array().unwrap().is_empty()
    })
    .await;
    let approval = &pending["items"][0];
    assert!(
        approval.get("taskToken").is_none(),
        "the token never leaves the API: {approval}"
    );
    let approval_id = approval["approvalId"].as_str().unwrap().to_owned();
    let path = format!("/api/approvals/{approval_id}");
    let (status, seen) = api.get("Viewer", &path).await;
    assert_eq!((status, seen["status"].clone()), (200, json!("PENDING")));
    // It says what deciding releases: the web wave, its group and the run's servers in it.
    assert_eq!(seen["releases"]["what"], "wave 3 · Web", "{seen}");
    assert_eq!(seen["releases"]["groups"][0]["group"], "shop-web", "{seen}");
    assert_eq!(
        seen["releases"]["groups"][0]["servers"]
            .as_array()
            .map(Vec::len),
        Some(4),
        "{seen}"
    );

    let approve = json!({"decision": "APPROVE", "comment": "web tier may open"});
    let (status, _) = api
        .call(Some("Operator"), Method::POST, &path, Some(approve.clone()))
        .await;
    assert_eq!(status, 403, "only approvers decide");
    let (status, body) = api
        .call(
            Some("Approver"),
            Method::POST,
            &path,
            Some(json!({"decision": "MAYBE"})),
        )
        .await;
    assert_eq!(
        (status, body["details"][0]["path"].clone()),
        (422, json!("decision"))
    );
    let (status, body) = api
        .call(Some("Approver"), Method::POST, &path, Some(approve.clone()))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api
        .call(Some("Approver"), Method::POST, &path, Some(approve))
        .await;
    assert_eq!(status, 409, "single use: {body}");

    let done = wait_for(&api, "Viewer", &format!("/api/executions/{id}"), |b| {
        b["status"] != "RUNNING" && !b["status"].is_null() && b["engineStatus"] != "RUNNING"
    })
    .await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["engineStatus"], "SUCCEEDED");
    let steps = done["steps"].as_array().unwrap();
    let approval_step = steps.iter().find(|s| s["key"] == "w3.before1").unwrap();
    assert_eq!(approval_step["status"], "APPROVED");
    let (_, decided) = api.get("Viewer", &path).await;
    assert_eq!(
        (decided["status"].clone(), decided["decidedBy"].clone()),
        (json!("APPROVED"), json!("approver"))
    );
    // The record of decisions: the inbox's second list.
    let (status, record) = api.get("Approver", "/api/approvals?status=decided").await;
    assert_eq!(status, 200, "{record}");
    assert!(
        record["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["approvalId"] == approval["approvalId"]
                && a["status"] == "APPROVED"
                && a["decidedBy"] == "approver"),
        "{record}"
    );
    let (status, bad) = api
        .get("Approver", "/api/approvals?status=everything")
        .await;
    assert_eq!(status, 400, "{bad}");
    assert!(bad.to_string().contains("`everything`"), "{bad}");

    // The drill cleaned up after itself; an explicit cleanup finds nothing left.
    let (status, body) = api
        .call(
            Some("Operator"),
            Method::POST,
            &format!("/api/executions/{id}/cleanup"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["cleanup"]["status"].clone()),
        (202, json!("RUNNING")),
        "{body}"
    );
    wait_for(&api, "Viewer", &format!("/api/executions/{id}"), |b| {
        b["cleanup"] == "CLEAN"
    })
    .await;
    assert_eq!(env.live_drill_instances(), 0);
    // Per-step logs: the DRS job log of a launch, and what an SSM step's command printed
    // on each recovered instance (moto runs no agent: status and exit code, empty output).
    let (status, launch) = api
        .get(
            "Viewer",
            &format!("/api/executions/{id}/steps/w2.shop-app/logs"),
        )
        .await;
    assert_eq!(status, 200, "{launch}");
    assert_eq!(
        launch["jobs"][0]["log"][0]["event"], "JOB_START",
        "{launch}"
    );
    let (status, script) = api
        .get(
            "Viewer",
            &format!("/api/executions/{id}/steps/w2.shop-app.step1/logs"),
        )
        .await;
    assert_eq!(status, 200, "{script}");
    // What scripts printed is for the roles that act on it, not for Viewers.
    assert_eq!(script["outputHidden"], true, "{script}");
    let (_, operator_view) = api
        .get(
            "Operator",
            &format!("/api/executions/{id}/steps/w2.shop-app.step1/logs"),
        )
        .await;
    assert_eq!(operator_view["outputHidden"], false, "{operator_view}");
    let command = &script["commands"][0];
    assert_eq!(
        (
            command["document"].as_str(),
            command["instanceCount"].as_u64()
        ),
        (Some("AWS-RunShellScript"), Some(4)),
        "{script}"
    );
    let invocations = command["invocations"].as_array().unwrap();
    assert_eq!(invocations.len(), 4, "{script}");
    assert!(
        invocations
            .iter()
            .all(|i| i["status"] == "Success" && i["responseCode"] == 0),
        "{script}"
    );
    let (status, missing) = api
        .get(
            "Viewer",
            &format!("/api/executions/{id}/steps/w9.nothing/logs"),
        )
        .await;
    assert_eq!(status, 404);
    assert!(
        missing["message"]
            .as_str()
            .unwrap()
            .contains("`w9.nothing`"),
        "{missing}"
    );
    // A command SSM no longer has (it keeps them 30 days) is named; the rest still shows.
    env.ddb
        .update_item()
        .table_name(system_tests::TABLE)
        .key("pk", S(format!("EXEC#{id}")))
        .key("sk", S("STEP#w2.shop-app.step1".into()))
        .update_expression("ADD commandIds :gone")
        .expression_attribute_values(":gone", Ss(vec!["0f0e0d0c-gone".into()]))
        .send()
        .await
        .unwrap();
    let (status, script) = api
        .get(
            "Viewer",
            &format!("/api/executions/{id}/steps/w2.shop-app.step1/logs"),
        )
        .await;
    assert_eq!(status, 200, "{script}");
    let commands = script["commands"].as_array().unwrap();
    assert_eq!(commands.len(), 2, "{script}");
    let gone = commands
        .iter()
        .find(|c| c["commandId"] == "0f0e0d0c-gone")
        .unwrap();
    assert!(
        gone["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{script}"
    );
    assert!(
        commands
            .iter()
            .any(|c| c["document"] == "AWS-RunShellScript"),
        "{script}"
    );
    let (status, instances) = api
        .get("Viewer", &format!("/api/executions/{id}/instances"))
        .await;
    assert_eq!(status, 200, "{instances}");
    assert!(instances["items"].is_array(), "{instances}");
    let (status, list) = api
        .get("Viewer", "/api/executions?plan=shop-dr&mode=DRILL")
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["items"][0]["id"], id);
    let (status, _) = api.get("Viewer", "/api/executions?limit=0").await;
    assert_eq!(status, 400);
    let children = env.child_executions("shop-dr").await;
    match split {
        Split::Auto => assert!(children.is_empty(), "{children:?}"),
        // The three waves, each one child execution that succeeded.
        Split::Waves => assert_eq!(children, vec![ExecutionStatus::Succeeded; 3]),
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_needs_confirmation_and_a_quorum_of_two() {
    let (env, api, _listeners) = three_tier_env().await;
    let (status, body) = api
        .call(
            Some("Operator"),
            Method::POST,
            "/api/plans/shop-dr/executions",
            Some(json!({"mode": "RECOVERY", "pollSeconds": 1})),
        )
        .await;
    assert_eq!(
        (status, body["details"][0]["path"].clone()),
        (422, json!("confirm")),
        "{body}"
    );
    let (status, started) = api
        .call(
            Some("Operator"),
            Method::POST,
            "/api/plans/shop-dr/executions",
            Some(json!({"mode": "RECOVERY", "confirm": "Shop DR", "pollSeconds": 1})),
        )
        .await;
    assert_eq!(status, 201, "{started}");
    let pending = wait_for(&api, "Approver", "/api/approvals", |b| {
        !b["items"].as_array().unwrap().is_empty()
    })
    .await;
    let path = format!(
        "/api/approvals/{}",
        pending["items"][0]["approvalId"].as_str().unwrap()
    );
    let approve = json!({"decision": "APPROVE"});
    let (status, body) = api
        .call(Some("Approver"), Method::POST, &path, Some(approve.clone()))
        .await;
    assert_eq!(
        (status, body["approvals"].clone()),
        (202, json!(1)),
        "{body}"
    );
    let (status, _) = api
        .call(Some("Approver"), Method::POST, &path, Some(approve.clone()))
        .await;
    assert_eq!(status, 409, "the same approver cannot count twice");
    let (status, body) = api
        .call(Some("Admin"), Method::POST, &path, Some(approve))
        .await;
    assert_eq!(status, 200, "{body}");
    let id = started["id"].as_str().unwrap();
    let done = wait_for(&api, "Viewer", &format!("/api/executions/{id}"), |b| {
        b["status"] != "RUNNING" && !b["status"].is_null() && b["engineStatus"] != "RUNNING"
    })
    .await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["mode"], "RECOVERY");
    // A real recovery is never cleaned up.
    let (status, _) = api
        .call(
            Some("Operator"),
            Method::POST,
            &format!("/api/executions/{id}/cleanup"),
            None,
        )
        .await;
    assert_eq!(status, 409);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_rejected_approvals_and_cancel() {
    approvals_expire_reject_and_cancel(Split::Auto).await;
}

/// The same with every wave in its own child execution: the approval waits in the parent
/// between waves, and the drill's clean-up finds what the children launched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_per_wave_expired_and_rejected_approvals_and_cancel() {
    approvals_expire_reject_and_cancel(Split::Waves).await;
}

async fn approvals_expire_reject_and_cancel(split: Split) {
    let (env, api, _listeners) = three_tier_api_split(split).await;
    let drill = json!({"mode": "DRILL", "pollSeconds": 1});
    let (_, started) = api
        .call(
            Some("Operator"),
            Method::POST,
            "/api/plans/shop-dr/executions",
            Some(drill.clone()),
        )
        .await;
    let id = started["id"].as_str().unwrap().to_owned();
    let pending = wait_for(&api, "Approver", "/api/approvals", |b| {
        !b["items"].as_array().unwrap().is_empty()
    })
    .await;
    let approval_id = pending["items"][0]["approvalId"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/approvals/{approval_id}");

    let key = |v: &str| aws_sdk_dynamodb::types::AttributeValue::S(v.to_owned());
    // The record carries its DynamoDB TTL: start of the execution + the step's 4 h
    // timeout + 90 days' retention, counted from the start time the API passed in.
    let item = env
        .ddb
        .get_item()
        .table_name(system_tests::TABLE)
        .key("pk", key(&format!("APPROVAL#{approval_id}")))
        .key("sk", key("APPROVAL"))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let expires: i64 = system_tests::text(&item, "expiresAt").parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let expected = now + 4 * 3_600 + 90 * 86_400;
    assert!(
        (expected - 300..=expected).contains(&expires),
        "expiresAt {expires}, expected about {expected}"
    );

    // Pretend the request was made long ago: the approval has expired.
    env.ddb
        .update_item()
        .table_name(system_tests::TABLE)
        .key("pk", key(&format!("APPROVAL#{approval_id}")))
        .key("sk", key("APPROVAL"))
        .update_expression("SET requestedAt = :t")
        .expression_attribute_values(":t", key("2020-01-01T00:00:00.000Z"))
        .send()
        .await
        .unwrap();
    let (status, body) = api
        .call(
            Some("Approver"),
            Method::POST,
            &path,
            Some(json!({"decision": "APPROVE"})),
        )
        .await;
    assert_eq!(status, 410, "{body}");
    // It is on the record as expired, undecided.
    let (_, seen) = api.get("Viewer", &path).await;
    assert_eq!(seen["status"], "EXPIRED", "{seen}");
    let (_, record) = api.get("Approver", "/api/approvals?status=decided").await;
    assert!(
        record["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["approvalId"] == approval_id.as_str() && a["status"] == "EXPIRED"),
        "{record}"
    );

    // Cancel stops the machine and terminates the drill's instances.
    let (status, body) = api
        .call(
            Some("Operator"),
            Method::POST,
            &format!("/api/executions/{id}/cancel"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["cleanup"]["status"], "RUNNING", "{body}");
    let after = wait_for(&api, "Viewer", &format!("/api/executions/{id}"), |b| {
        b["engineStatus"] != "RUNNING"
    })
    .await;
    assert_eq!(
        (after["status"].clone(), after["engineStatus"].clone()),
        (json!("CANCELLED"), json!("ABORTED")),
        "{after}"
    );
    let (status, _) = api
        .call(
            Some("Operator"),
            Method::POST,
            &format!("/api/executions/{id}/cancel"),
            None,
        )
        .await;
    assert_eq!(status, 409, "not running any more");
    // DRS refuses a launch while the servers' terminate job runs (ConflictException), as
    // it would in AWS: wait until the cancelled drill's instances are gone.
    wait_for(&api, "Viewer", &format!("/api/executions/{id}"), |b| {
        b["cleanup"] == "CLEAN"
    })
    .await;
    let (_, left) = api
        .get("Viewer", &format!("/api/executions/{id}/instances"))
        .await;
    assert_eq!(left["items"], json!([]), "clean means DRS lists none");
    let (launched, alive) = env.run_ec2_instances(&id).await;
    assert!(
        !launched.is_empty(),
        "the cancelled drill had launched before its approval"
    );
    assert_eq!(alive, Vec::<String>::new(), "EC2 still runs them");

    // The plan is free again; a rejection fails the run and its drill is cleaned up.
    let (status, started) = api
        .call(
            Some("Operator"),
            Method::POST,
            "/api/plans/shop-dr/executions",
            Some(drill),
        )
        .await;
    assert_eq!(status, 201, "{started}");
    let id = started["id"].as_str().unwrap().to_owned();
    let pending = wait_for(&api, "Approver", "/api/approvals", |b| {
        !b["items"].as_array().unwrap().is_empty()
    })
    .await;
    let path = format!(
        "/api/approvals/{}",
        pending["items"][0]["approvalId"].as_str().unwrap()
    );
    let (status, body) = api
        .call(
            Some("Approver"),
            Method::POST,
            &path,
            Some(json!({"decision": "REJECT", "comment": "not today"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let done = wait_for(&api, "Viewer", &format!("/api/executions/{id}"), |b| {
        b["status"] != "RUNNING" && !b["status"].is_null() && b["engineStatus"] != "RUNNING"
    })
    .await;
    assert_eq!(done["status"], "FAILED", "{done}");
    assert_eq!(done["errorName"], "Approval.Rejected");
    assert_eq!(env.live_drill_instances(), 0);
    env.stop().await;
}
