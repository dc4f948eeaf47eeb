//! Plan steps: approvals (callback token kept inside AWS), waits, SSM documents and
//! health checks on recovered instances.

use super::ctx::{
    Ctx, Record, branch, catch_all, errors, fail, intrinsic_literal, parallel, pass, task_base,
    wait_seconds, wrap,
};
use super::unit::{Batch, batches, find_instances};
use crate::asl::{
    Catch, ErrorName, Integration, Resource, ResultPath, Retry, State, States, Task, Transition,
};
use crate::model::{ApprovalStep, HealthProbe, OnFailure, OnTimeout, SsmKind, Step, WaitStep};
use crate::records;
use crate::stepmap::StepEntry;
use crate::validate::Unit;
use serde_json::{Value, json};

/// Where an approval goes when it is rejected or times out, outside the plan body.
pub struct ApprovalExits {
    pub rejected: String,
    pub timed_out: String,
}

fn step_title(step: &Step, index: usize) -> String {
    step.name()
        .map(str::to_owned)
        .unwrap_or_else(|| match step {
            Step::Approval(_) => format!("Approval {index}"),
            Step::Wait(w) => format!("Wait {}", w.duration),
            Step::Ssm(s) => s.document.clone(),
            Step::HealthCheck(h) => match &h.check {
                HealthProbe::Ec2Status => "EC2 status checks".into(),
                HealthProbe::Tcp { port } => format!("TCP {port}"),
                HealthProbe::Http(http) => format!("HTTP {}{}", http.port, http.path),
                HealthProbe::Ssm { document, .. } => document.clone(),
            },
        })
}

/// Steps of a wave's `before` or `after` (approvals and waits), in order. Returns the entry.
pub fn emit_wave_steps(
    ctx: &mut Ctx,
    wave: usize,
    which: &str,
    steps: &[Step],
    states: &mut States,
    mut next: Transition,
) -> Transition {
    for (i, step) in steps.iter().enumerate().rev() {
        let key = format!("w{}.{which}{}", wave + 1, i + 1);
        let title = step_title(step, i + 1);
        let mut entry = StepEntry::new(step.kind(), title.clone());
        entry.wave = Some(wave + 1);
        entry.path = Some(format!("plan.waves[{wave}].{which}[{i}]"));
        ctx.register_step(&key, entry);
        let start = match step {
            Step::Approval(a) => emit_approval(ctx, &key, &title, a, states, next, None),
            Step::Wait(w) => emit_wait(ctx, &key, &title, w, states, next),
            // Validation keeps instance steps out of waves.
            Step::Ssm(_) | Step::HealthCheck(_) => continue,
        };
        next = Transition::next(start);
    }
    next
}

/// A unit's post-launch steps, in order. Returns the entry.
pub fn emit_unit_steps(
    ctx: &mut Ctx,
    unit: &Unit,
    states: &mut States,
    mut next: Transition,
) -> Transition {
    for (i, step) in unit.steps.iter().enumerate().rev() {
        let key = format!("{}.step{}", unit.key, i + 1);
        let title = step_title(step, i + 1);
        let mut entry = StepEntry::new(step.kind(), title.clone());
        entry.wave = Some(unit.wave + 1);
        entry.group = Some(unit.group.clone());
        entry.path = Some(format!("{}.steps[{i}]", unit.path));
        ctx.register_step(&key, entry);
        let label = format!("{title} · {}", unit.label);
        let start = match step {
            Step::Approval(a) => emit_approval(ctx, &key, &label, a, states, next, None),
            Step::Wait(w) => emit_wait(ctx, &key, &label, w, states, next),
            Step::Ssm(s) => {
                let on_failure = s.on_failure;
                emit_instance_step(ctx, unit, &key, &label, step, on_failure, states, next)
            }
            Step::HealthCheck(_) => {
                emit_instance_step(ctx, unit, &key, &label, step, OnFailure::Fail, states, next)
            }
        };
        next = Transition::next(start);
    }
    next
}

fn emit_wait(
    ctx: &mut Ctx,
    key: &str,
    title: &str,
    step: &WaitStep,
    states: &mut States,
    next: Transition,
) -> String {
    let start = ctx.claim(&format!("Start wait · {title}"), key);
    let wait = ctx.claim(&format!("Wait {} · {title}", step.duration), key);
    let done = ctx.claim(&format!("Waited · {title}"), key);
    let mut record = ctx.record(
        key,
        Record::status(records::status::RUNNING)
            .started()
            .with("kind", json!({"S": "wait"}))
            .with("label", json!({"S": title})),
    );
    record.transition = Transition::next(&wait);
    states.insert(start.clone(), State::Task(record));
    states.insert(
        wait,
        wait_seconds(step.duration.as_secs(), Transition::next(&done)),
    );
    let mut record = ctx.record(key, Record::status(records::status::SUCCEEDED).ended());
    record.transition = next;
    states.insert(done, State::Task(record));
    start
}

/// Callback approval: a random id, an email with `/approvals/<id>` links, and the task
/// token stored in DynamoDB by the waiting task itself, so the token never leaves AWS.
pub fn emit_approval(
    ctx: &mut Ctx,
    key: &str,
    title: &str,
    step: &ApprovalStep,
    states: &mut States,
    next: Transition,
    exits: Option<ApprovalExits>,
) -> String {
    let prepare = ctx.claim(&format!("Prepare approval · {title}"), key);
    let requested = ctx.claim(&format!("Record approval request · {title}"), key);
    let notify = ctx.claim(&format!("Request approval · {title}"), key);
    let wait = ctx.claim(&format!("Await approval · {title}"), key);
    let approved = ctx.claim(&format!("Approved · {title}"), key);
    let rejected = ctx.claim(&format!("Record rejection · {title}"), key);
    let timed_out = ctx.claim(&format!("Record approval timeout · {title}"), key);

    let (on_rejected, on_timeout) = match exits {
        Some(exits) => (exits.rejected, exits.timed_out),
        None => {
            let stop = ctx.claim(&format!("Rejected · {title}"), key);
            states.insert(
                stop.clone(),
                fail(
                    errors::APPROVAL_REJECTED,
                    format!("approval `{title}` was rejected"),
                ),
            );
            let timeout = match step.on_timeout {
                OnTimeout::Continue => next.target().map(str::to_owned).unwrap_or_else(|| {
                    let done = ctx.claim(&format!("Continue after timeout · {title}"), key);
                    states.insert(done.clone(), pass(None, None, None, Transition::End));
                    done
                }),
                OnTimeout::Fail => {
                    let stop = ctx.claim(&format!("Approval timed out · {title}"), key);
                    states.insert(
                        stop.clone(),
                        fail(
                            errors::APPROVAL_TIMED_OUT,
                            format!("approval `{title}` was not decided within {}", step.timeout),
                        ),
                    );
                    stop
                }
            };
            (stop, timeout)
        }
    };

    states.insert(
        prepare.clone(),
        pass(
            Some(json!({"id.$": "States.UUID()"})),
            None,
            Some(ResultPath::at("$.approval")),
            Transition::next(&requested),
        ),
    );
    let mut record = ctx.record(
        key,
        Record::status(records::status::AWAITING_APPROVAL)
            .started()
            .with("kind", json!({"S": "approval"}))
            .with("label", json!({"S": title}))
            .with("approvalId", json!({"S.$": "$.approval.id"})),
    );
    record.transition = Transition::next(&notify);
    states.insert(requested, State::Task(record));

    let plan_name = intrinsic_literal(&ctx.resolved.plan_name);
    let url = intrinsic_literal(ctx.deployment.console_url.trim_end_matches('/'));
    let body = step
        .message
        .as_deref()
        .map(|m| format!("{} ", intrinsic_literal(m)))
        .unwrap_or_default();
    let message = format!(
        "States.Format('Recovery plan {plan_name} ({{}}) is waiting for approval: {}. {body}Execution {{}}. Approve: {url}/approvals/{{}}?decision=approve Reject: {url}/approvals/{{}}?decision=reject (sign in, then confirm; the link alone decides nothing).', $.input.mode, {}, $.approval.id, $.approval.id)",
        intrinsic_literal(title),
        ctx.run_name()
    );
    states.insert(
        notify.clone(),
        State::Task(Task {
            resource: Resource::optimized("sns", "publish"),
            parameters: Some(json!({
                "TopicArn": ctx.topic_arn(),
                "Subject": subject(&format!("Approval needed: {}", ctx.resolved.plan_name)),
                "Message.$": message,
            })),
            result_path: Some(ResultPath::Discard),
            retry: vec![Retry::backoff(vec![ErrorName::TaskFailed], 4)],
            transition: Transition::next(&wait),
            ..task_base()
        }),
    );

    let approvers: Vec<Value> = step.approvers.iter().map(|a| json!({"S": a})).collect();
    let mut item = json!({
        "pk": {"S.$": format!("States.Format('{}{{}}', $.approval.id)", records::APPROVAL_PREFIX)},
        "sk": {"S": records::APPROVAL},
        "approvalId": {"S.$": "$.approval.id"},
        "taskToken": {"S.$": "$$.Task.Token"},
        "executionArn": {"S.$": ctx.run_arn()},
        "executionName": {"S.$": ctx.run_name()},
        "planId": {"S": ctx.resolved.plan_id},
        "stepKey": {"S": key},
        "title": {"S": title},
        "approvers": {"L": approvers},
        "recoveryQuorum": {"N": step.recovery_quorum.to_string()},
        "mode": {"S.$": "$.input.mode"},
        "status": {"S": "PENDING"},
        "requestedAt": {"S.$": "$$.State.EnteredTime"},
        "timeoutSeconds": {"N": step.timeout.as_secs().to_string()},
        // DynamoDB TTL attribute (Unix seconds).
        "expiresAt": {"N.$": format!(
            "States.Format('{{}}', States.MathAdd($.input.startedAtEpoch, {}))",
            step.timeout.as_secs() + u64::from(crate::model::ExecutionInput::APPROVAL_RETENTION_SECONDS)
        )},
    });
    if let Some(message) = &step.message {
        item["message"] = json!({"S": message});
    }
    // Absent means one, so plans without a drill quorum compile as before.
    if step.drill_quorum > 1 {
        item["drillQuorum"] = json!({"N": step.drill_quorum.to_string()});
    }
    states.insert(
        wait.clone(),
        State::Task(Task {
            comment: Some("Stores the task token with the approval; the API decides with SendTaskSuccess/SendTaskFailure".into()),
            resource: Resource::AwsSdk {
                service: "dynamodb",
                action: "putItem",
                integration: Integration::WaitForTaskToken,
            },
            parameters: Some(json!({
                "TableName": ctx.deployment.table,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(pk)",
            })),
            result_path: Some(ResultPath::Discard),
            timeout_seconds: Some(step.timeout.as_secs()),
            catch: vec![
                Catch {
                    error_equals: vec![ErrorName::custom(errors::APPROVAL_REJECTED)],
                    result_path: Some(ResultPath::at("$.failure")),
                    next: rejected.clone(),
                },
                Catch {
                    error_equals: vec![ErrorName::Timeout],
                    result_path: Some(ResultPath::at("$.failure")),
                    next: timed_out.clone(),
                },
            ],
            transition: Transition::next(&approved),
            ..task_base()
        }),
    );
    for (name, status, to) in [
        (approved, "APPROVED", next),
        (rejected, "REJECTED", Transition::next(on_rejected)),
        (timed_out, "TIMED_OUT", Transition::next(on_timeout)),
    ] {
        let mut record = ctx.record(key, Record::status(status).ended());
        record.transition = to;
        states.insert(name, State::Task(record));
    }
    prepare
}

/// SNS subjects: ASCII, at most 100 characters.
pub fn subject(text: &str) -> String {
    let ascii: String = text
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '-'
            }
        })
        .collect();
    ascii.chars().take(100).collect()
}

/// A step run on every recovered instance of the unit (per batch), boxed so that its
/// failure is recorded on the step and `onFailure` decides what follows.
#[allow(clippy::too_many_arguments)]
fn emit_instance_step(
    ctx: &mut Ctx,
    unit: &Unit,
    key: &str,
    label: &str,
    step: &Step,
    on_failure: OnFailure,
    states: &mut States,
    next: Transition,
) -> String {
    let box_name = ctx.claim(label, key);
    let record_failure = ctx.claim(&format!("Record step failure · {label}"), key);
    let mut inner = States::new();
    let done = ctx.claim(&format!("Step done · {label}"), key);
    let mut record = ctx.record(key, Record::status(records::status::SUCCEEDED).ended());
    record.transition = Transition::End;
    inner.insert(done.clone(), State::Task(record));

    let all = batches(unit);
    let body = if all.len() == 1 {
        emit_batch_step(ctx, &all[0], key, label, step, &mut inner, &done)
    } else {
        let name = ctx.claim(&format!("All batches · {label}"), key);
        let branches = all
            .iter()
            .map(|batch| {
                let mut scope = States::new();
                let end = ctx.claim(&format!("Batch done · {label}{}", batch.suffix), key);
                scope.insert(end.clone(), pass(None, None, None, Transition::End));
                let start = emit_batch_step(ctx, batch, key, label, step, &mut scope, &end);
                branch(start, scope)
            })
            .collect();
        inner.insert(name.clone(), parallel(branches, Transition::next(&done)));
        name
    };
    let start = ctx.claim(&format!("Start · {label}"), key);
    let mut record = ctx.record(
        key,
        Record::status(records::status::RUNNING)
            .started()
            .with("kind", json!({"S": step.kind()}))
            .with("label", json!({"S": label})),
    );
    record.transition = Transition::next(&body);
    inner.insert(start.clone(), State::Task(record));

    let after_failure = match on_failure {
        OnFailure::Continue => next.clone(),
        OnFailure::Fail => {
            let stop = ctx.claim(&format!("Step failed · {label}"), key);
            let error = match step {
                Step::HealthCheck(_) => errors::HEALTH_FAILED,
                _ => errors::SSM_FAILED,
            };
            states.insert(
                stop.clone(),
                fail(
                    error,
                    format!("step `{label}` failed; see its progress record"),
                ),
            );
            Transition::next(stop)
        }
    };
    let mut record = ctx.record(
        key,
        Record::status(records::status::FAILED)
            .ended()
            .with_failure(),
    );
    record.transition = after_failure;
    states.insert(record_failure.clone(), State::Task(record));
    states.insert(
        box_name.clone(),
        wrap(start, inner, vec![catch_all(&record_failure)], next),
    );
    box_name
}

fn emit_batch_step(
    ctx: &mut Ctx,
    batch: &Batch,
    key: &str,
    label: &str,
    step: &Step,
    states: &mut States,
    done: &str,
) -> String {
    let name = format!("{label}{}", batch.suffix);
    let body = match step {
        Step::Ssm(s) => match s.kind {
            SsmKind::Command => super::ssm::emit_command(
                ctx,
                key,
                &name,
                &s.document,
                &s.parameters,
                s.timeout.as_secs(),
                states,
                done,
            ),
            SsmKind::Automation => super::ssm::emit_automation(
                ctx,
                key,
                &name,
                &s.document,
                &s.parameters,
                s.timeout.as_secs(),
                states,
                done,
            ),
        },
        Step::HealthCheck(h) => match &h.check {
            HealthProbe::Ec2Status => {
                return super::health::emit_ec2_status(
                    ctx,
                    batch,
                    key,
                    &name,
                    h.timeout.as_secs(),
                    states,
                    done,
                );
            }
            HealthProbe::Ssm {
                document,
                parameters,
            } => super::ssm::emit_command(
                ctx,
                key,
                &name,
                document,
                parameters,
                h.timeout.as_secs(),
                states,
                done,
            ),
            HealthProbe::Tcp { port } => {
                let payload = json!({"check": "tcp", "port": port});
                super::health::emit_probe(
                    ctx,
                    key,
                    &name,
                    payload,
                    h.timeout.as_secs(),
                    states,
                    done,
                )
            }
            HealthProbe::Http(http) => {
                let payload = json!({
                    "check": "http",
                    "port": http.port,
                    "path": http.path,
                    "https": http.https,
                    "expectStatus": http.expect_status,
                });
                super::health::emit_probe(
                    ctx,
                    key,
                    &name,
                    payload,
                    h.timeout.as_secs(),
                    states,
                    done,
                )
            }
        },
        Step::Approval(_) | Step::Wait(_) => return done.to_owned(),
    };
    find_instances(ctx, batch, key, &name, states, &body)
}
