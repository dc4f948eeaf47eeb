//! Drill clean-up: terminate every recovery instance this run's DRS jobs launched, and
//! nothing else.
//!
//! Ownership comes from DRS, not from what the machine got to record: each launch batch's
//! first server names its last launch job (`LifeCycle.LastLaunch`), and a job is this
//! run's when its `drsOrchestratorExecution` tag is `$.run`. So a job whose StartRecovery
//! answer was lost (a branch stopped by a failing sibling, an execution stopped by cancel)
//! is found too. A job still in flight is waited for until it completes, then what it
//! launched is terminated; another run's instances (a kept drill, a drill running now)
//! are never touched. The batch list is injected a chunk at a time so no state carries
//! the whole fleet.

use super::ctx::{
    Ctx, Poll, Service, branch, choice, errors, inline_map, pass, succeed, task_base,
    transient_retry,
};
use super::slots::SlotWait;
use super::unit::batches;
use crate::asl::{
    Catch, ChoiceRule, Condition, ErrorName, Resource, ResultPath, State, States, Task, Transition,
};
use serde_json::{Value, json};

const TERMINATE_DEADLINE_SECONDS: u64 = 30 * 60;
/// Launch batches per injected chunk (each entry is one server ID and a label).
const BATCHES_PER_CHUNK: usize = 200;

/// Emits the cleanup states; returns the entry.
pub fn emit_cleanup(ctx: &mut Ctx, key: &str, states: &mut States, next: Transition) -> String {
    let launches: Vec<Value> = ctx
        .resolved
        .units
        .iter()
        .flat_map(|unit| {
            batches(unit)
                .into_iter()
                .map(|b| json!({"first": b.servers[0], "label": format!("{}{}", unit.label, b.suffix)}))
                .collect::<Vec<_>>()
        })
        .collect();
    let settle_seconds = settle_seconds(ctx);
    let chunks: Vec<&[Value]> = launches.chunks(BATCHES_PER_CHUNK).collect();
    let total = chunks.len();
    let mut after = next;
    for (i, chunk) in chunks.iter().enumerate().rev() {
        let part = if total > 1 {
            format!(" ({}/{total})", i + 1)
        } else {
            String::new()
        };
        let list = ctx.claim(&format!("Launches to clean up{part}"), key);
        let (start, inner) = launch_processor(ctx, key, &part, settle_seconds, false);
        let map = ctx.claim(&format!("Terminate drill instances{part}"), key);
        states.insert(
            list.clone(),
            pass(
                None,
                Some(json!({ "launches": chunk })),
                Some(ResultPath::at("$.cleanup")),
                Transition::next(&map),
            ),
        );
        states.insert(
            map.clone(),
            inline_map(
                "$.cleanup.launches",
                json!({
                    "first.$": "$$.Map.Item.Value.first",
                    "run.$": "$.run",
                    "input.$": "$.input",
                    "tick.$": "$.tick",
                }),
                5,
                branch(start, inner),
                after,
            ),
        );
        after = Transition::next(list);
    }
    after.target().map(str::to_owned).unwrap_or_default()
}

/// The clean-up of a cancelled or finished run, from the job IDs its caller found
/// (`$.input.jobs`: the jobs tagged with the run, listed after its machine stopped):
/// each settled, then what it launched terminated.
pub fn emit_run_cleanup(ctx: &mut Ctx, key: &str, states: &mut States, next: Transition) -> String {
    let settle_seconds = settle_seconds(ctx);
    let (start, inner) = launch_processor(ctx, key, " · run", settle_seconds, true);
    let map = ctx.claim("Terminate the run's drill instances", key);
    states.insert(
        map.clone(),
        inline_map(
            "$.input.jobs",
            json!({
                "found": {"jobs.$": "States.Array($$.Map.Item.Value)", "elapsed": 0},
                "run.$": "$.run",
                "input.$": "$.input",
                "tick.$": "$.tick",
            }),
            5,
            branch(start, inner),
            next,
        ),
    );
    map
}

/// A job still in flight may take as long as its unit's launch timeout.
fn settle_seconds(ctx: &Ctx) -> u64 {
    ctx.resolved
        .units
        .iter()
        .map(|u| u.launch_timeout.as_secs())
        .max()
        .unwrap_or(0)
        + TERMINATE_DEADLINE_SECONDS
}

/// One launch batch: its last job (or, `from_jobs`, the job given at `$.found.jobs`),
/// this run's or not, settled, then its instances terminated and waited for until DRS
/// no longer lists them.
fn launch_processor(
    ctx: &mut Ctx,
    key: &str,
    part: &str,
    settle_seconds: u64,
    from_jobs: bool,
) -> (String, States) {
    let mut states = States::new();
    let mut name = |base: &str| ctx.claim(&format!("{base}{part}"), key);
    let not_ours = name("Another run's launch");
    let any = name("Any instances launched?");
    let none = name("No instances launched");
    let find = name("Find drill instances");
    let exist = name("Drill instances left?");
    let gone = name("Drill instances gone");
    let terminate = name("Terminate");

    states.insert(not_ours.clone(), succeed());
    states.insert(none.clone(), succeed());
    states.insert(gone.clone(), succeed());

    // The job: this run's (by tag), and settled (COMPLETED) before its instances count.
    let settle = Poll {
        check_first: true,
        back_off: false,
        wait: name("Wait for the launch to settle"),
        count: name("Count settle wait"),
        check: name("Check launch job"),
        decide: name("Launch settled?"),
        timed_out: name("Launch never settled"),
        counter: "$.found",
        carry: &["jobs"],
        check_task: Task {
            resource: Resource::sdk("drs", "describeJobs"),
            parameters: Some(json!({"Filters": {"JobIDs.$": "$.found.jobs"}})),
            result_selector: Some(json!({
                "status.$": "$.Items[0].Status",
                "tags.$": "$.Items[*].Tags",
                "instances.$": "$.Items[0].ParticipatingServers[*].RecoveryInstanceID",
            })),
            result_path: Some(ResultPath::at("$.job")),
            retry: vec![transient_retry(Service::Drs)],
            ..task_base()
        },
        // In order: a job without the tag, or with another run's, is not ours.
        rules: vec![
            ChoiceRule::new(
                Condition::IsPresent("$.job.tags[0].drsOrchestratorExecution".into(), false),
                &not_ours,
            ),
            ChoiceRule::new(
                Condition::Not(Box::new(Condition::StringEqualsPath(
                    "$.job.tags[0].drsOrchestratorExecution".into(),
                    "$.run".into(),
                ))),
                &not_ours,
            ),
            ChoiceRule::new(
                Condition::StringEquals("$.job.status".into(), "COMPLETED".into()),
                &any,
            ),
        ],
        deadline_seconds: settle_seconds,
        timeout_error: errors::CLEANUP_TIMED_OUT,
        timeout_cause:
            "a launch job of this run did not complete, so its instances could not be terminated"
                .into(),
    };
    let settle_entry = settle.emit(&mut states);
    states.insert(
        any,
        choice(
            vec![ChoiceRule::new(
                Condition::IsPresent("$.job.instances[0]".into(), true),
                &find,
            )],
            Some(none),
        ),
    );
    states.insert(
        find.clone(),
        State::Task(Task {
            resource: Resource::sdk("drs", "describeRecoveryInstances"),
            parameters: Some(json!({"Filters": {"RecoveryInstanceIDs.$": "$.job.instances"}})),
            // Only drill instances: a real recovery's instances are never touched.
            result_selector: Some(json!({
                "ids.$": "$.Items[?(@.IsDrill == true)].RecoveryInstanceID",
                "elapsed": 0
            })),
            result_path: Some(ResultPath::at("$.drill")),
            retry: vec![transient_retry(Service::Drs)],
            transition: Transition::next(&exist),
            ..task_base()
        }),
    );
    states.insert(
        exist,
        choice(
            vec![ChoiceRule::new(
                Condition::IsPresent("$.drill.ids[0]".into(), true),
                &terminate,
            )],
            Some(gone.clone()),
        ),
    );

    // Gone means DRS no longer lists them: terminated, not merely asked to be.
    let wait_gone = Poll {
        check_first: false,
        back_off: false,
        wait: name("Wait for termination"),
        count: name("Count termination wait"),
        check: name("Check termination"),
        decide: name("Termination done?"),
        timed_out: name("Termination timed out"),
        counter: "$.drill",
        carry: &["ids"],
        check_task: Task {
            resource: Resource::sdk("drs", "describeRecoveryInstances"),
            parameters: Some(json!({"Filters": {"RecoveryInstanceIDs.$": "$.drill.ids"}})),
            result_selector: Some(json!({"left.$": "$.Items[*].RecoveryInstanceID"})),
            result_path: Some(ResultPath::at("$.left")),
            retry: vec![transient_retry(Service::Drs)],
            ..task_base()
        },
        rules: vec![ChoiceRule::new(
            Condition::IsPresent("$.left.left[0]".into(), false),
            &gone,
        )],
        deadline_seconds: TERMINATE_DEADLINE_SECONDS,
        timeout_error: errors::CLEANUP_TIMED_OUT,
        timeout_cause: "DRS did not finish terminating the drill instances in 30 minutes".into(),
    };
    let wait_entry = wait_gone.emit(&mut states);
    let slot = SlotWait::new(
        ctx,
        (&format!("terminate{part}"), key),
        terminate.clone(),
        TERMINATE_DEADLINE_SECONDS,
        errors::CLEANUP_TIMED_OUT,
        "DRS refused to terminate the drill instances for quota for 30 minutes".into(),
    );
    let slot_catch = slot.catch();
    slot.emit(ctx, &mut states);
    states.insert(
        terminate,
        State::Task(Task {
            resource: Resource::sdk("drs", "terminateRecoveryInstances"),
            parameters: Some(json!({"RecoveryInstanceIDs.$": "$.drill.ids"})),
            result_path: Some(ResultPath::Discard),
            // Terminating twice is harmless, so every transient error may be retried;
            // a conflict means DRS is terminating them already, which is what we wait for.
            retry: vec![transient_retry(Service::Drs)],
            catch: vec![
                slot_catch,
                Catch {
                    error_equals: vec![ErrorName::custom("Drs.ConflictException")],
                    result_path: Some(ResultPath::at("$.conflict")),
                    next: wait_entry.clone(),
                },
            ],
            transition: Transition::next(wait_entry),
            ..task_base()
        }),
    );
    let start = if from_jobs {
        settle_entry
    } else {
        find_last_launch(ctx, key, part, &mut states, &settle_entry)
    };
    (start, states)
}

/// Where a launch batch's job comes from when the run may have lost its answer: the
/// batch's first server names its last launch job.
fn find_last_launch(
    ctx: &mut Ctx,
    key: &str,
    part: &str,
    states: &mut States,
    settle_entry: &str,
) -> String {
    let mut name = |base: &str| ctx.claim(&format!("{base}{part}"), key);
    let last = name("Find last launch");
    let launched = name("Launched?");
    let never = name("Never launched");
    states.insert(never.clone(), succeed());
    states.insert(
        launched.clone(),
        choice(
            vec![ChoiceRule::new(
                Condition::IsPresent("$.found.jobs[0]".into(), true),
                settle_entry,
            )],
            Some(never),
        ),
    );
    states.insert(
        last.clone(),
        State::Task(Task {
            resource: Resource::sdk("drs", "describeSourceServers"),
            parameters: Some(json!({"Filters": {"SourceServerIDs.$": "States.Array($.first)"}})),
            // A wildcard path: an empty list when the server never launched.
            result_selector: Some(json!({
                "jobs.$": "$.Items[*].LifeCycle.LastLaunch.Initiated.JobID",
                "elapsed": 0
            })),
            result_path: Some(ResultPath::at("$.found")),
            retry: vec![transient_retry(Service::Drs)],
            transition: Transition::next(&launched),
            ..task_base()
        }),
    );
    last
}
