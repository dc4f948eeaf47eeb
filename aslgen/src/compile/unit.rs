//! A unit's part of the machine: launch (StartRecovery + poll), wait for running
//! instances, then its steps; wrapped in one box whose Catch applies criticality.

use super::ctx::{
    Ctx, Poll, Record, Service, SlotWait, branch, catch_all, choice, errors, fail, parallel, pass,
    task_base, transient_retry, wrap,
};
use super::steps;
use crate::asl::{
    Catch, ChoiceRule, Condition, ErrorName, Resource, ResultPath, Retry, State, States, Task,
    Transition,
};
use crate::flow::{MAX_JOBS_IN_FLIGHT, MAX_SERVERS_IN_FLIGHT, MAX_SERVERS_PER_JOB, Segment};
use crate::model::{Criticality, OnUnmet};
use crate::records;
use crate::stepmap::StepEntry;
use crate::validate::{Stage, Unit, UnitId};
use serde_json::{Value, json};

/// Tag keys put on every DRS job; plain identifiers so JSONPath filters can name them.
pub const TAG_PLAN: &str = "drsOrchestratorPlan";
pub const TAG_EXECUTION: &str = "drsOrchestratorExecution";
pub const TAG_WAVE: &str = "drsOrchestratorWave";
pub const TAG_UNIT: &str = "drsOrchestratorUnit";

/// One batch of a unit: at most 100 servers, one StartRecovery.
pub struct Batch<'u> {
    pub servers: &'u [String],
    /// " (2/3)" when the unit has several batches, else "".
    pub suffix: String,
    pub number: usize,
}

pub fn batches(unit: &Unit) -> Vec<Batch<'_>> {
    let chunks: Vec<&[String]> = unit.servers.chunks(unit.batch_size()).collect();
    let total = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, servers)| Batch {
            servers,
            suffix: if total > 1 {
                format!(" ({}/{total})", i + 1)
            } else {
                String::new()
            },
            number: i + 1,
        })
        .collect()
}

/// Emits the box for one segment of a unit into `states`; returns its name.
pub fn emit_segment(
    ctx: &mut Ctx,
    segment: &Segment,
    awaits: &[(UnitId, Stage)],
    states: &mut States,
    next: Transition,
) -> String {
    let resolved = ctx.resolved;
    let unit = &resolved.units[segment.unit];
    let key = unit.key.clone();
    if segment.launches() {
        let mut entry = StepEntry::new("unit", unit.label.clone());
        entry.wave = Some(unit.wave + 1);
        entry.group = Some(unit.group.clone());
        entry.servers = Some(unit.servers.len());
        entry.critical = Some(unit.criticality == Criticality::Critical);
        entry.path = Some(unit.path.clone());
        ctx.register_step(&key, entry);
    }
    let whole = segment.launches() && segment.to == unit.final_stage();
    let part = match (whole, segment.to) {
        (true, _) => String::new(),
        (false, Stage::Launched) => " (launch)".to_owned(),
        (false, Stage::Running) => " (running)".to_owned(),
        (false, Stage::Healthy) => " (checks)".to_owned(),
    };
    let box_name = ctx.claim(&format!("{}{part}", unit.label), &key);
    let is_final = segment.to == unit.final_stage();

    // Built back to front: each phase is told where to go next.
    let mut inner = States::new();
    let mut after = Transition::End;
    let finish = |stage: &'static str| {
        let record = Record::default().stage(stage);
        if is_final {
            Record {
                status: Some(records::status::SUCCEEDED),
                ..record
            }
            .ended()
        } else {
            record
        }
    };
    if segment.covers(Stage::Healthy) && !unit.steps.is_empty() {
        let done = ctx.claim(&format!("Checks passed · {}", unit.label), &key);
        let mut task = ctx.record(&key, finish(super::wait::stage_name(Stage::Healthy)));
        task.transition = after;
        inner.insert(done.clone(), State::Task(task));
        after = Transition::next(&done);
        after = steps::emit_unit_steps(ctx, unit, &mut inner, after);
    }
    if segment.covers(Stage::Running) && unit.needs_running {
        let done = ctx.claim(&format!("Running · {}", unit.label), &key);
        let mut task = ctx.record(&key, finish(super::wait::stage_name(Stage::Running)));
        task.transition = after;
        inner.insert(done.clone(), State::Task(task));
        after = Transition::next(&done);
        let entry = emit_running(ctx, unit, &key, "", &mut inner, after);
        after = Transition::next(entry);
    }
    if segment.launches() {
        let done = ctx.claim(&format!("Launched · {}", unit.label), &key);
        let mut task = ctx.record(&key, finish(super::wait::stage_name(Stage::Launched)));
        task.transition = after;
        inner.insert(done.clone(), State::Task(task));
        let entry = emit_launch(ctx, unit, &mut inner, Transition::next(&done));
        after = Transition::next(entry);
    }
    if segment.launches() {
        after = Transition::next(emit_dependency_checks(ctx, unit, &mut inner, after));
    }
    for &(awaited, stage) in awaits.iter().rev() {
        let entry = super::wait::emit_wait_for(
            ctx,
            unit,
            &resolved.units[awaited],
            stage,
            &mut inner,
            after,
        );
        after = Transition::next(entry);
    }
    // A later part of a split optional unit whose launch failed or was skipped has
    // nothing to do: its failure was recorded (and counted) once.
    if !segment.launches() && unit.criticality == Criticality::Optional {
        let check = ctx.claim(&format!("Check launch outcome · {}", unit.label), &key);
        let ended = ctx.claim(&format!("Launch failed or skipped? · {}", unit.label), &key);
        let nothing = ctx.claim(&format!("Nothing more for {}", unit.label), &key);
        let mut query = super::wait::record_query(
            ctx,
            unit,
            None,
            &[records::status::FAILED, records::status::SKIPPED],
        );
        query.transition = Transition::next(&ended);
        inner.insert(check.clone(), State::Task(query));
        inner.insert(
            ended,
            choice(
                vec![ChoiceRule::new(
                    Condition::NumericGreaterThanEquals("$.dependency.count".into(), 1),
                    &nothing,
                )],
                after.target().map(str::to_owned),
            ),
        );
        inner.insert(nothing, pass(None, None, None, Transition::End));
        after = Transition::next(check);
    }
    // A re-run adopts what its earlier run brought to the final stage: recorded as such,
    // nothing launched or checked again.
    {
        let adopted = format!("$.input.adopt.{}", adopt_field(&unit.key));
        let check = ctx.claim(&format!("Adopted? · {}{part}", unit.label), &key);
        let done = ctx.claim(&format!("Adopted · {}{part}", unit.label), &key);
        inner.insert(
            check.clone(),
            choice(
                vec![ChoiceRule::new(
                    Condition::IsPresent(adopted.clone(), true),
                    &done,
                )],
                after.target().map(str::to_owned),
            ),
        );
        if segment.launches() {
            let mut record = ctx.record(
                &key,
                Record::status(records::status::SUCCEEDED)
                    .stage(super::wait::stage_name(unit.final_stage()))
                    .started()
                    .ended()
                    .with("kind", json!({"S": "unit"}))
                    .with("label", json!({"S": unit.label}))
                    .with("adopted", json!({"BOOL": true}))
                    .with("jobIds", json!({"SS.$": adopted})),
            );
            record.transition = Transition::End;
            inner.insert(done, State::Task(record));
        } else {
            inner.insert(done, pass(None, None, None, Transition::End));
        }
        after = Transition::next(check);
    }
    let start_at = after.target().map(str::to_owned).unwrap_or_default();

    // The box's Catch records the failure, then criticality decides.
    let record_failure = ctx.claim(&format!("Record failure · {}", unit.label), &key);
    let failure_next = match unit.criticality {
        Criticality::Critical => {
            let stop = ctx.claim(&format!("{} failed", unit.label), &key);
            states.insert(
                stop.clone(),
                fail(
                    "Group.Failed",
                    format!(
                        "critical group `{}` failed; see its progress record",
                        unit.label
                    ),
                ),
            );
            Transition::next(stop)
        }
        // An optional group's failure is a warning the run's outcome reports: counted on
        // the execution's record, read when the run ends.
        Criticality::Optional => {
            let count = ctx.claim(&format!("Count warning · {}", unit.label), &key);
            let mut counted = ctx.record_execution(Record {
                add: Some(("warnings", json!({"N": "1"}))),
                ..Record::default()
            });
            counted.transition = next.clone();
            states.insert(count.clone(), State::Task(counted));
            Transition::next(count)
        }
    };
    let critical = json!({"BOOL": unit.criticality == Criticality::Critical});
    let mut catches = Vec::new();
    if segment.launches() && !unmet_checks(ctx, unit).is_empty() {
        let record_skip = ctx.claim(&format!("Record skipped · {}", unit.label), &key);
        let mut skipped = ctx.record(
            &key,
            Record::status(records::status::SKIPPED)
                .ended()
                .with_failure()
                .with("critical", critical.clone()),
        );
        skipped.transition = failure_next.clone();
        states.insert(record_skip.clone(), State::Task(skipped));
        catches.push(Catch {
            error_equals: vec![ErrorName::custom(errors::DEPENDENCY_UNMET)],
            result_path: Some(ResultPath::at("$.failure")),
            next: record_skip,
        });
    }
    catches.push(catch_all(&record_failure));
    let mut record = ctx.record(
        &key,
        Record::status(records::status::FAILED)
            .ended()
            .with_failure()
            .with("critical", critical),
    );
    record.transition = failure_next;
    states.insert(record_failure.clone(), State::Task(record));
    states.insert(box_name.clone(), wrap(start_at, inner, catches, next));
    box_name
}

/// The dependencies whose failure the unit must check before launching: optional units
/// (a critical one that fails ends the plan) the unit does not `proceed` past.
fn unmet_checks<'r>(ctx: &Ctx<'r>, unit: &Unit) -> Vec<(&'r Unit, Stage)> {
    let resolved = ctx.resolved;
    let mut checks: Vec<(&Unit, Stage)> = resolved
        .all_edges
        .iter()
        .filter(|e| e.to == unit.id && e.on_unmet == OnUnmet::Skip)
        .map(|e| (&resolved.units[e.from], e.stage))
        .filter(|(from, _)| from.criticality == Criticality::Optional)
        .collect();
    checks.dedup_by_key(|(from, stage)| (from.id, *stage));
    checks
}

/// Before launching: every optional dependency reached its condition, or the unit is
/// skipped (`Dependency.Unmet`, recorded as SKIPPED; its criticality decides the rest).
/// Returns the entry.
fn emit_dependency_checks(
    ctx: &mut Ctx,
    unit: &Unit,
    states: &mut States,
    next: Transition,
) -> String {
    let mut after = next;
    for (dependency, stage) in unmet_checks(ctx, unit).into_iter().rev() {
        let label = format!("{} · {}", dependency.label, unit.label);
        let check = ctx.claim(&format!("Check dependency {label}"), &unit.key);
        let met = ctx.claim(&format!("Dependency met? {label}"), &unit.key);
        let unmet = ctx.claim(&format!("Dependency not met {label}"), &unit.key);
        let mut query = super::wait::record_query(ctx, dependency, Some(stage), &[]);
        query.transition = Transition::next(&met);
        states.insert(check.clone(), State::Task(query));
        states.insert(
            met,
            choice(
                vec![ChoiceRule::new(
                    Condition::NumericGreaterThanEquals("$.dependency.count".into(), 1),
                    after.target().unwrap_or_default(),
                )],
                Some(unmet.clone()),
            ),
        );
        states.insert(
            unmet,
            fail(
                errors::DEPENDENCY_UNMET,
                format!(
                    "`{}` did not become {}, so `{}` was skipped",
                    dependency.label,
                    stage.as_str(),
                    unit.label
                ),
            ),
        );
        after = Transition::next(check);
    }
    after.target().map(str::to_owned).unwrap_or_default()
}

/// StartRecovery for every batch (rounds of at most 5 jobs / 500 servers), each polled
/// until all its servers are LAUNCHED. Returns the entry.
fn emit_launch(ctx: &mut Ctx, unit: &Unit, states: &mut States, next: Transition) -> String {
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

/// The field of the execution input's `adopt` object that names a unit a re-run adopts
/// (its earlier run brought it to its final stage): `k` and the hex of the unit's record
/// key, so JSONPath can name it whatever characters the key holds. Its value is the list
/// of the earlier run's DRS job IDs for that unit.
pub fn adopt_field(unit_key: &str) -> String {
    let hex: String = unit_key.bytes().map(|b| format!("{b:02x}")).collect();
    format!("k{hex}")
}

pub fn unit_tag(plan_id: &str, unit: &Unit, batch: &Batch) -> String {
    format!("{plan_id}/{}/{}", unit.key, batch.number)
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
    let [decide, start, wait, count, timed_out] = SlotWait::names(ctx, &label, &key);
    let slot = SlotWait {
        decide,
        start,
        wait,
        count,
        timed_out,
        retry: entry.clone(),
        deadline_seconds: unit.launch_timeout.as_secs(),
        timeout_error: errors::NO_CAPACITY,
        timeout_cause: format!(
            "DRS refused to launch `{label}` for quota (its job slots were held by other runs) for {}",
            unit.launch_timeout
        ),
    };

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

/// Waits until every recovered instance of the unit (or batch) runs with status checks
/// ok. Returns the entry.
pub fn emit_running(
    ctx: &mut Ctx,
    unit: &Unit,
    key: &str,
    what: &str,
    states: &mut States,
    next: Transition,
) -> String {
    let all = batches(unit);
    if all.len() == 1 {
        return emit_batch_running(ctx, unit, &all[0], key, what, states, next);
    }
    let name = ctx.claim(&format!("Wait for running{what} · {}", unit.label), key);
    let branches = all
        .iter()
        .map(|batch| {
            let mut scope = States::new();
            let start =
                emit_batch_running(ctx, unit, batch, key, what, &mut scope, Transition::End);
            branch(start, scope)
        })
        .collect();
    states.insert(name.clone(), parallel(branches, next));
    name
}

/// `describeRecoveryInstances` for a batch: its EC2 instance IDs at `$.instances`.
pub fn find_instances(
    ctx: &mut Ctx,
    batch: &Batch,
    key: &str,
    name: &str,
    states: &mut States,
    next: &str,
) -> String {
    let found = ctx.claim(&format!("Instances found? · {name}"), key);
    let none = ctx.claim(&format!("No instances · {name}"), key);
    let find = ctx.claim(&format!("Find instances · {name}"), key);
    states.insert(
        find.clone(),
        State::Task(Task {
            resource: Resource::sdk("drs", "describeRecoveryInstances"),
            parameters: Some(json!({"Filters": {"SourceServerIDs": batch.servers}})),
            result_selector: Some(json!({
                "ids.$": "$.Items[*].Ec2InstanceID",
                "count.$": "States.ArrayLength($.Items)",
                "elapsed": 0
            })),
            result_path: Some(ResultPath::at("$.instances")),
            retry: vec![transient_retry(Service::Drs)],
            transition: Transition::next(&found),
            ..task_base()
        }),
    );
    states.insert(
        found,
        choice(
            vec![ChoiceRule::new(
                Condition::IsPresent("$.instances.ids[0]".into(), true),
                next,
            )],
            Some(none.clone()),
        ),
    );
    states.insert(
        none,
        fail(
            errors::NO_RECOVERY_INSTANCES,
            format!("DRS has no recovery instances for `{name}`"),
        ),
    );
    find
}

#[allow(clippy::too_many_arguments)]
fn emit_batch_running(
    ctx: &mut Ctx,
    unit: &Unit,
    batch: &Batch,
    key: &str,
    what: &str,
    states: &mut States,
    next: Transition,
) -> String {
    let label = format!("{}{}", unit.label, batch.suffix);
    let success = match next.target() {
        Some(t) => t.to_owned(),
        None => {
            let done = ctx.claim(&format!("Instances running{what} · {label}"), key);
            states.insert(done.clone(), pass(None, None, None, Transition::End));
            done
        }
    };
    let poll = Poll {
        check_first: true,
        wait: ctx.claim(&format!("Wait for instances{what} · {label}"), key),
        count: ctx.claim(&format!("Count instance wait{what} · {label}"), key),
        check: ctx.claim(&format!("Check instances{what} · {label}"), key),
        decide: ctx.claim(&format!("Running and ok?{what} · {label}"), key),
        timed_out: ctx.claim(&format!("Not running in time{what} · {label}"), key),
        counter: "$.instances",
        carry: &["ids", "count"],
        check_task: status_check(true),
        rules: vec![ChoiceRule::new(all_ready(batch), &success)],
        deadline_seconds: unit.running_timeout.as_secs(),
        timeout_error: errors::NOT_RUNNING,
        timeout_cause: format!(
            "instances of `{label}` were not running with status checks ok within {}",
            unit.running_timeout
        ),
    };
    let entry = poll.emit(states);
    find_instances(ctx, batch, key, &format!("{label}{what}"), states, &entry)
}

/// DescribeInstanceStatus of the batch's instances (`$.instances.ids`), answering only
/// those that are running (when asked) with both status checks ok, at `$.status.ready`.
pub fn status_check(running: bool) -> Task {
    let mut filters = vec![
        json!({"Name": "instance-status.status", "Values": ["ok"]}),
        json!({"Name": "system-status.status", "Values": ["ok"]}),
    ];
    if running {
        filters.insert(
            0,
            json!({"Name": "instance-state-name", "Values": ["running"]}),
        );
    }
    Task {
        resource: Resource::sdk("ec2", "describeInstanceStatus"),
        parameters: Some(json!({
            "InstanceIds.$": "$.instances.ids",
            "IncludeAllInstances": true,
            "Filters": filters,
        })),
        result_selector: Some(json!({"ready.$": "$.InstanceStatuses[*].InstanceId"})),
        result_path: Some(ResultPath::at("$.status")),
        retry: vec![transient_retry(Service::Ec2)],
        ..task_base()
    }
}

/// Ready when as many instances pass the filters as the batch has servers.
pub fn all_ready(batch: &Batch) -> Condition {
    Condition::IsPresent(format!("$.status.ready[{}]", batch.servers.len() - 1), true)
}
