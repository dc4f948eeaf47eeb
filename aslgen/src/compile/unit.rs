//! A unit's part of the machine: launch (StartRecovery + poll), wait for running
//! instances, then its steps; wrapped in one box whose Catch applies criticality.

use super::ctx::{
    Ctx, Poll, Record, Service, branch, catch_all, choice, errors, fail, parallel, pass, task_base,
    transient_retry, wrap,
};
use super::steps;
use crate::asl::{
    Catch, ChoiceRule, Condition, ErrorName, Resource, ResultPath, State, States, Task, Transition,
};
use crate::flow::Segment;
use crate::model::Criticality;
use crate::records;
use crate::stepmap::StepEntry;
use crate::validate::{Stage, Unit, UnitId};
use serde_json::json;

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
        let entry = super::launch::emit_launch(ctx, unit, &mut inner, Transition::next(&done));
        after = Transition::next(entry);
    }
    if segment.launches() {
        after = Transition::next(super::guards::emit_dependency_checks(
            ctx, unit, &mut inner, after,
        ));
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
    if !segment.launches() && unit.criticality == Criticality::Optional {
        after = Transition::next(super::guards::emit_skip_if_ended(
            ctx, unit, &mut inner, after,
        ));
    }
    after = Transition::next(super::guards::emit_adoption(
        ctx, unit, segment, &part, &mut inner, after,
    ));
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
    if segment.launches() && !super::guards::unmet_checks(ctx, unit).is_empty() {
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
                "elapsed": 0,
                "interval": 1
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
        back_off: true,
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
