//! Event-driven launch waits over the real wire: drs-sim puts DRS's launch result events
//! on moto's EventBridge, the rule starts the launch events machine (Express), and it
//! wakes the waiting run. Events are best effort: a dropped one is made up for by the
//! safety poll, one that comes before the run registers is kept on the job's wait item,
//! and a duplicate does nothing.

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use std::collections::HashMap;
use std::time::Duration;
use system_tests::{Env, Faults, Setup, Timing, compile, text};

const LIMIT: Duration = Duration::from_secs(120);

const PLAN: &str = r#"
protectionGroups:
  - {id: core, name: Core, servers: [s-0a1b2c3d4e5f6001b, s-0a1b2c3d4e5f6001c]}
plan:
  id: events
  name: Events
  defaults: {launchTimeout: 30m}
  waves:
    - name: One
      groups:
        - group: core
"#;

fn event_faults(entries: &[(&str, &str)]) -> Faults {
    let mut faults = Faults::default();
    for (server, fault) in entries {
        faults.events.insert(
            (*server).to_owned(),
            serde_json::from_str(&format!("\"{fault}\"")).unwrap_or_else(|e| panic!("{e}")),
        );
    }
    faults
}

/// How the run's launch wait ended: (safety polls that timed out, registrations refused
/// because every server had reported already).
async fn wait_outcomes(env: &Env, execution: &str) -> (usize, usize) {
    let history = env.history(execution).await;
    let timed_out = history
        .iter()
        .filter(|e| e.r#type == HistoryEventType::TaskTimedOut)
        .count();
    let early = history
        .iter()
        .filter_map(|e| e.task_failed_event_details())
        .filter(|d| d.error() == Some("DynamoDb.ConditionalCheckFailedException"))
        .count();
    (timed_out, early)
}

async fn run(env: &Env, name: &str, poll_seconds: u32) -> String {
    let machine = env.deploy("drs-plan-events", &compile(PLAN, None)).await;
    // A recovery: a drill's clean-up would poll for its terminations.
    let input = format!(r#"{{"mode": "RECOVERY", "pollSeconds": {poll_seconds}}}"#);
    let execution = env.start_execution(&machine, name, &input).await;
    let (status, error, cause) = env.wait(&execution, LIMIT).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{error}: {cause}");
    let records = env.records(name).await;
    assert_eq!(text(&records["STEP#w1.core"], "status"), "SUCCEEDED");
    execution
}

fn launches_per_server(env: &Env) -> HashMap<String, usize> {
    let mut per_server = HashMap::new();
    for job in drs_sim::server::lock(&env.sim().world).jobs.iter() {
        for server in &job.servers {
            *per_server.entry(server.source.clone()).or_default() += 1;
        }
    }
    per_server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_events_wake_the_run_without_polling() {
    let env = Env::start(Setup::default()).await;
    // A 10-minute poll: only an event can end the wait within the test's limit.
    let execution = run(&env, "woken", 600).await;
    let (timed_out, _) = wait_outcomes(&env, &execution).await;
    assert_eq!(timed_out, 0, "the run waited for a safety poll");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_event_is_made_up_for_by_the_safety_poll() {
    let env = Env::start(Setup {
        faults: event_faults(&[("s-0a1b2c3d4e5f6001c", "drop")]),
        ..Setup::default()
    })
    .await;
    // Back-to-back polling: the safety poll comes after one second.
    let execution = run(&env, "dropped", 0).await;
    let (timed_out, _) = wait_outcomes(&env, &execution).await;
    assert!(timed_out >= 1, "the run went on without the dropped event");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_before_the_run_waits_is_not_lost() {
    // Launches that end at once, and a run held up before it registers: StartRecovery's
    // answer is lost (a 500 after the job was made), and the search for the job DRS may
    // have made is throttled three times (seconds of retries). The job's events all
    // arrive while the run is still finding it.
    let mut faults = Faults::default();
    faults.operations.insert(
        "StartRecovery".into(),
        serde_json::from_str(r#"{"serverErrorAfterCommit": 1}"#).unwrap_or_default(),
    );
    faults.operations.insert(
        "DescribeSourceServers".into(),
        serde_json::from_str(r#"{"throttle": 3}"#).unwrap_or_default(),
    );
    let env = Env::start(Setup {
        timing: Timing {
            start_after: 0.0,
            launch_seconds: 0.0,
            jitter: 0.0,
            ..Timing::default()
        },
        faults,
        ..Setup::default()
    })
    .await;
    let execution = run(&env, "early", 600).await;
    let (timed_out, early) = wait_outcomes(&env, &execution).await;
    assert_eq!(timed_out, 0, "an early event was lost");
    assert_eq!(early, 1, "the run registered before the events came");
    assert_eq!(
        launches_per_server(&env).len(),
        2,
        "the found job was adopted"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_event_does_no_harm() {
    let env = Env::start(Setup {
        faults: event_faults(&[
            ("s-0a1b2c3d4e5f6001b", "duplicate"),
            ("s-0a1b2c3d4e5f6001c", "duplicate"),
        ]),
        ..Setup::default()
    })
    .await;
    let execution = run(&env, "duplicated", 600).await;
    let (timed_out, _) = wait_outcomes(&env, &execution).await;
    assert_eq!(timed_out, 0);
    let per_server = launches_per_server(&env);
    assert_eq!(per_server.len(), 2, "{per_server:?}");
    assert!(
        per_server.values().all(|&n| n == 1),
        "a server was launched twice: {per_server:?}"
    );
    env.stop().await;
}

/// 25 one-server groups in one wave: DRS runs 20 jobs at once, so 5 are refused. One
/// group is 4× slower than the rest.
fn crowded_wave() -> String {
    let mut text = String::from("protectionGroups:\n");
    for n in 1..=25u64 {
        text.push_str(&format!(
            "  - {{id: g{n}, name: G{n}, servers: [{}]}}\n",
            aslgen::synth::server_id(n)
        ));
    }
    text.push_str("plan:\n  id: crowded\n  name: Crowded\n  defaults: {launchTimeout: 1h}\n  waves:\n    - name: One\n      groups:\n");
    for n in 1..=25 {
        text.push_str(&format!("        - group: g{n}\n"));
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freed_slot_is_filled_without_waiting_for_the_slowest_job() {
    let mut faults = Faults::default();
    faults.servers.insert(
        aslgen::synth::server_id(1),
        // 15× slower: its job outlasts the others by far more than moto's own latency
        // under load (at 4× the margin was 6 s, which a loaded CI machine used up).
        serde_json::from_str(r#"{"launch": "slow", "slowFactor": 15}"#)
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let env = Env::start(Setup {
        inventory: aslgen::synth::inventory(25),
        // 2-minute launches at 60×: 2 s, the slow one 30 s.
        speed: 60.0,
        timing: Timing {
            launch_seconds: 120.0,
            ..Timing::default()
        },
        faults,
        ..Setup::default()
    })
    .await;
    let machine = env
        .deploy("drs-plan-crowded", &compile(&crowded_wave(), None))
        .await;
    // Back-to-back polling: a launch that missed a wake-up asks again after a second.
    let execution = env
        .start_execution(
            &machine,
            "crowded",
            r#"{"mode": "RECOVERY", "pollSeconds": 0}"#,
        )
        .await;
    let (status, error, cause) = env.wait(&execution, LIMIT).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{error}: {cause}");
    let world = drs_sim::server::lock(&env.sim().world);
    let refused = world
        .calls
        .iter()
        .filter(|c| c.operation == "StartRecovery" && c.status >= 400)
        .count();
    assert!(
        refused >= 5,
        "DRS refused {refused} launches; expected at least 5"
    );
    let slow = world
        .jobs
        .iter()
        .find(|j| {
            j.servers
                .iter()
                .any(|s| s.source == aslgen::synth::server_id(1))
        })
        .and_then(|j| j.ended)
        .unwrap_or_else(|| panic!("the slow job never ended"));
    assert_eq!(world.jobs.len(), 25, "one job per group");
    let late: Vec<&str> = world
        .jobs
        .iter()
        .filter(|j| j.created >= slow)
        .map(|j| j.id.as_str())
        .collect();
    assert!(
        late.is_empty(),
        "jobs waited for the slowest group's job to end: {late:?}"
    );
}
