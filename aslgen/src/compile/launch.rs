//! A unit's launch: StartRecovery per batch (at most 100 servers), waited for until every
//! server is LAUNCHED (woken by DRS's launch events, with a safety poll); an ambiguous
//! failure adopts the job DRS may have created instead of launching twice; a quota
//! refusal waits for a DRS job slot.

use super::ctx::{
    Ctx, Record, Service, branch, choice, dynamodb_throttle_retry, errors, fail, parallel, pass,
    task_base, transient_retry,
};
use super::slots::SlotWait;
use super::unit::{Batch, TAG_EXECUTION, TAG_PLAN, TAG_UNIT, TAG_WAVE, batches, unit_tag};
use crate::asl::{
    Catch, ChoiceRule, Condition, ErrorName, Resource, ResultPath, Retry, State, States, Task,
    Transition, Wait, WaitFor,
};
use crate::records;
use crate::validate::Unit;
use serde_json::{Value, json};

/// StartRecovery for every batch at once, each waited for until all its servers are
/// LAUNCHED; a batch DRS refuses for quota waits for a slot (see `slots`). Returns the
/// entry.
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
    let name = ctx.claim(&format!("Launch all · {}", unit.label), &unit.key);
    let branches = all
        .iter()
        .map(|batch| {
            let mut scope = States::new();
            let start = emit_batch_launch(ctx, unit, batch, &mut scope, Transition::End);
            branch(start, scope)
        })
        .collect();
    states.insert(name.clone(), parallel(branches, next));
    name
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
                format!("{TAG_EXECUTION}.$"): ctx.run_name(),
                TAG_WAVE: format!("w{}", unit.wave + 1),
                TAG_UNIT: unit_tag(&resolved.plan_id, unit, batch),
            }
        })),
        result_selector: Some(json!({"jobId.$": "$.Job.JobID"})),
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
    )
    .woken_by_freed_slots();

    let failed = ctx.claim(&format!("Launch failed · {label}"), &key);
    let success = next
        .target()
        .map(str::to_owned)
        .unwrap_or_else(|| ctx.claim(&format!("Batch launched · {label}"), &key));
    if next.target().is_none() {
        states.insert(success.clone(), pass(None, None, None, Transition::End));
    }
    let wait_entry = LaunchWait {
        start: ctx.claim(&format!("Start launch wait · {label}"), &key),
        register: ctx.claim(&format!("Wait for launch events · {label}"), &key),
        check: ctx.claim(&format!("Check launch · {label}"), &key),
        decide: ctx.claim(&format!("Launched? · {label}"), &key),
        settle: ctx.claim(&format!("Job ending · {label}"), &key),
        count_settle: ctx.claim(&format!("Count job wait · {label}"), &key),
        back_off: ctx.claim(&format!("Back off · {label}"), &key),
        timed_out: ctx.claim(&format!("Launch timed out · {label}"), &key),
        outcome: ctx.claim(&format!("All launched? · {label}"), &key),
        failed: failed.clone(),
        success,
        servers: batch.servers.len(),
        deadline_seconds: unit.launch_timeout.as_secs(),
        timeout_cause: format!(
            "servers of `{label}` were not all LAUNCHED within {}",
            unit.launch_timeout
        ),
    }
    .emit(ctx, states);
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
    job.transition = Transition::next(&wait_entry);
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
            Some(json!({"jobId.$": "$.found.lifeCycle.LastLaunch.Initiated.JobID"})),
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
    slot.emit(ctx, states);
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

/// Waiting for a launch job at a constant cost: the run registers its task token on the
/// job's wait item and sleeps until the launch events machine has seen every server's
/// DRS launch result (EventBridge), then reads the job once. Events are best effort, so
/// the wait times out now and then (a safety poll whose interval grows by the first
/// interval each time) and reads the job anyway. An event that came before the token was registered is on
/// the item already: the registration's condition fails and the job is read at once.
struct LaunchWait {
    start: String,
    register: String,
    check: String,
    decide: String,
    settle: String,
    count_settle: String,
    back_off: String,
    timed_out: String,
    outcome: String,
    failed: String,
    success: String,
    servers: usize,
    deadline_seconds: u64,
    timeout_cause: String,
}

impl LaunchWait {
    fn emit(self, ctx: &Ctx, states: &mut States) -> String {
        states.insert(
            self.start.clone(),
            pass(
                Some(json!({"jobId.$": "$.launch.jobId", "elapsed": 0, "safety.$": "$.safety"})),
                None,
                Some(ResultPath::at("$.launch")),
                Transition::next(&self.register),
            ),
        );
        let (token, expected, reported) = (
            records::attr::WAIT_TOKEN,
            records::attr::EXPECTED,
            records::attr::REPORTED,
        );
        states.insert(
            self.register.clone(),
            State::Task(Task {
                resource: Resource::sdk_callback("dynamodb", "updateItem"),
                parameters: Some(json!({
                    "TableName": ctx.deployment.table,
                    "Key": {
                        "pk": {"S.$": records::job_pk_expression("$.launch.jobId")},
                        "sk": {"S": records::LAUNCH_WAIT}
                    },
                    "UpdateExpression": format!("SET {token} = :token, {expected} = :expected, #run = :run"),
                    "ConditionExpression": format!("attribute_not_exists({reported}) OR size({reported}) < :expected"),
                    "ExpressionAttributeNames": {"#run": "run"},
                    "ExpressionAttributeValues": {
                        ":token": {"S.$": "$$.Task.Token"},
                        ":expected": {"N": self.servers.to_string()},
                        ":run": {"S.$": "$.run"}
                    }
                })),
                result_path: Some(ResultPath::Discard),
                timeout_seconds_path: Some("$.launch.safety".into()),
                retry: vec![dynamodb_throttle_retry()],
                catch: vec![
                    Catch {
                        error_equals: vec![ErrorName::custom("DynamoDb.ConditionalCheckFailedException")],
                        result_path: Some(ResultPath::at("$.launch.early")),
                        next: self.check.clone(),
                    },
                    Catch {
                        error_equals: vec![ErrorName::Timeout],
                        result_path: Some(ResultPath::Discard),
                        next: self.check.clone(),
                    },
                ],
                transition: Transition::next(&self.check),
                ..task_base()
            }),
        );
        states.insert(
            self.check.clone(),
            State::Task(Task {
                resource: Resource::sdk("drs", "describeJobs"),
                parameters: Some(json!({"Filters": {"JobIDs.$": "States.Array($.launch.jobId)"}})),
                result_selector: Some(json!({
                    "status.$": "$.Items[0].Status",
                    "launched.$": "$.Items[0].ParticipatingServers[?(@.LaunchStatus == 'LAUNCHED')].SourceServerID",
                })),
                result_path: Some(ResultPath::at("$.job")),
                retry: vec![transient_retry(Service::Drs)],
                transition: Transition::next(&self.decide),
                ..task_base()
            }),
        );
        // Every server LAUNCHED: the batch's last one is present among the launched.
        let all_launched = format!("$.job.launched[{}]", self.servers - 1);
        let completed = || Condition::StringEquals("$.job.status".into(), "COMPLETED".into());
        states.insert(
            self.decide.clone(),
            choice(
                vec![
                    ChoiceRule::new(completed(), &self.outcome),
                    ChoiceRule::new(
                        Condition::NumericGreaterThanEquals(
                            "$.launch.elapsed".into(),
                            self.deadline_seconds as i64,
                        ),
                        &self.timed_out,
                    ),
                    // Every server reported but DRS has not ended the job yet: poll briefly.
                    ChoiceRule::new(
                        Condition::IsPresent("$.launch.early".into(), true),
                        &self.settle,
                    ),
                ],
                Some(self.back_off.clone()),
            ),
        );
        states.insert(
            self.outcome.clone(),
            choice(
                vec![ChoiceRule::new(
                    Condition::IsPresent(all_launched, true),
                    &self.success,
                )],
                Some(self.failed.clone()),
            ),
        );
        states.insert(
            self.settle.clone(),
            State::Wait(Wait {
                comment: None,
                wait: WaitFor::SecondsPath("$.input.pollSeconds".into()),
                transition: Transition::next(&self.count_settle),
            }),
        );
        let counted = |safety: &str, add: &str| {
            json!({
                "jobId.$": "$.launch.jobId",
                "elapsed.$": format!("States.MathAdd($.launch.elapsed, {add})"),
                "safety.$": safety,
            })
        };
        states.insert(
            self.count_settle,
            pass(
                Some(counted("$.launch.safety", "$.tick")),
                None,
                Some(ResultPath::at("$.launch")),
                Transition::next(&self.check),
            ),
        );
        states.insert(
            self.back_off,
            pass(
                Some(counted(
                    "States.MathAdd($.launch.safety, $.safety)",
                    "$.launch.safety",
                )),
                None,
                Some(ResultPath::at("$.launch")),
                Transition::next(&self.register),
            ),
        );
        states.insert(
            self.timed_out,
            fail(errors::LAUNCH_TIMED_OUT, self.timeout_cause),
        );
        self.start
    }
}
