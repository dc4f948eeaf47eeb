//! Health checks that are not SSM documents: EC2 status checks and the TCP/HTTP probe
//! Lambda, each polled until healthy or its deadline.

use super::ctx::{Ctx, Poll, Service, errors, task_base, transient_retry};
use super::unit::{Batch, find_instances};
use crate::asl::{
    ChoiceRule, Condition, ErrorName, Resource, ResultPath, Retry, State, States, Task, Transition,
};
use serde_json::{Value, json};

/// EC2 status checks as a health check: the same poll as waiting for running.
#[allow(clippy::too_many_arguments)]
pub(super) fn emit_ec2_status(
    ctx: &mut Ctx,
    batch: &Batch,
    key: &str,
    name: &str,
    timeout: u64,
    states: &mut States,
    done: &str,
) -> String {
    let poll = Poll {
        check_first: true,
        back_off: false,
        wait: ctx.claim(&format!("Wait · {name}"), key),
        count: ctx.claim(&format!("Count wait · {name}"), key),
        check: ctx.claim(&format!("Check · {name}"), key),
        decide: ctx.claim(&format!("Healthy? · {name}"), key),
        timed_out: ctx.claim(&format!("Unhealthy · {name}"), key),
        counter: "$.instances",
        carry: &["ids", "count"],
        check_task: super::unit::status_check(false),
        rules: vec![ChoiceRule::new(super::unit::all_ready(batch), done)],
        deadline_seconds: timeout,
        timeout_error: errors::HEALTH_FAILED,
        timeout_cause: format!("EC2 status checks of `{name}` were not ok in time"),
    };
    let entry = poll.emit(states);
    find_instances(ctx, batch, key, name, states, &entry)
}

/// TCP/HTTP probes through the health-check Lambda, retried until healthy or deadline.
pub(super) fn emit_probe(
    ctx: &mut Ctx,
    key: &str,
    name: &str,
    mut payload: Value,
    timeout: u64,
    states: &mut States,
    done: &str,
) -> String {
    let addresses = ctx.claim(&format!("Get addresses · {name}"), key);
    payload["targets.$"] = json!("$.addresses.ips");
    payload["timeoutMs"] = json!(3_000);
    let poll = Poll {
        check_first: true,
        back_off: false,
        wait: ctx.claim(&format!("Wait · {name}"), key),
        count: ctx.claim(&format!("Count wait · {name}"), key),
        check: ctx.claim(&format!("Probe · {name}"), key),
        decide: ctx.claim(&format!("Healthy? · {name}"), key),
        timed_out: ctx.claim(&format!("Unhealthy · {name}"), key),
        counter: "$.addresses",
        carry: &["ips"],
        check_task: Task {
            resource: Resource::optimized("lambda", "invoke"),
            parameters: Some(json!({
                "FunctionName": ctx.deployment.probe_function_arn(),
                "Payload": payload,
            })),
            result_selector: Some(json!({"healthy.$": "$.Payload.healthy"})),
            result_path: Some(ResultPath::at("$.probe")),
            retry: vec![Retry::backoff(
                vec![
                    ErrorName::custom("Lambda.ServiceException"),
                    ErrorName::custom("Lambda.AWSLambdaException"),
                    ErrorName::custom("Lambda.SdkClientException"),
                    ErrorName::custom("Lambda.TooManyRequestsException"),
                ],
                6,
            )],
            ..task_base()
        },
        rules: vec![ChoiceRule::new(
            Condition::BooleanEquals("$.probe.healthy".into(), true),
            done,
        )],
        deadline_seconds: timeout,
        timeout_error: errors::HEALTH_FAILED,
        timeout_cause: format!("`{name}` did not pass within {timeout} s"),
    };
    let entry = poll.emit(states);
    states.insert(
        addresses.clone(),
        State::Task(Task {
            resource: Resource::sdk("ec2", "describeInstances"),
            parameters: Some(json!({"InstanceIds.$": "$.instances.ids"})),
            result_selector: Some(json!({
                "ips.$": "$.Reservations[*].Instances[*].PrivateIpAddress",
                "elapsed": 0
            })),
            result_path: Some(ResultPath::at("$.addresses")),
            retry: vec![transient_retry(Service::Ec2)],
            transition: Transition::next(entry),
            ..task_base()
        }),
    );
    addresses
}
