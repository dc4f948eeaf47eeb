//! Drill cleanup: terminate the drill recovery instances of the plan's servers.
//!
//! The server lists are injected a chunk at a time (≤ 500 servers, ≤ 12 KB) so no state
//! carries the whole fleet; a Map terminates each batch and waits for DRS's job.

use super::ctx::{
    Ctx, Poll, Service, branch, choice, errors, inline_map, pass, succeed, task_base,
    transient_retry,
};
use crate::asl::{
    ChoiceRule, Condition, ErrorName, Resource, ResultPath, Retry, State, States, Task, Transition,
};
use crate::flow::{MAX_SERVERS_IN_FLIGHT, MAX_SERVERS_PER_JOB};
use serde_json::json;

const TERMINATE_DEADLINE_SECONDS: u64 = 30 * 60;

/// Emits the cleanup states; returns the entry.
pub fn emit_cleanup(ctx: &mut Ctx, key: &str, states: &mut States, next: Transition) -> String {
    let servers: Vec<String> = ctx
        .resolved
        .all_servers()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let chunks: Vec<&[String]> = servers.chunks(MAX_SERVERS_IN_FLIGHT).collect();
    let total = chunks.len();
    let mut after = next;
    for (i, chunk) in chunks.iter().enumerate().rev() {
        let part = if total > 1 {
            format!(" ({}/{total})", i + 1)
        } else {
            String::new()
        };
        let list = ctx.claim(&format!("Servers to clean up{part}"), key);
        let map = ctx.claim(&format!("Terminate drill instances{part}"), key);
        let batches: Vec<&[String]> = chunk.chunks(MAX_SERVERS_PER_JOB).collect();
        states.insert(
            list.clone(),
            pass(
                None,
                Some(json!({ "batches": batches })),
                Some(ResultPath::at("$.cleanup")),
                Transition::next(&map),
            ),
        );
        let (start, inner) = batch_processor(ctx, key, &part);
        states.insert(
            map.clone(),
            inline_map(
                "$.cleanup.batches",
                json!({
                    "servers.$": "$$.Map.Item.Value",
                    "input.$": "$.input",
                    "tick.$": "$.tick",
                }),
                5,
                branch(start.clone(), inner),
                after,
            ),
        );
        after = Transition::next(list);
    }
    after.target().map(str::to_owned).unwrap_or_default()
}

fn batch_processor(ctx: &mut Ctx, key: &str, part: &str) -> (String, States) {
    let mut states = States::new();
    let find = ctx.claim(&format!("Find drill instances{part}"), key);
    let any = ctx.claim(&format!("Any drill instances?{part}"), key);
    let nothing = ctx.claim(&format!("Nothing to terminate{part}"), key);
    let terminate = ctx.claim(&format!("Terminate{part}"), key);
    let terminated = ctx.claim(&format!("Terminated{part}"), key);
    states.insert(
        find.clone(),
        State::Task(Task {
            resource: Resource::sdk("drs", "describeRecoveryInstances"),
            parameters: Some(json!({"Filters": {"SourceServerIDs.$": "$.servers"}})),
            // Only drill instances: a real recovery's instances are never touched.
            result_selector: Some(
                json!({"ids.$": "$.Items[?(@.IsDrill == true)].RecoveryInstanceID"}),
            ),
            result_path: Some(ResultPath::at("$.drill")),
            retry: vec![transient_retry(Service::Drs)],
            transition: Transition::next(&any),
            ..task_base()
        }),
    );
    states.insert(
        any,
        choice(
            vec![ChoiceRule::new(
                Condition::IsPresent("$.drill.ids[0]".into(), true),
                &terminate,
            )],
            Some(nothing.clone()),
        ),
    );
    states.insert(nothing, succeed());
    states.insert(terminated.clone(), succeed());
    let poll = Poll {
        check_first: false,
        wait: ctx.claim(&format!("Wait for termination{part}"), key),
        count: ctx.claim(&format!("Count termination wait{part}"), key),
        check: ctx.claim(&format!("Check termination{part}"), key),
        decide: ctx.claim(&format!("Termination done?{part}"), key),
        timed_out: ctx.claim(&format!("Termination timed out{part}"), key),
        counter: "$.terminate",
        carry: &["jobId"],
        check_task: Task {
            resource: Resource::sdk("drs", "describeJobs"),
            parameters: Some(json!({"Filters": {"JobIDs.$": "States.Array($.terminate.jobId)"}})),
            result_selector: Some(json!({"status.$": "$.Items[0].Status"})),
            result_path: Some(ResultPath::at("$.job")),
            retry: vec![transient_retry(Service::Drs)],
            ..task_base()
        },
        rules: vec![ChoiceRule::new(
            Condition::StringEquals("$.job.status".into(), "COMPLETED".into()),
            &terminated,
        )],
        deadline_seconds: TERMINATE_DEADLINE_SECONDS,
        timeout_error: errors::CLEANUP_TIMED_OUT,
        timeout_cause: "DRS did not finish terminating the drill instances in 30 minutes".into(),
    };
    let poll_start = poll.emit(&mut states);
    states.insert(
        terminate,
        State::Task(Task {
            resource: Resource::sdk("drs", "terminateRecoveryInstances"),
            parameters: Some(json!({"RecoveryInstanceIDs.$": "$.drill.ids"})),
            result_selector: Some(json!({"jobId.$": "$.Job.JobID", "elapsed": 0})),
            result_path: Some(ResultPath::at("$.terminate")),
            // Terminating twice is harmless, so every transient error may be retried.
            retry: vec![
                transient_retry(Service::Drs),
                Retry::backoff(vec![ErrorName::custom("Drs.ConflictException")], 5),
            ],
            transition: Transition::next(poll_start),
            ..task_base()
        }),
    );
    (find, states)
}
