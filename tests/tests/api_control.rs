//! Controlling a run through the API over the real wire (moto + drs-sim): pause and
//! resume at a wave boundary, re-run of a failed run.

use aslgen::Split;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;
use system_tests::{Api, Env, wait_for};

const SERVERS: [&str; 3] = [
    "s-0a1b2c3d4e5f60016",
    "s-0a1b2c3d4e5f60017",
    "s-0a1b2c3d4e5f60018",
];

/// Three one-server groups, a plan of three waves in that order.
async fn three_waves(api: &Api, plan: &str, mode_extras: Value) {
    for (i, server) in SERVERS.iter().enumerate() {
        let (status, body) = api
            .call(
                Some("PlanAuthor"),
                Method::POST,
                "/api/protection-groups",
                Some(json!({"id": format!("g{i}"), "name": format!("G{i}"), "servers": [server]})),
            )
            .await;
        assert!(status == 201 || status == 409, "{body}");
    }
    let mut doc = json!({"id": plan, "name": plan, "waves": (0..3)
        .map(|i| json!({"name": format!("W{}", i + 1), "groups": [{"group": format!("g{i}")}]}))
        .collect::<Vec<_>>()});
    if let (Some(doc), Some(extras)) = (doc.as_object_mut(), mode_extras.as_object()) {
        doc.extend(extras.clone());
    }
    let (status, body) = api
        .call(
            Some("PlanAuthor"),
            Method::POST,
            "/api/plans",
            Some(json!({"plan": doc})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

fn launched(env: &Env, execution: &str) -> Vec<String> {
    env.launched_servers(execution).into_iter().collect()
}

async fn start(api: &Api, plan: &str) -> String {
    let (status, started) = api
        .call(
            Some("Operator"),
            Method::POST,
            &format!("/api/plans/{plan}/executions"),
            Some(json!({"mode": "DRILL", "pollSeconds": 1})),
        )
        .await;
    assert_eq!(status, 201, "{started}");
    started["id"].as_str().expect("id").to_owned()
}

/// Twenty identical requests at once; their statuses.
async fn race(api: &Api, path: &str) -> Vec<u16> {
    let calls = (0..20).map(|_| api.call(Some("Operator"), Method::POST, path, None));
    futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|(status, _)| status)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_run_waits_at_the_next_wave_boundary_until_resumed() {
    pause_at_the_wave_boundary(Split::Auto).await;
}

/// The same with every wave in its own child execution: the pause holds in the parent, between children.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_run_split_per_wave_waits_at_the_next_wave_boundary_until_resumed() {
    pause_at_the_wave_boundary(Split::Waves).await;
}

async fn pause_at_the_wave_boundary(split: Split) {
    let env = Env::start(system_tests::Setup::default()).await;
    let api = env.start_api_split(split).await;
    three_waves(&api, "paused", json!({})).await;
    let id = start(&api, "paused").await;
    let path = format!("/api/executions/{id}");

    // Twenty operators press Pause during wave 1: one request is taken.
    let statuses = race(&api, &format!("{path}/pause")).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    let paused = wait_for(&api, "Viewer", &path, |r| r["status"] == "PAUSED").await;
    assert_eq!(paused["pausedBefore"], 2, "{paused}");
    assert!(
        paused.get("pauseToken").is_none(),
        "the task token is never shown"
    );
    assert_eq!(launched(&env, &id), vec![SERVERS[0].to_owned()]);
    // Paused means paused: nothing launches while it waits.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(launched(&env, &id), vec![SERVERS[0].to_owned()]);
    let (_, record) = api.get("Viewer", &path).await;
    assert_eq!(
        (record["status"].clone(), record["engineStatus"].clone()),
        (json!("PAUSED"), json!("RUNNING")),
        "{record}"
    );

    // Twenty resumes: one releases the run.
    let statuses = race(&api, &format!("{path}/resume")).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    let done = wait_for(&api, "Viewer", &path, |r| {
        r["engineStatus"] != "RUNNING" && r["status"] != "RUNNING" && r["status"] != "PAUSED"
    })
    .await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(
        launched(&env, &id).into_iter().collect::<BTreeSet<_>>(),
        SERVERS.iter().map(|s| s.to_string()).collect()
    );
    let (status, body) = api
        .call(
            Some("Operator"),
            Method::POST,
            &format!("{path}/resume"),
            None,
        )
        .await;
    assert_eq!(status, 409, "{body}");
    // Twenty clean-ups of the ended drill at once: one starts (a conditional write).
    let statuses = race(&api, &format!("{path}/cleanup")).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 202 || *s == 409),
        "{statuses:?}"
    );
    wait_for(&api, "Viewer", &path, |r| r["cleanup"] == "CLEAN").await;

    // Cancel works while paused, and the drill is cleaned up.
    let id = start(&api, "paused").await;
    let path = format!("/api/executions/{id}");
    let (status, body) = api
        .call(
            Some("Operator"),
            Method::POST,
            &format!("{path}/pause"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    wait_for(&api, "Viewer", &path, |r| r["status"] == "PAUSED").await;
    let (status, body) = api
        .call(
            Some("Operator"),
            Method::POST,
            &format!("{path}/cancel"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let ended = wait_for(&api, "Viewer", &path, |r| r["cleanup"] == "CLEAN").await;
    assert_eq!(ended["status"], "CANCELLED", "{ended}");
    assert_eq!(env.live_drill_instances(), 0);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_adopts_what_the_failed_run_recovered_and_launches_the_rest() {
    rerun_adopts(Split::Auto).await;
}

/// The same with every wave in its own child execution: the children read what to adopt from the run's input.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_of_a_plan_split_per_wave_adopts_what_the_failed_run_recovered() {
    rerun_adopts(Split::Waves).await;
}

async fn rerun_adopts(split: Split) {
    let env = Env::start(system_tests::Setup::default()).await;
    let api = env.start_api_split(split).await;
    three_waves(&api, "again", json!({})).await;
    // Wave 2's server fails to launch: a real recovery fails there, wave 1 recovered.
    let mut faults = system_tests::Faults::default();
    faults.servers.insert(
        SERVERS[1].into(),
        serde_json::from_str(r#"{"launch": "fail"}"#).expect("fault"),
    );
    env.sim().set_faults(faults);
    let recovery = json!({"mode": "RECOVERY", "confirm": "again", "pollSeconds": 1});
    let (status, started) = api
        .call(
            Some("Operator"),
            Method::POST,
            "/api/plans/again/executions",
            Some(recovery),
        )
        .await;
    assert_eq!(status, 201, "{started}");
    let first = started["id"].as_str().expect("id").to_owned();
    let failed = wait_for(&api, "Viewer", &format!("/api/executions/{first}"), |r| {
        r["status"] == "FAILED" && r["engineStatus"] != "RUNNING"
    })
    .await;
    assert_eq!(failed["mode"], "RECOVERY");
    assert_eq!(
        launched(&env, &first),
        vec![SERVERS[0].to_owned(), SERVERS[1].to_owned()]
    );

    // The fault is fixed; a re-run needs the typed confirmation like any recovery.
    env.sim().set_faults(system_tests::Faults::default());
    let path = format!("/api/executions/{first}/rerun");
    let (status, body) = api
        .call(Some("Operator"), Method::POST, &path, Some(json!({})))
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = api
        .call(
            Some("Viewer"),
            Method::POST,
            &path,
            Some(json!({"confirm": "again"})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, rerun) = api
        .call(
            Some("Operator"),
            Method::POST,
            &path,
            Some(json!({"confirm": "again"})),
        )
        .await;
    assert_eq!(status, 201, "{rerun}");
    assert_eq!(rerun["adopted"], json!(["w1.g0"]), "{rerun}");
    assert_eq!(
        rerun["stateMachineVersionArn"], failed["stateMachineVersionArn"],
        "the same version runs again"
    );
    let second = rerun["id"].as_str().expect("id").to_owned();
    let done = wait_for(&api, "Viewer", &format!("/api/executions/{second}"), |r| {
        r["status"] != "RUNNING" && r["engineStatus"] != "RUNNING" && !r["status"].is_null()
    })
    .await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["rerunOf"], first.as_str());
    let steps = done["steps"].as_array().expect("steps");
    let adopted = steps.iter().find(|s| s["key"] == "w1.g0").expect("w1.g0");
    assert_eq!(
        (adopted["status"].clone(), adopted["adopted"].clone()),
        (json!("SUCCEEDED"), json!(true)),
        "{adopted}"
    );
    // Only the failed server is launched twice across the two runs.
    assert_eq!(
        launched(&env, &second),
        vec![SERVERS[1].to_owned(), SERVERS[2].to_owned()]
    );
    let (_, earlier) = api.get("Viewer", &format!("/api/executions/{first}")).await;
    assert_eq!(earlier["rerunBy"], second.as_str(), "{earlier}");
    // A succeeded run is not re-run.
    let (status, body) = api
        .call(
            Some("Operator"),
            Method::POST,
            &format!("/api/executions/{second}/rerun"),
            Some(json!({"confirm": "again"})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    env.stop().await;
}

/// The runbook's Lambda step, as local mode plays it (`POST /_local/lambda`).
async fn runbook_step(api: &Api, event: Value) -> (u16, Value) {
    let response = api
        .http
        .post(format!("{}/_local/lambda", api.url))
        .header("content-type", "application/json")
        .body(event.to_string())
        .send()
        .await
        .expect("the function answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runbook_starts_through_the_one_start_path() {
    let env = Env::start(system_tests::Setup::default()).await;
    let api = env.start_api().await;
    three_waves(&api, "book", json!({})).await;
    let ssm = aws_sdk_ssm::Client::new(&env.aws);
    let runbook = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../ssm-documents/run-recovery-plan.yaml"),
    )
    .expect("the runbook");
    for (name, content) in [
        (local::RUNBOOK_DOCUMENT, runbook.as_str()),
        ("Someone-Elses-Runbook", runbook.as_str()),
    ] {
        ssm.create_document()
            .name(name)
            .content(content)
            .document_type(aws_sdk_ssm::types::DocumentType::Automation)
            .document_format(aws_sdk_ssm::types::DocumentFormat::Yaml)
            .send()
            .await
            .expect("create the runbook");
    }
    let automation = |document: &'static str, plan: &'static str, mode: &'static str| {
        let ssm = ssm.clone();
        async move {
            ssm.start_automation_execution()
                .document_name(document)
                .parameters("PlanId", vec![plan.to_owned()])
                .parameters("Mode", vec![mode.to_owned()])
                .send()
                .await
                .expect("start the automation")
                .automation_execution_id
                .expect("an id")
        }
    };
    let me = "arn:aws:sts::123456789012:user/moto";
    let event = |id: &str, plan: &str, mode: &str| json!({"internal": "startPlan", "automationExecutionId": id, "planId": plan, "mode": mode, "pollSeconds": 1});

    // The payload cannot speak for anyone: SSM says which runbook, plan and principal.
    let (status, body) = runbook_step(&api, event("no-such-execution", "book", "DRILL")).await;
    assert_eq!(status, 403, "{body}");
    let other = automation("Someone-Elses-Runbook", "book", "DRILL").await;
    let (status, body) = runbook_step(&api, event(&other, "book", "DRILL")).await;
    assert_eq!(status, 403, "{body}");
    let elsewhere = automation(local::RUNBOOK_DOCUMENT, "another-plan", "DRILL").await;
    let (status, body) = runbook_step(&api, event(&elsewhere, "book", "DRILL")).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.to_string().contains("another-plan"), "{body}");
    // A real recovery needs the typed plan name here too.
    let recovery = automation(local::RUNBOOK_DOCUMENT, "book", "RECOVERY").await;
    let (status, body) = runbook_step(&api, event(&recovery, "book", "RECOVERY")).await;
    assert_eq!(status, 422, "{body}");

    let first = automation(local::RUNBOOK_DOCUMENT, "book", "DRILL").await;
    let (status, started) = runbook_step(&api, event(&first, "book", "DRILL")).await;
    assert_eq!(status, 200, "{started}");
    let id = started["id"].as_str().expect("id").to_owned();
    let (_, record) = api.get("Viewer", &format!("/api/executions/{id}")).await;
    let by = record["startedBy"].as_str().unwrap_or_default();
    assert!(by.starts_with(me) && by.contains(&first), "{record}");
    assert_eq!(record["planVersion"], 1, "{record}");
    assert!(
        record["stateMachineVersionArn"]
            .as_str()
            .is_some_and(|a| a.ends_with(":1")),
        "{record}"
    );

    // While it runs, the runbook cannot start the plan again: refused with the reason.
    let second = automation(local::RUNBOOK_DOCUMENT, "book", "DRILL").await;
    let (status, body) = runbook_step(&api, event(&second, "book", "DRILL")).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("already running") && m.contains(&id)),
        "{body}"
    );
    let done = wait_for(&api, "Viewer", &format!("/api/executions/{id}"), |r| {
        r["status"] != "RUNNING" && r["engineStatus"] != "RUNNING" && !r["status"].is_null()
    })
    .await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_of_an_email_sign_in_pool_are_named_by_email_not_by_guid() {
    use api::directory::{CognitoDirectory, Directory, Names};
    let env = Env::start(system_tests::Setup::default()).await;
    let idp = aws_sdk_cognitoidentityprovider::Client::new(&env.aws);
    // As the deployed pool (templates/auth.yaml): users sign in with their email.
    let pool = idp
        .create_user_pool()
        .pool_name("email-sign-in")
        .username_attributes(aws_sdk_cognitoidentityprovider::types::UsernameAttributeType::Email)
        .send()
        .await
        .expect("pool")
        .user_pool
        .and_then(|p| p.id)
        .expect("pool id");
    let created = idp
        .admin_create_user()
        .user_pool_id(&pool)
        .username("Alice.Approver@Example.com")
        .send()
        .await
        .expect("user")
        .user
        .and_then(|u| u.username)
        .expect("user name");
    assert_ne!(
        created, "Alice.Approver@Example.com",
        "Cognito names her by a GUID"
    );
    let directory = CognitoDirectory {
        client: idp.clone(),
        pool_id: pool.clone(),
    };
    assert_eq!(
        directory.email(&created).await.expect("AdminGetUser"),
        Some("Alice.Approver@Example.com".to_owned())
    );
    assert_eq!(directory.email("nobody").await.expect("AdminGetUser"), None);
    let names = Names::new(Box::new(directory));
    // The access token's username is the GUID, the same as its sub.
    assert_eq!(
        names.display(&created, &created).await.expect("a name"),
        "alice.approver@example.com"
    );
    env.stop().await;
}

/// A one-group plan on `server` whose group (or wave) carries `extra`; created through
/// the API with its group.
async fn one_group_plan(
    api: &Api,
    plan: &str,
    server: &str,
    group_extra: Value,
    wave_extra: Value,
) {
    let (status, body) = api
        .call(
            Some("PlanAuthor"),
            Method::POST,
            "/api/protection-groups",
            Some(json!({"id": format!("{plan}-g"), "name": format!("{plan} group"), "servers": [server]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let mut group = json!({"group": format!("{plan}-g")});
    if let (Some(g), Some(e)) = (group.as_object_mut(), group_extra.as_object()) {
        g.extend(e.clone());
    }
    let mut wave = json!({"name": "W", "groups": [group]});
    if let (Some(w), Some(e)) = (wave.as_object_mut(), wave_extra.as_object()) {
        w.extend(e.clone());
    }
    let (status, body) = api
        .call(
            Some("PlanAuthor"),
            Method::POST,
            "/api/plans",
            Some(json!({"plan": {"id": plan, "name": plan, "waves": [wave]}})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

/// Cancels run `id` once `ready` holds, waits for its clean-up; asserts nothing it
/// launched exists any more (DRS or EC2). Returns how many instances its jobs launched.
async fn cancel_when(
    env: &Env,
    api: &Api,
    id: &str,
    what: &str,
    ready: impl Fn(&Value) -> bool,
) -> usize {
    let path = format!("/api/executions/{id}");
    wait_for(api, "Viewer", &path, |r| ready(r)).await;
    let (status, body) = api
        .call(
            Some("Operator"),
            Method::POST,
            &format!("{path}/cancel"),
            None,
        )
        .await;
    assert_eq!(status, 200, "cancel {what}: {body}");
    let done = wait_for(api, "Viewer", &path, |r| {
        r["cleanup"] == "CLEAN" || r["cleanup"] == "FAILED"
    })
    .await;
    assert_eq!(done["cleanup"], "CLEAN", "cancel {what}: {done}");
    let (_, left) = api.get("Viewer", &format!("{path}/instances")).await;
    assert_eq!(
        left["items"],
        json!([]),
        "cancel {what}: DRS still lists {left}"
    );
    let (launched, alive) = env.run_ec2_instances(id).await;
    assert_eq!(
        alive,
        Vec::<String>::new(),
        "cancel {what}: EC2 still runs them"
    );
    launched.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_drill_leaves_none_of_its_instances_and_touches_no_other_run() {
    cancel_at_each_stage(Split::Auto).await;
}

/// The same with every wave in its own child execution: cancelling mid-job and during a
/// script stops the parent, which stops the running child; the clean-up finds what it launched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_drill_split_per_wave_leaves_none_of_its_instances() {
    cancel_at_each_stage(Split::Waves).await;
}

async fn cancel_at_each_stage(split: Split) {
    let mut faults = system_tests::Faults::default();
    // Mid-job: this server's launch takes twenty times as long.
    faults.servers.insert(
        "s-0a1b2c3d4e5f60017".into(),
        serde_json::from_str(r#"{"launch": "slow", "slowFactor": 20}"#).expect("fault"),
    );
    let env = Env::start(system_tests::Setup {
        faults,
        ..system_tests::Setup::default()
    })
    .await;
    let api = env.start_api_split(split).await;
    // Another team's drill keeps its instance: no cancel here may touch it.
    let (status, body) = api
        .call(
            Some("PlanAuthor"),
            Method::POST,
            "/api/protection-groups",
            Some(json!({"id": "kept-g", "name": "Kept", "servers": ["s-0a1b2c3d4e5f60019"]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let plan = json!({"id": "kept", "name": "Kept", "drill": {"cleanup": "keep"},
        "waves": [{"name": "W", "groups": [{"group": "kept-g"}]}]});
    let (status, body) = api
        .call(
            Some("PlanAuthor"),
            Method::POST,
            "/api/plans",
            Some(json!({"plan": plan})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let kept = start(&api, "kept").await;
    wait_for(&api, "Viewer", &format!("/api/executions/{kept}"), |r| {
        r["status"] == "SUCCEEDED" && r["engineStatus"] != "RUNNING"
    })
    .await;
    assert_eq!(
        env.run_ec2_instances(&kept).await.1.len(),
        1,
        "the kept drill keeps its instance"
    );

    // Before launch: the wave waits first.
    one_group_plan(
        &api,
        "before",
        "s-0a1b2c3d4e5f60016",
        json!({}),
        json!({"before": [{"type": "wait", "duration": "10m"}]}),
    )
    .await;
    let id = start(&api, "before").await;
    let launched = cancel_when(&env, &api, &id, "before launch", |r| {
        r["status"] == "RUNNING"
    })
    .await;
    assert_eq!(launched, 0);

    // Mid-job: DRS has the job, its instance not up yet.
    one_group_plan(&api, "midjob", "s-0a1b2c3d4e5f60017", json!({}), json!({})).await;
    let id = start(&api, "midjob").await;
    let job_started = |r: &Value| {
        r["steps"].as_array().is_some_and(|s| {
            s.iter()
                .any(|s| s["jobIds"].as_array().is_some_and(|j| !j.is_empty()))
        })
    };
    let launched = cancel_when(&env, &api, &id, "mid-job", job_started).await;
    assert_eq!(
        launched, 1,
        "the late instance was launched, then terminated"
    );

    // During an SSM step: a runbook that runs as long as it is let.
    let ssm = aws_sdk_ssm::Client::new(&env.aws);
    ssm.create_document()
        .name("Slow-Runbook")
        .content("schemaVersion: \"0.3\"\nparameters:\n  InstanceId: {type: StringList}\nmainSteps:\n  - name: Sleep\n    action: aws:sleep\n    inputs: {Duration: PT1H}\n")
        .document_type(aws_sdk_ssm::types::DocumentType::Automation)
        .document_format(aws_sdk_ssm::types::DocumentFormat::Yaml)
        .send()
        .await
        .expect("runbook");
    one_group_plan(
        &api,
        "script",
        "s-0a1b2c3d4e5f60018",
        json!({"steps": [{"type": "ssm", "name": "Long script", "kind": "automation", "document": "Slow-Runbook", "timeout": "1h"}]}),
        json!({}),
    )
    .await;
    let id = start(&api, "script").await;
    let in_script = |r: &Value| {
        r["steps"].as_array().is_some_and(|s| {
            s.iter().any(|s| {
                s["kind"] != "unit"
                    && s["status"] == "RUNNING"
                    && s["key"].as_str().is_some_and(|k| k.contains("step"))
            })
        })
    };
    let launched = cancel_when(&env, &api, &id, "during an SSM step", in_script).await;
    assert_eq!(launched, 1);

    // The other run's instance is untouched by all of it.
    let (launched, alive) = env.run_ec2_instances(&kept).await;
    assert_eq!(
        (launched.len(), alive.len()),
        (1, 1),
        "another run's instance was touched"
    );
    if split == Split::Waves {
        // Stopping a parent stops its running child (Step Functions' documented
        // behaviour for `.sync` children).
        for plan in ["midjob", "script"] {
            let children = env.child_executions(plan).await;
            assert_eq!(
                children,
                vec![aws_sdk_sfn::types::ExecutionStatus::Aborted],
                "{plan}"
            );
        }
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_machine_versions_are_pruned_under_the_quota() {
    use api::machines::{Machines, Sfn, VersionLimit};
    let env = Env::start(system_tests::Setup::default()).await;
    let client = aws_sdk_sfn::Client::new(&env.aws);
    let sfn = Sfn {
        client: client.clone(),
        role_arn: local::ROLE.into(),
        partition: "aws".into(),
        region: "us-east-1".into(),
        account: "123456789012".into(),
        log_group_arn: None,
        // Small, to see it: AWS's quota is 1000; the default keeps 800 past 900.
        versions: VersionLimit {
            prune_above: 3,
            keep: 2,
        },
    };
    let definition = |n: u32| {
        json!({"StartAt": "R", "States": {"R": {"Type": "Pass", "Result": n, "End": true}}})
            .to_string()
    };
    let mut published = Vec::new();
    for n in 1..=6 {
        published.push(
            sfn.publish("drs-plan-prune", &definition(n))
                .await
                .expect("publish"),
        );
    }
    let listed: Vec<String> = client
        .list_state_machine_versions()
        .state_machine_arn(sfn.arn("drs-plan-prune"))
        .send()
        .await
        .expect("list")
        .state_machine_versions
        .into_iter()
        .map(|v| v.state_machine_version_arn)
        .collect();
    assert!(listed.len() <= 3, "{listed:?}");
    assert_eq!(listed.first(), published.last(), "the newest is kept");
    assert!(
        !listed.contains(&published[0]),
        "the oldest is gone: {listed:?}"
    );
    env.stop().await;
}
