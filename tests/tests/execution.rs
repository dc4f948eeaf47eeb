//! Compiled machines executed in moto's Step Functions engine against the DRS simulator.
//! Each test starts its own emulator on free loopback ports.

use aslgen::Split;
use aws_sdk_sfn::types::ExecutionStatus;
use std::collections::HashMap;
use std::time::Duration;
use system_tests::{
    Env, Faults, Setup, compile, fleet, launch_faults, statemachine, text, three_tier_env,
};

const LIMIT: Duration = Duration::from_secs(120);
/// One-second polls: the simulator (600× real time) finishes a launch within one poll.
const FAST: &str = r#"{"mode": "DRILL", "pollSeconds": 1}"#;
/// Back-to-back polls, each counted as one second against deadlines.
const BUSY: &str = r#"{"mode": "DRILL", "pollSeconds": 0}"#;

/// Sim time at which each unit's job had every server launched.
fn launched_at(env: &Env) -> HashMap<String, i64> {
    let world = drs_sim::server::lock(&env.sim().world);
    world
        .jobs
        .iter()
        .filter_map(|job| {
            let unit = job.tags.get("drsOrchestratorUnit")?.clone();
            let last = job
                .log
                .iter()
                .filter(|l| l.event == "LAUNCH_START")
                .map(|l| l.at)
                .max()?;
            Some((unit, last))
        })
        .collect()
}

fn unit_of(tag: &str) -> &str {
    tag.split('/').nth(1).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_tier_drill_honours_waves_dependencies_and_approval() {
    let (env, _listeners) = three_tier_env().await;
    let machine = env
        .deploy("drs-plan-shop-dr", &statemachine("shop-dr"))
        .await;
    let execution = env.start_execution(&machine, "drill-1", FAST).await;

    // The approval before the web wave blocks it.
    let approval = env.next_approval(LIMIT).await;
    assert_eq!(text(&approval, "stepKey"), "w3.before1");
    assert_eq!(text(&approval, "planId"), "shop-dr");
    assert!(
        text(&approval, "taskToken").len() > 10,
        "the token is stored with the approval"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !env.launches()
            .iter()
            .any(|(unit, _)| unit_of(unit) == "w3.shop-web"),
        "web launched before its approval"
    );
    // The request went out by SNS (its text is checked where the outbox reads it).
    assert!(
        env.sim().calls().iter().any(|c| c.service == "sns"),
        "no SNS publish"
    );

    env.decide(&approval, true).await;
    let (status, error, cause) = env.wait(&execution, LIMIT).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{error}: {cause}");

    // Launch order: every dependency's target launched (and, for running/healthy, more)
    // before its dependent's StartRecovery; waves in order.
    let launches = env.launches();
    let at = launched_at(&env);
    let start_of = |unit: &str| {
        launches
            .iter()
            .find(|(u, c)| unit_of(u) == unit && c.status == 202)
            .map(|(_, c)| drs_sim::clock::parse_iso(&c.sim_time).unwrap())
            .unwrap_or_else(|| panic!("{unit} never launched"))
    };
    let done = |unit: &str| {
        *at.iter()
            .find(|(u, _)| unit_of(u) == unit)
            .map(|(_, t)| t)
            .unwrap_or_else(|| panic!("{unit} never finished launching"))
    };
    for (before, after) in [
        ("w1.shop-db", "w2.shop-app"),
        ("w1.shop-db", "w2.shop-reporting"),
        ("w2.shop-app", "w3.shop-web"),
        ("w2.shop-reporting", "w3.shop-web"),
    ] {
        assert!(
            done(before) <= start_of(after),
            "{after} started before {before} had launched"
        );
    }
    // `healthy`: the DB's TCP probe ran before the app tier launched.
    let calls = env.sim().calls();
    let app_start = calls
        .iter()
        .find(|c| {
            c.operation == "StartRecovery"
                && c.request["tags"]["drsOrchestratorUnit"]
                    .as_str()
                    .is_some_and(|u| unit_of(u) == "w2.shop-app")
        })
        .unwrap()
        .seq;
    let db_probe = calls
        .iter()
        .filter(|c| c.service == "lambda" && c.request["port"] == 5432)
        .map(|c| c.seq)
        .max()
        .expect("the DB was probed");
    assert!(
        db_probe < app_start,
        "app launched before the DB was healthy"
    );
    // The probe was given the instances' private addresses (moto's) and took them, as the
    // deployed probe would: offline, only the connection is redirected to 127.0.0.1.
    for call in calls.iter().filter(|c| c.service == "lambda") {
        assert_eq!(call.status, 200, "{}", call.request);
        for target in call.request["targets"].as_array().expect("targets") {
            let ip: std::net::IpAddr = target.as_str().unwrap_or_default().parse().unwrap();
            assert_eq!(tasks::probe::Reach::Private.refuses(ip), None, "{ip}");
        }
    }

    // One StartRecovery per unit, no retries needed.
    assert_eq!(launches.len(), 4, "{launches:?}");

    // Progress records written by the machine.
    let records = env.records("drill-1").await;
    assert_eq!(text(&records["EXECUTION"], "status"), "SUCCEEDED");
    for unit in [
        "w1.shop-db",
        "w2.shop-app",
        "w2.shop-reporting",
        "w3.shop-web",
    ] {
        let record = &records[&format!("STEP#{unit}")];
        assert_eq!(text(record, "status"), "SUCCEEDED", "{unit}: {record:?}");
    }
    assert_eq!(text(&records["STEP#w3.before1"], "status"), "APPROVED");

    // The drill policy cleans up as soon as the plan ends.
    assert_eq!(
        env.live_drill_instances(),
        0,
        "drill instances left running"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejection_fails_the_plan_and_cleans_up_the_drill() {
    let (env, _listeners) = three_tier_env().await;
    let machine = env
        .deploy("drs-plan-shop-dr", &statemachine("shop-dr"))
        .await;
    let execution = env.start_execution(&machine, "rejected", FAST).await;
    let approval = env.next_approval(LIMIT).await;
    env.decide(&approval, false).await;
    let (status, error, _) = env.wait(&execution, LIMIT).await;
    assert_eq!(status, ExecutionStatus::Failed);
    assert_eq!(error, aslgen::compile::errors::PLAN_FAILED);
    let records = env.records("rejected").await;
    assert_eq!(text(&records["STEP#w3.before1"], "status"), "REJECTED");
    assert_eq!(text(&records["EXECUTION"], "status"), "FAILED");
    assert_eq!(
        text(&records["EXECUTION"], "errorName"),
        aslgen::compile::errors::APPROVAL_REJECTED
    );
    assert!(
        env.launches()
            .iter()
            .all(|(u, _)| unit_of(u) != "w3.shop-web")
    );
    assert_eq!(
        env.live_drill_instances(),
        0,
        "rejected drill left instances running"
    );
    env.stop().await;
}

const SMALL: &str = r#"
protectionGroups:
  - {id: core, name: Core, servers: [s-0a1b2c3d4e5f6001b, s-0a1b2c3d4e5f6001c]}
  - {id: extra, name: Extra, servers: [s-0a1b2c3d4e5f6001d]}
plan:
  id: small
  name: Small
  defaults: {launchTimeout: 2m}
  waves:
    - name: One
      groups:
        - group: core
        - group: extra
          criticality: optional
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optional_failure_warns_and_critical_failure_stops() {
    let env = Env::start(Setup {
        faults: launch_faults(&[("s-0a1b2c3d4e5f6001d", r#"{"launch": "fail"}"#)]),
        ..Setup::default()
    })
    .await;
    let machine = env.deploy("drs-plan-small", &compile(SMALL, None)).await;
    let execution = env.start_execution(&machine, "optional", FAST).await;
    let (status, error, cause) = env.wait(&execution, LIMIT).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{error}: {cause}");
    let records = env.records("optional").await;
    let extra = &records["STEP#w1.extra"];
    assert_eq!(text(extra, "status"), "FAILED");
    assert_eq!(text(extra, "critical"), "false");
    assert_eq!(
        text(extra, "errorName"),
        aslgen::compile::errors::LAUNCH_FAILED
    );
    assert_eq!(text(&records["STEP#w1.core"], "status"), "SUCCEEDED");
    assert_eq!(env.live_drill_instances(), 0);
    // The run succeeded with a warning: counted on its record and said in its notification.
    assert_eq!(text(&records["EXECUTION"], "status"), "SUCCEEDED");
    assert_eq!(text(&records["EXECUTION"], "warnings"), "1");
    let notified: Vec<String> = env
        .history(&execution)
        .await
        .iter()
        .filter_map(|e| e.task_scheduled_event_details())
        .filter(|d| d.resource_type() == "sns")
        .map(|d| d.parameters().to_owned())
        .collect();
    assert!(
        notified
            .iter()
            .any(|p| p.contains("SUCCEEDED with warnings: 1 optional group(s) failed")),
        "{notified:?}"
    );

    // The same failure in the critical group fails the plan, and the drill is cleaned up.
    let mut faults = Faults::default();
    faults.servers.insert(
        "s-0a1b2c3d4e5f6001b".into(),
        serde_json::from_str(r#"{"launch": "fail"}"#).unwrap(),
    );
    env.sim().reset();
    env.sim().set_faults(faults);
    let execution = env.start_execution(&machine, "critical", FAST).await;
    let (status, _, _) = env.wait(&execution, LIMIT).await;
    assert_eq!(status, ExecutionStatus::Failed);
    let records = env.records("critical").await;
    assert_eq!(text(&records["STEP#w1.core"], "status"), "FAILED");
    assert_eq!(text(&records["STEP#w1.core"], "critical"), "true");
    assert_eq!(text(&records["EXECUTION"], "status"), "FAILED");
    assert_eq!(
        text(&records["EXECUTION"], "warnings"),
        "",
        "a critical failure is no warning"
    );
    assert_eq!(
        env.live_drill_instances(),
        0,
        "failed drill left instances running"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_ambiguous_failures_never_double_launch() {
    let faults: Faults = serde_json::from_str(
        r#"{"operations": {"StartRecovery": {"throttle": 2, "serverErrorAfterCommit": 1}}}"#,
    )
    .unwrap();
    let env = Env::start(Setup {
        faults,
        ..Setup::default()
    })
    .await;
    let machine = env.deploy("drs-plan-small", &compile(SMALL, None)).await;
    let execution = env.start_execution(&machine, "faults", FAST).await;
    let (status, error, cause) = env.wait(&execution, LIMIT).await;
    assert_eq!(
        status,
        ExecutionStatus::Succeeded,
        "{error}: {cause}\n{}",
        env.explain("faults").await
    );
    let launches = env.launches();
    let refused = launches.iter().filter(|(_, c)| c.status == 429).count();
    let ambiguous = launches.iter().filter(|(_, c)| c.status == 500).count();
    assert_eq!((refused, ambiguous), (2, 1), "{launches:?}");
    // Exactly one job per unit exists, although StartRecovery answered 500 once.
    let mut per_unit: HashMap<String, usize> = HashMap::new();
    for job in drs_sim::server::lock(&env.sim().world).jobs.iter() {
        if let Some(unit) = job.tags.get("drsOrchestratorUnit") {
            *per_unit.entry(unit.clone()).or_default() += 1;
        }
    }
    assert_eq!(per_unit.len(), 2, "{per_unit:?}");
    assert!(
        per_unit.values().all(|&n| n == 1),
        "a unit was launched twice: {per_unit:?}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_job_hits_its_deadline() {
    let env = Env::start(Setup {
        faults: launch_faults(&[("s-0a1b2c3d4e5f6001c", r#"{"launch": "stuck"}"#)]),
        ..Setup::default()
    })
    .await;
    let plan = SMALL.replace("launchTimeout: 2m", "launchTimeout: 1m");
    let machine = env.deploy("drs-plan-small", &compile(&plan, None)).await;
    let execution = env.start_execution(&machine, "stuck", BUSY).await;
    let (status, _, _) = env.wait(&execution, LIMIT).await;
    assert_eq!(status, ExecutionStatus::Failed);
    let records = env.records("stuck").await;
    assert_eq!(
        text(&records["STEP#w1.core"], "errorName"),
        aslgen::compile::errors::LAUNCH_TIMED_OUT
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_3000_server_plan_stays_within_history_and_payload_limits() {
    let env = Env::start(Setup {
        inventory: aslgen::synth::inventory(3000),
        speed: 3_000.0,
        ..Setup::default()
    })
    .await;
    let machine = env
        .deploy("drs-plan-synthetic-3000", &statemachine("synthetic-3000"))
        .await;
    let started = std::time::Instant::now();
    let execution = env.start_execution(&machine, "big", FAST).await;
    let (status, error, cause) = env.wait(&execution, Duration::from_secs(900)).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{error}: {cause}");
    let history = env.history(&execution).await;
    let largest = history
        .iter()
        .filter_map(|e| {
            let entered = e
                .state_entered_event_details
                .as_ref()
                .and_then(|d| d.input.as_ref());
            let exited = e
                .state_exited_event_details
                .as_ref()
                .and_then(|d| d.output.as_ref());
            entered.or(exited).map(String::len)
        })
        .max()
        .unwrap_or(0);
    let transitions = history
        .iter()
        .filter(|e| e.state_entered_event_details.is_some())
        .count();
    println!(
        "3,000 servers: {} history events, {transitions} transitions, largest state payload {largest} bytes, {:.1} s wall",
        history.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(history.len() < 25_000, "{} history events", history.len());
    assert!(largest < 64 * 1024, "a state carried {largest} bytes");
    assert_eq!(
        env.launches()
            .iter()
            .filter(|(_, c)| c.status == 202)
            .count(),
        60
    );
    assert_eq!(env.live_drill_instances(), 0);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_timeout_fails_the_plan_and_cleans_up() {
    let env = Env::start(Setup::default()).await;
    let plan = format!(
        "{SMALL}    - name: Two\n      before:\n        - {{type: approval, name: Gate, timeout: 1m}}\n      groups: []\n"
    )
    .replace("groups: []", "groups: [{group: late}]")
    .replace(
        "protectionGroups:\n",
        "protectionGroups:\n  - {id: late, name: Late, servers: [s-0a1b2c3d4e5f6001e]}\n",
    );
    // Time compression: the compiled approval waits 1 minute; the test waits 3 seconds.
    let definition =
        compile(&plan, None).replace("\"TimeoutSeconds\": 60,", "\"TimeoutSeconds\": 3,");
    assert!(definition.contains("\"TimeoutSeconds\": 3,"));
    let machine = env.deploy("drs-plan-small", &definition).await;
    let execution = env.start_execution(&machine, "timeout", FAST).await;
    let (status, _, _) = env.wait(&execution, LIMIT).await;
    assert_eq!(status, ExecutionStatus::Failed);
    let records = env.records("timeout").await;
    assert_eq!(text(&records["STEP#w2.before1"], "status"), "TIMED_OUT");
    assert_eq!(
        text(&records["EXECUTION"], "errorName"),
        aslgen::compile::errors::APPROVAL_TIMED_OUT
    );
    assert!(env.launches().iter().all(|(u, _)| unit_of(u) != "w2.late"));
    assert_eq!(
        env.live_drill_instances(),
        0,
        "timed-out drill left instances running"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_other_examples_run() {
    other_examples(Split::Auto).await;
}

/// The same examples with every wave in its own child execution.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_other_examples_run_split_per_wave() {
    other_examples(Split::Waves).await;
}

async fn other_examples(split: Split) {
    let env = Env::start(Setup::default()).await;
    // Tag-selected groups, a `healthy` dependency on EC2 status checks, a wave wait.
    let machine = env.deploy_example("tag-based.yaml", split).await;
    let execution = env.start_execution(&machine, "crm", FAST).await;
    let (status, error, cause) = env.wait(&execution, LIMIT).await;
    assert_eq!(
        status,
        ExecutionStatus::Succeeded,
        "{error}: {cause}\n{}",
        env.explain("crm").await
    );
    assert_eq!(env.launches().len(), 3);
    assert_eq!(env.live_drill_instances(), 0);

    // The non-series-parallel DAG, ended by an end-of-drill approval.
    env.sim().reset();
    let machine = env.deploy_example("non-series-parallel.yaml", split).await;
    let execution = env.start_execution(&machine, "hr", FAST).await;
    let approval = env.next_approval(LIMIT).await;
    assert_eq!(text(&approval, "stepKey"), "drill-end");
    assert!(
        env.live_drill_instances() > 0,
        "instances are kept until the drill is ended"
    );
    env.decide(&approval, true).await;
    let (status, error, cause) = env.wait(&execution, LIMIT).await;
    assert_eq!(
        status,
        ExecutionStatus::Succeeded,
        "{error}: {cause}\n{}",
        env.explain("hr").await
    );
    let at = launched_at(&env);
    let start = |unit: &str| {
        env.launches()
            .iter()
            .find(|(u, c)| unit_of(u) == unit && c.status == 202)
            .map(|(_, c)| drs_sim::clock::parse_iso(&c.sim_time).unwrap())
            .unwrap()
    };
    let done = |unit: &str| {
        at.iter()
            .find(|(u, _)| unit_of(u) == unit)
            .map(|(_, t)| *t)
            .unwrap()
    };
    for (before, after) in [
        ("w1.dns", "w1.hr-db"),
        ("w1.dns", "w1.hr-app"),
        ("w1.ad", "w1.hr-app"),
    ] {
        assert!(
            done(before) <= start(after),
            "{after} started before {before}"
        );
    }
    assert_eq!(env.live_drill_instances(), 0);
    env.stop().await;
}

#[test]
fn fleet_is_the_demo_fleet() {
    assert_eq!(fleet().servers.len(), 30);
}

const BUSY_PLAN: &str = r#"
protectionGroups:
  - {id: core, name: Core, servers: [s-0a1b2c3d4e5f6001b, s-0a1b2c3d4e5f6001c]}
  - {id: extra, name: Extra, servers: [s-0a1b2c3d4e5f6001d]}
plan:
  id: busy
  name: Busy
  defaults: {launchTimeout: 1m}
  waves:
    - name: One
      groups: [{group: core}]
    - name: Two
      before: [{type: wait, name: Room for other teams, duration: 3s}]
      groups: [{group: extra}]
"#;

/// Quota refusals StartRecovery answered so far.
fn quota_refusals(env: &Env) -> usize {
    env.launches()
        .iter()
        .filter(|(_, c)| c.status == 402)
        .count()
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + LIMIT;
    while !done() {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_account_waits_for_drs_slots_and_cleans_up_when_none_free() {
    let env = Env::start(Setup::default()).await;
    let machine = env.deploy("drs-plan-busy", &compile(BUSY_PLAN, None)).await;

    // Other teams hold all 20 job slots: the run waits, then launches once they free.
    let held = drs_sim::server::lock(&env.sim().world).hold_slots(20);
    let execution = env.start_execution(&machine, "waits", FAST).await;
    wait_until("StartRecovery refused for quota twice", || {
        quota_refusals(&env) >= 2
    })
    .await;
    drs_sim::server::lock(&env.sim().world).release(&held);
    let (status, error, cause) = env.wait(&execution, LIMIT).await;
    assert_eq!(
        status,
        ExecutionStatus::Succeeded,
        "{error}: {cause}\n{}",
        env.explain("waits").await
    );
    let records = env.records("waits").await;
    assert_eq!(text(&records["STEP#w1.core"], "status"), "SUCCEEDED");
    assert_eq!(text(&records["STEP#w2.extra"], "status"), "SUCCEEDED");
    assert_eq!(text(&records["EXECUTION"], "cleanup"), "CLEAN");
    assert_eq!(env.live_drill_instances(), 0);

    // Slots taken after wave 1 and not freed within the launch timeout: wave 2 fails
    // cleanly, and the clean-up (itself refused for quota) waits, then terminates wave
    // 1's instances once the slots free.
    env.sim().reset();
    let execution = env.start_execution(&machine, "gives-up", BUSY).await;
    let deadline = std::time::Instant::now() + LIMIT;
    let held = loop {
        let records = env.records("gives-up").await;
        if records
            .get("STEP#w1.core")
            .is_some_and(|r| text(r, "status") == "SUCCEEDED")
        {
            break drs_sim::server::lock(&env.sim().world).hold_slots(20);
        }
        assert!(std::time::Instant::now() < deadline, "wave 1 never ended");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let records = env.records("gives-up").await;
        if let Some(extra) = records.get("STEP#w2.extra")
            && text(extra, "status") == "FAILED"
        {
            assert_eq!(
                text(extra, "errorName"),
                aslgen::compile::errors::NO_CAPACITY
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "wave 2 never failed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        env.live_drill_instances(),
        2,
        "wave 1's instances are terminated only once DRS takes the job"
    );
    let refused_terminations = env
        .sim()
        .calls()
        .iter()
        .filter(|c| c.operation == "TerminateRecoveryInstances" && c.status == 402)
        .count();
    assert!(refused_terminations >= 1, "the clean-up never asked DRS");
    drs_sim::server::lock(&env.sim().world).release(&held);
    let (status, _, _) = env.wait(&execution, LIMIT).await;
    assert_eq!(status, ExecutionStatus::Failed);
    let records = env.records("gives-up").await;
    assert_eq!(text(&records["EXECUTION"], "status"), "FAILED");
    assert_eq!(text(&records["EXECUTION"], "cleanup"), "CLEAN");
    assert_eq!(env.live_drill_instances(), 0, "the failed drill leaked");
    env.stop().await;
}

/// `extra` fails to launch; `after` depends on it, `loose` depends on it but proceeds.
const UNMET_PLAN: &str = r#"
protectionGroups:
  - {id: core, name: Core, servers: [s-0a1b2c3d4e5f6001b]}
  - {id: extra, name: Extra, servers: [s-0a1b2c3d4e5f6001d]}
  - {id: after, name: After, servers: [s-0a1b2c3d4e5f6001c]}
  - {id: loose, name: Loose, servers: [s-0a1b2c3d4e5f6001e]}
plan:
  id: unmet
  name: Unmet
  defaults: {launchTimeout: 2m}
  waves:
    - name: One
      groups:
        - {group: core}
        - {group: extra, criticality: optional}
        - {group: after, criticality: CRITICALITY, dependsOn: [{group: extra, condition: launched}]}
        - {group: loose, criticality: optional, dependsOn: [{group: extra, condition: launched, onUnmet: proceed}]}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_optional_dependency_skips_its_dependents() {
    let env = Env::start(Setup {
        faults: launch_faults(&[("s-0a1b2c3d4e5f6001d", r#"{"launch": "fail"}"#)]),
        ..Setup::default()
    })
    .await;
    let plan = UNMET_PLAN.replace("CRITICALITY", "optional");
    let machine = env.deploy("drs-plan-unmet", &compile(&plan, None)).await;
    let execution = env.start_execution(&machine, "skips", FAST).await;
    let (status, error, cause) = env.wait(&execution, LIMIT).await;
    assert_eq!(
        status,
        ExecutionStatus::Succeeded,
        "{error}: {cause}\n{}",
        env.explain("skips").await
    );
    let records = env.records("skips").await;
    assert_eq!(text(&records["STEP#w1.extra"], "status"), "FAILED");
    let after = &records["STEP#w1.after"];
    assert_eq!(text(after, "status"), "SKIPPED");
    assert_eq!(
        text(after, "errorName"),
        aslgen::compile::errors::DEPENDENCY_UNMET
    );
    assert!(text(after, "errorCause").contains("`Extra` did not become launched"));
    assert_eq!(text(&records["STEP#w1.loose"], "status"), "SUCCEEDED");
    assert_eq!(text(&records["STEP#w1.core"], "status"), "SUCCEEDED");
    // Two warnings: the failed group and the skipped one.
    assert_eq!(text(&records["EXECUTION"], "warnings"), "2");
    let launched: Vec<String> = env
        .launches()
        .iter()
        .flat_map(|(_, c)| {
            c.request["sourceServers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["sourceServerID"].as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        !launched.contains(&"s-0a1b2c3d4e5f6001c".to_owned()),
        "the skipped group launched: {launched:?}"
    );

    // A critical dependent that is skipped ends the plan, cleaned up.
    env.sim().reset();
    env.sim().set_faults(launch_faults(&[(
        "s-0a1b2c3d4e5f6001d",
        r#"{"launch": "fail"}"#,
    )]));
    let plan = UNMET_PLAN.replace("CRITICALITY", "critical");
    let machine = env
        .deploy("drs-plan-unmet-critical", &compile(&plan, None))
        .await;
    let execution = env.start_execution(&machine, "stops", FAST).await;
    let (status, _, _) = env.wait(&execution, LIMIT).await;
    assert_eq!(status, ExecutionStatus::Failed);
    let records = env.records("stops").await;
    assert_eq!(text(&records["STEP#w1.after"], "status"), "SKIPPED");
    assert_eq!(text(&records["STEP#w1.after"], "critical"), "true");
    assert_eq!(text(&records["EXECUTION"], "status"), "FAILED");
    assert_eq!(env.live_drill_instances(), 0);
    env.stop().await;
}

/// `core` fails fast while `slow`'s launch is still in flight.
const SIBLINGS_PLAN: &str = r#"
protectionGroups:
  - {id: core, name: Core, servers: [s-0a1b2c3d4e5f6001b]}
  - {id: slow, name: Slow, servers: [s-0a1b2c3d4e5f6001c, s-0a1b2c3d4e5f6001d]}
plan:
  id: siblings
  name: Siblings
  defaults: {launchTimeout: 30m}
  waves:
    - name: One
      groups:
        - {group: core}
        - {group: slow}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_critical_failure_cleans_up_what_its_siblings_launches_bring_up_later() {
    let mut faults = Faults::default();
    faults.servers.insert(
        "s-0a1b2c3d4e5f6001b".into(),
        serde_json::from_str(r#"{"launch": "fail"}"#).unwrap(),
    );
    for slow in ["s-0a1b2c3d4e5f6001c", "s-0a1b2c3d4e5f6001d"] {
        faults.servers.insert(
            slow.into(),
            serde_json::from_str(r#"{"launch": "slow", "slowFactor": 15}"#).unwrap(),
        );
    }
    let env = Env::start(Setup {
        faults,
        ..Setup::default()
    })
    .await;
    let machine = env
        .deploy("drs-plan-siblings", &compile(SIBLINGS_PLAN, None))
        .await;
    let execution = env.start_execution(&machine, "siblings", FAST).await;
    let (status, _, _) = env.wait(&execution, LIMIT).await;
    assert_eq!(status, ExecutionStatus::Failed);
    let records = env.records("siblings").await;
    assert_eq!(text(&records["STEP#w1.core"], "status"), "FAILED");
    assert_eq!(text(&records["EXECUTION"], "cleanup"), "CLEAN");
    // The slow launch was still in flight when the plan failed: its instances came up
    // afterwards, and the clean-up waited for them and terminated them.
    let (launched, alive) = env.run_ec2_instances("siblings").await;
    assert_eq!(launched.len(), 2, "the slow job launched its instances");
    assert_eq!(alive, Vec::<String>::new(), "EC2 still runs them");
    assert_eq!(env.live_drill_instances(), 0);
    env.stop().await;
}
