//! SSM documents on recovered instances: Command documents (SendCommand, then one
//! poll per instance) and Automation runbooks (one execution per instance).

use super::ctx::{
    Ctx, Poll, Record, Service, branch, errors, fail, inline_map, succeed, task_base,
    transient_retry,
};
use crate::asl::{
    ChoiceRule, Condition, ErrorName, Resource, ResultPath, Retry, State, States, Task, Transition,
};
use indexmap::IndexMap;
use serde_json::{Value, json};

fn ssm_parameters(parameters: &IndexMap<String, Vec<String>>) -> Value {
    json!(parameters)
}

/// SendCommand to the batch's instances, then one poll per instance (Map).
#[allow(clippy::too_many_arguments)]
pub(super) fn emit_command(
    ctx: &mut Ctx,
    key: &str,
    name: &str,
    document: &str,
    parameters: &IndexMap<String, Vec<String>>,
    timeout: u64,
    states: &mut States,
    done: &str,
) -> String {
    let send = ctx.claim(&format!("Run · {name}"), key);
    let keep_id = ctx.claim(&format!("Record command · {name}"), key);
    let each = ctx.claim(&format!("Await each instance · {name}"), key);
    let mut params = json!({
        "DocumentName": document,
        "InstanceIds.$": "$.instances.ids",
        "Comment": super::steps::subject(&format!("{} {key}", ctx.resolved.plan_id)),
        "TimeoutSeconds": timeout.clamp(30, 2_592_000),
    });
    if !parameters.is_empty() {
        params["Parameters"] = ssm_parameters(parameters);
    }
    states.insert(
        send.clone(),
        State::Task(Task {
            resource: Resource::sdk("ssm", "sendCommand"),
            parameters: Some(params),
            result_selector: Some(json!({"commandId.$": "$.Command.CommandId"})),
            result_path: Some(ResultPath::at("$.command")),
            retry: vec![transient_retry(Service::Ssm)],
            transition: Transition::next(&keep_id),
            ..task_base()
        }),
    );
    let mut record = ctx.record(
        key,
        Record {
            add: Some((
                "commandIds",
                json!({"SS.$": "States.Array($.command.commandId)"}),
            )),
            ..Record::default()
        },
    );
    record.transition = Transition::next(&each);
    record.comment = Some("Keeps the command ID so the step's log can show its output".into());
    states.insert(keep_id, State::Task(record));
    let mut inner = States::new();
    let ok = ctx.claim(&format!("Succeeded on instance · {name}"), key);
    let failed = ctx.claim(&format!("Failed on instance · {name}"), key);
    inner.insert(ok.clone(), succeed());
    inner.insert(
        failed.clone(),
        fail(
            errors::SSM_FAILED,
            format!("`{document}` did not succeed on an instance of `{name}`"),
        ),
    );
    let poll = Poll {
        check_first: true,
        back_off: false,
        wait: ctx.claim(&format!("Wait · {name}"), key),
        count: ctx.claim(&format!("Count wait · {name}"), key),
        check: ctx.claim(&format!("Check command · {name}"), key),
        decide: ctx.claim(&format!("Command done? · {name}"), key),
        timed_out: ctx.claim(&format!("Command timed out · {name}"), key),
        counter: "$",
        carry: &["instanceId", "commandId", "input", "tick"],
        check_task: Task {
            resource: Resource::sdk("ssm", "getCommandInvocation"),
            parameters: Some(json!({"CommandId.$": "$.commandId", "InstanceId.$": "$.instanceId"})),
            result_selector: Some(json!({"status.$": "$.Status"})),
            result_path: Some(ResultPath::at("$.invocation")),
            retry: vec![
                Retry::backoff(
                    vec![ErrorName::custom("Ssm.InvocationDoesNotExistException")],
                    6,
                ),
                transient_retry(Service::Ssm),
            ],
            ..task_base()
        },
        rules: vec![
            ChoiceRule::new(
                Condition::StringEquals("$.invocation.status".into(), "Success".into()),
                &ok,
            ),
            ChoiceRule::new(
                Condition::Or(
                    ["Failed", "Cancelled", "TimedOut", "Cancelling"]
                        .iter()
                        .map(|s| Condition::StringEquals("$.invocation.status".into(), (*s).into()))
                        .collect(),
                ),
                &failed,
            ),
        ],
        deadline_seconds: timeout,
        timeout_error: errors::SSM_TIMED_OUT,
        timeout_cause: format!("`{document}` did not finish within {timeout} s"),
    };
    let start = poll.emit(&mut inner);
    states.insert(
        each,
        inline_map(
            "$.instances.ids",
            json!({
                "instanceId.$": "$$.Map.Item.Value",
                "commandId.$": "$.command.commandId",
                "input.$": "$.input",
                "tick.$": "$.tick",
                "elapsed": 0
            }),
            20,
            branch(start.clone(), inner),
            Transition::next(done),
        ),
    );
    send
}

/// One Automation execution per instance (the document's `InstanceId` parameter, always
/// set by the machine), polled.
#[allow(clippy::too_many_arguments)]
pub(super) fn emit_automation(
    ctx: &mut Ctx,
    key: &str,
    name: &str,
    document: &str,
    parameters: &IndexMap<String, Vec<String>>,
    timeout: u64,
    states: &mut States,
    done: &str,
) -> String {
    let each = ctx.claim(&format!("Automate each instance · {name}"), key);
    let mut inner = States::new();
    let start_exec = ctx.claim(&format!("Start automation · {name}"), key);
    let ok = ctx.claim(&format!("Automation succeeded · {name}"), key);
    let failed = ctx.claim(&format!("Automation failed · {name}"), key);
    inner.insert(ok.clone(), succeed());
    inner.insert(
        failed.clone(),
        fail(
            errors::SSM_FAILED,
            format!("`{document}` did not succeed on an instance of `{name}`"),
        ),
    );
    let poll = Poll {
        check_first: true,
        back_off: false,
        wait: ctx.claim(&format!("Wait · {name}"), key),
        count: ctx.claim(&format!("Count wait · {name}"), key),
        check: ctx.claim(&format!("Check automation · {name}"), key),
        decide: ctx.claim(&format!("Automation done? · {name}"), key),
        timed_out: ctx.claim(&format!("Automation timed out · {name}"), key),
        counter: "$",
        carry: &["instanceId", "automation", "input", "tick"],
        check_task: Task {
            resource: Resource::sdk("ssm", "getAutomationExecution"),
            parameters: Some(json!({"AutomationExecutionId.$": "$.automation.id"})),
            result_selector: Some(
                json!({"status.$": "$.AutomationExecution.AutomationExecutionStatus"}),
            ),
            result_path: Some(ResultPath::at("$.execution")),
            retry: vec![transient_retry(Service::Ssm)],
            ..task_base()
        },
        rules: vec![
            ChoiceRule::new(
                Condition::StringEquals("$.execution.status".into(), "Success".into()),
                &ok,
            ),
            ChoiceRule::new(
                Condition::Or(
                    [
                        "Failed",
                        "Cancelled",
                        "TimedOut",
                        "CompletedWithFailure",
                        "Rejected",
                    ]
                    .iter()
                    .map(|s| Condition::StringEquals("$.execution.status".into(), (*s).into()))
                    .collect(),
                ),
                &failed,
            ),
        ],
        deadline_seconds: timeout,
        timeout_error: errors::SSM_TIMED_OUT,
        timeout_cause: format!("`{document}` did not finish within {timeout} s"),
    };
    let poll_start = poll.emit(&mut inner);
    // The runbook always runs on this Map item's recovered instance: the machine sets
    // `InstanceId` itself (validation refuses a plan that names instances, targets or an
    // assume role in its parameters; whatever such a key reached here would be replaced).
    let mut params = ssm_parameters(parameters);
    if let Some(map) = params.as_object_mut() {
        map.retain(|key, _| !key.eq_ignore_ascii_case("InstanceId"));
    }
    params["InstanceId.$"] = json!("States.Array($.instanceId)");
    inner.insert(
        start_exec.clone(),
        State::Task(Task {
            resource: Resource::sdk("ssm", "startAutomationExecution"),
            parameters: Some(json!({"DocumentName": document, "Parameters": params})),
            result_selector: Some(json!({"id.$": "$.AutomationExecutionId"})),
            result_path: Some(ResultPath::at("$.automation")),
            retry: vec![transient_retry(Service::Ssm)],
            transition: Transition::next(poll_start),
            ..task_base()
        }),
    );
    states.insert(
        each.clone(),
        inline_map(
            "$.instances.ids",
            json!({
                "instanceId.$": "$$.Map.Item.Value",
                "input.$": "$.input",
                "tick.$": "$.tick",
                "elapsed": 0
            }),
            10,
            branch(start_exec.clone(), inner),
            Transition::next(done),
        ),
    );
    each
}
