//! A unit's launch: StartRecovery per batch (at most 100 servers), polled until every
//! server is LAUNCHED; an ambiguous failure adopts the job DRS may have created instead
//! of launching twice; a quota refusal waits for a DRS job slot.

use super::ctx::{
    Ctx, Poll, Record, Service, SlotWait, branch, choice, errors, fail, parallel, pass, task_base,
    transient_retry,
};
use super::unit::{Batch, TAG_EXECUTION, TAG_PLAN, TAG_UNIT, TAG_WAVE, batches, unit_tag};
use crate::asl::{
    Catch, ChoiceRule, Condition, ErrorName, Resource, ResultPath, Retry, State, States, Task,
    Transition,
};
use crate::flow::{MAX_JOBS_IN_FLIGHT, MAX_SERVERS_IN_FLIGHT, MAX_SERVERS_PER_JOB};
use crate::records;
use crate::validate::Unit;
use serde_json::{Value, json};

/// StartRecovery for every batch (rounds of at most 5 jobs / 500 servers), each polled
/// until all its servers are LAUNCHED. Returns the entry.
pub(super) fn emit_launch(
    ctx: &mut Ctx,
    unit: &Unit,
    states: &mut States,
    next: Transition,
) -> String {
    let all = batches(unit);
    if all.len() == 1 {
        return emit_batch_launch(ctx, unit, &all[0], states, next);
    }
    let per_round = (MAX_SERVERS_IN_FLIGHT / MAX_SERVERS_PER_JOB).min(MAX_JOBS_IN_FLIGHT);
    let rounds: Vec<&[Batch]> = all.chunks(per_round).collect();
    let mut after = next;
    for (r, round) in rounds.iter().enumerate().rev() {
        let name = if rounds.len() > 1 {
            ctx.claim(
                &format!("Launch · {} (round {}/{})", unit.label, r + 1, rounds.len()),
                &unit.key,
            )
        } else {
            ctx.claim(&format!("Launch all · {}", unit.label), &unit.key)
        };
        let branches = round
            .iter()
            .map(|batch| {
                let mut scope = States::new();
                let start = emit_batch_launch(ctx, unit, batch, &mut scope, Transition::End);
                branch(start, scope)
            })
            .collect();
        states.insert(name.clone(), parallel(branches, after));
        after = Transition::next(name);
    }
    after.target().map(str::to_owned).unwrap_or_default()
}

fn launch_task(ctx: &Ctx, unit: &Unit, batch: &Batch, point_in_time: bool) -> Task {
    let servers: Vec<Value> = batch
        .servers
        .iter()
        .map(|id| {
            if point_in_time {
                json!({"SourceServerID": id, "RecoverySnapshotID.$": format!("$.input.snapshots.{id}")})
            } else {
                json!({"SourceServerID": id})
            }
        })
        .collect();
    let resolved = ctx.resolved;
    Task {
        resource: Resource::sdk("drs", "startRecovery"),
        parameters: Some(json!({
            "IsDrill.$": "$.isDrill",
            "SourceServers": servers,
            "Tags": {
                TAG_PLAN: resolved.plan_id,
                format!("{TAG_EXECUTION}.$"): "$$.Execution.Name",
                TAG_WAVE: format!("w{}", unit.wave + 1),
                TAG_UNIT: unit_tag(&resolved.plan_id, unit, batch),
            }
        })),
        result_selector: Some(json!({"jobId.$": "$.Job.JobID", "elapsed": 0})),
        result_path: Some(ResultPath::at("$.launch")),
        // StartRecovery has no idempotency token: retry only what DRS refused outright.
        // A quota refusal is caught instead: waiting for a job slot is normal work.
        retry: vec![Retry::backoff(
            vec![ErrorName::custom("Drs.ThrottlingException")],
            8,
        )],
        ..task_base()
    }
}

/// Errors after which DRS may or may not have created the job.
fn ambiguous_errors() -> Vec<ErrorName> {
    vec![
        ErrorName::custom("Drs.InternalServerException"),
        ErrorName::custom("Drs.DrsException"),
        ErrorName::Timeout,
    ]
}

fn emit_batch_launch(
    ctx: &mut Ctx,
    unit: &Unit,
    batch: &Batch,
    states: &mut States,
    next: Transition,
) -> String {
    let key = unit.key.clone();
    let label = format!("{}{}", unit.label, batch.suffix);
    let launch = ctx.claim(&format!("Launch · {label}"), &key);
    let record_job = ctx.claim(&format!("Record job · {label}"), &key);
    let find = ctx.claim(&format!("Find job · {label}"), &key);
    let found = ctx.claim(&format!("Job found? · {label}"), &key);
    let adopt = ctx.claim(&format!("Use found job · {label}"), &key);
    let relaunch = ctx.claim(&format!("Relaunched before? · {label}"), &key);
    let mark = ctx.claim(&format!("Launch again · {label}"), &key);
    let give_up = ctx.claim(&format!("Launch outcome unknown · {label}"), &key);
    let which = ctx
        .resolved
        .point_in_time
        .then(|| ctx.claim(&format!("Point in time? · {label}"), &key));
    let entry = which.clone().unwrap_or_else(|| launch.clone());
    let slot = SlotWait::new(
        ctx,
        (&label, &key),
        entry.clone(),
        unit.launch_timeout.as_secs(),
        errors::NO_CAPACITY,
        format!(
            "DRS refused to launch `{label}` for quota (its job slots were held by other runs) for {}",
            unit.launch_timeout
        ),
    );

    let poll = Poll {
        check_first: false,
        wait: ctx.claim(&format!("Wait for launch · {label}"), &key),
        count: ctx.claim(&format!("Count launch wait · {label}"), &key),
        check: ctx.claim(&format!("Check launch · {label}"), &key),
        decide: ctx.claim(&format!("Launched? · {label}"), &key),
        timed_out: ctx.claim(&format!("Launch timed out · {label}"), &key),
        counter: "$.launch",
        carry: &["jobId"],
        check_task: Task {
            resource: Resource::sdk("drs", "describeJobs"),
            parameters: Some(json!({"Filters": {"JobIDs.$": "States.Array($.launch.jobId)"}})),
            result_selector: Some(json!({
                "status.$": "$.Items[0].Status",
                "launched.$": "$.Items[0].ParticipatingServers[?(@.LaunchStatus == 'LAUNCHED')].SourceServerID",
            })),
            result_path: Some(ResultPath::at("$.job")),
            retry: vec![transient_retry(Service::Drs)],
            ..task_base()
        },
        rules: Vec::new(),
        deadline_seconds: unit.launch_timeout.as_secs(),
        timeout_error: errors::LAUNCH_TIMED_OUT,
        timeout_cause: format!(
            "servers of `{label}` were not all LAUNCHED within {}",
            unit.launch_timeout
        ),
    };
    let failed = ctx.claim(&format!("Launch failed · {label}"), &key);
    let success = next
        .target()
        .map(str::to_owned)
        .unwrap_or_else(|| ctx.claim(&format!("Batch launched · {label}"), &key));
    if next.target().is_none() {
        states.insert(success.clone(), pass(None, None, None, Transition::End));
    }
    // Every server LAUNCHED: the batch's last one is present among the launched.
    let all_launched = format!("$.job.launched[{}]", batch.servers.len() - 1);
    let rules = vec![
        ChoiceRule::new(
            Condition::And(vec![
                Condition::StringEquals("$.job.status".into(), "COMPLETED".into()),
                Condition::IsPresent(all_launched, true),
            ]),
            &success,
        ),
        ChoiceRule::new(
            Condition::StringEquals("$.job.status".into(), "COMPLETED".into()),
            &failed,
        ),
    ];
    let poll_entry = Poll { rules, ..poll }.emit(states);
    states.insert(
        failed,
        fail(
            errors::LAUNCH_FAILED,
            format!("the DRS job of `{label}` completed without every server LAUNCHED"),
        ),
    );

    let mut job = ctx.record(
        &key,
        Record {
            add: Some(("jobIds", json!({"SS.$": "States.Array($.launch.jobId)"}))),
            ..Record::status(records::status::RUNNING)
                .started()
                .with("kind", json!({"S": "unit"}))
                .with("label", json!({"S": unit.label}))
        },
    );
    job.transition = Transition::next(&poll_entry);
    job.comment = Some("Marks the group running and keeps its DRS job IDs for the job log".into());
    states.insert(record_job.clone(), State::Task(job));

    // Ambiguous failure: DRS may have created the job. The batch's first server records
    // its last launch; a launch since this execution started is ours, so adopt it.
    let recent = ctx.claim(&format!("Job from this run? · {label}"), &key);
    states.insert(
        find.clone(),
        State::Task(Task {
            resource: Resource::sdk("drs", "describeSourceServers"),
            parameters: Some(json!({"Filters": {"SourceServerIDs": [batch.servers[0]]}})),
            result_selector: Some(json!({"lifeCycle.$": "$.Items[0].LifeCycle"})),
            result_path: Some(ResultPath::at("$.found")),
            retry: vec![transient_retry(Service::Drs)],
            transition: Transition::next(&found),
            ..task_base()
        }),
    );
    states.insert(
        found.clone(),
        choice(
            vec![ChoiceRule::new(
                Condition::IsPresent("$.found.lifeCycle.LastLaunch.Initiated.JobID".into(), true),
                &recent,
            )],
            Some(relaunch.clone()),
        ),
    );
    states.insert(
        recent,
        choice(
            vec![ChoiceRule::new(
                Condition::TimestampGreaterThanEqualsPath(
                    "$.found.lifeCycle.LastLaunch.Initiated.ApiCallDateTime".into(),
                    "$.started".into(),
                ),
                &adopt,
            )],
            Some(relaunch.clone()),
        ),
    );
    states.insert(
        adopt,
        pass(
            Some(json!({"jobId.$": "$.found.lifeCycle.LastLaunch.Initiated.JobID", "elapsed": 0})),
            None,
            Some(ResultPath::at("$.launch")),
            Transition::next(&record_job),
        ),
    );
    // No job was found, so launching again cannot double-launch; once only.
    states.insert(
        relaunch.clone(),
        choice(
            vec![ChoiceRule::new(
                Condition::IsPresent("$.relaunched".into(), true),
                &give_up,
            )],
            Some(mark.clone()),
        ),
    );
    states.insert(
        give_up,
        fail(
            errors::LAUNCH_FAILED,
            format!("StartRecovery for `{label}` failed twice without creating a job"),
        ),
    );
    let mut first = launch_task(ctx, unit, batch, false);
    first.catch = vec![
        slot.catch(),
        Catch {
            error_equals: ambiguous_errors(),
            result_path: Some(ResultPath::at("$.launchError")),
            next: find.clone(),
        },
    ];
    first.transition = Transition::next(&record_job);
    states.insert(launch.clone(), State::Task(first));
    states.insert(
        mark,
        pass(
            None,
            Some(json!(true)),
            Some(ResultPath::at("$.relaunched")),
            Transition::next(&entry),
        ),
    );

    let slot_catch = slot.catch();
    slot.emit(states);
    let Some(which) = which else {
        return launch;
    };
    let from_snapshots = ctx.claim(&format!("Launch from snapshots · {label}"), &key);
    let mut pit = launch_task(ctx, unit, batch, true);
    pit.catch = vec![
        slot_catch,
        Catch {
            error_equals: ambiguous_errors(),
            result_path: Some(ResultPath::at("$.launchError")),
            next: find,
        },
    ];
    pit.transition = Transition::next(&record_job);
    states.insert(from_snapshots.clone(), State::Task(pit));
    states.insert(
        which.clone(),
        choice(
            vec![ChoiceRule::new(
                Condition::IsPresent("$.input.snapshots".into(), true),
                &from_snapshots,
            )],
            Some(launch),
        ),
    );
    which
}
