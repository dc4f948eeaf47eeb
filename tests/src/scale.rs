//! Runs a synthetic plan split per wave (`aslgen::synth::wide_plan`) in moto with the DRS
//! simulator, and measures every execution of the run against Step Functions' limits.

use crate::{Env, Setup, Timing};
use aws_sdk_sfn::types::ExecutionStatus;
use std::time::{Duration, Instant};

/// Step Functions' limits on one execution.
pub const MAX_HISTORY_EVENTS: usize = 25_000;
pub const MAX_PAYLOAD_BYTES: usize = 262_144;

pub struct Report {
    /// The parent and every child execution.
    pub executions: usize,
    pub most_events: usize,
    pub largest_payload: usize,
    pub parent_events: usize,
    pub wall: Duration,
}

/// `servers` in `waves` waves of `groups` groups, `launch_minutes`-minute DRS launches,
/// executed as a RECOVERY (no drill clean-up) with 1-second polls.
pub async fn run(servers: usize, waves: usize, groups: usize, launch_minutes: f64) -> Report {
    let doc = aslgen::synth::wide_plan(servers, waves, groups);
    let resolved = aslgen::validate(&doc, None).unwrap_or_else(|e| panic!("{e}"));
    let compiled = aslgen::compile_split(&resolved, &aslgen::Deployment::default())
        .unwrap_or_else(|e| panic!("{e}"));
    // DRS time runs 1,800× faster: a 30-minute launch is one second.
    let env = Env::start(Setup {
        inventory: aslgen::synth::inventory(servers as u64),
        speed: 1_800.0,
        timing: Timing {
            launch_seconds: launch_minutes * 60.0,
            ..Timing::default()
        },
        ..Setup::default()
    })
    .await;
    let mut child_machines = Vec::new();
    for child in &compiled.children {
        child_machines.push(env.deploy(&child.name, &child.definition_minified()).await);
    }
    let machine = env
        .deploy(&compiled.name, &compiled.definition_minified())
        .await;
    let started = Instant::now();
    let execution = env
        .start_execution(
            &machine,
            "scale",
            r#"{"mode": "RECOVERY", "pollSeconds": 1}"#,
        )
        .await;
    let (status, error, cause) = env.wait(&execution, Duration::from_secs(7_200)).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{error}: {cause}");
    let wall = started.elapsed();
    let mut arns = vec![execution.clone()];
    for child in &child_machines {
        let listed = env
            .sfn
            .list_executions()
            .state_machine_arn(child)
            .send()
            .await
            .unwrap_or_else(|e| panic!("list: {e:?}"));
        arns.extend(
            listed
                .executions()
                .iter()
                .map(|e| e.execution_arn().to_owned()),
        );
    }
    let (mut most_events, mut largest_payload, mut parent_events) = (0, 0, 0);
    for arn in &arns {
        let history = env.history(arn).await;
        if *arn == execution {
            parent_events = history.len();
        }
        most_events = most_events.max(history.len());
        for event in &history {
            let input = event
                .state_entered_event_details
                .as_ref()
                .and_then(|d| d.input.as_ref());
            let output = event
                .state_exited_event_details
                .as_ref()
                .and_then(|d| d.output.as_ref());
            for text in [input, output].into_iter().flatten() {
                largest_payload = largest_payload.max(text.len());
            }
        }
    }
    env.stop().await;
    Report {
        executions: arns.len(),
        most_events,
        largest_payload,
        parent_events,
        wall,
    }
}
