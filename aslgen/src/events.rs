//! The launch events machine: an Express state machine an EventBridge rule starts for
//! every DRS "Source Server Launch Result" event. It adds the server to its job's wait
//! item and, once every server of the job has reported and a run has registered its task
//! token there, wakes that run (SendTaskSuccess) and frees the job's DRS slot for the
//! run's launches waiting for one (their tokens are on the run's `SLOTS` item). No Lambda:
//! two SDK integrations.
//!
//! The rule's input transformer hands it `{"jobId", "server", "state"}` from the event's
//! `detail.job-id`, `resources[0]` (the source server's ARN) and `detail.state`.

use crate::asl::{
    Catch, ChoiceRule, Condition, ErrorName, Resource, ResultPath, Retry, State, StateMachine,
    States, Task, Transition,
};
use crate::compile::Deployment;
use crate::compile::ctx::{
    branch, choice, dynamodb_throttle_retry, inline_map, order, pass, succeed, task_base,
};
use crate::records::{self, attr};
use serde_json::json;

/// The rule's event pattern (EventBridge): DRS's launch results.
pub fn event_pattern() -> serde_json::Value {
    json!({"source": ["aws.drs"], "detail-type": ["DRS Source Server Launch Result"]})
}

/// The rule target's input transformer: paths map and template.
pub fn input_transformer() -> (serde_json::Value, &'static str) {
    (
        json!({"jobId": "$.detail.job-id", "server": "$.resources[0]", "state": "$.detail.state"}),
        r#"{"jobId": <jobId>, "server": <server>, "state": <state>}"#,
    )
}

/// The machine, for `deployment`'s table.
pub fn launch_events_machine(deployment: &Deployment) -> StateMachine {
    let record = "Record launch result";
    let waiting = "Run waiting?";
    let count = "Count reported servers";
    let all = "Every server reported?";
    let wake = "Wake the run";
    let nobody = "No run waiting yet";
    let more = "Servers still launching";
    let moved_on = "Run moved on";
    let free = "Free the run's job slot";
    let any = "Launches waiting for a slot?";
    let wake_all = "Wake them";
    let wake_one = "Wake a launch";
    let woken = "Launch woken";
    let done = "Slot freed";
    let (token, expected, reported) = (attr::WAIT_TOKEN, attr::EXPECTED, attr::REPORTED);
    let mut states = States::new();
    states.insert(
        record.into(),
        State::Task(Task {
            comment: Some(
                "One atomic update: a run registering its token at the same time sees this server or wakes by it".into(),
            ),
            resource: Resource::sdk("dynamodb", "updateItem"),
            parameters: Some(json!({
                "TableName": deployment.table,
                "Key": {
                    "pk": {"S.$": records::job_pk_expression("$.jobId")},
                    "sk": {"S": records::LAUNCH_WAIT}
                },
                "UpdateExpression": format!("ADD {reported} :server SET updatedAt = :t"),
                "ExpressionAttributeValues": {
                    ":server": {"SS.$": "States.Array($.server)"},
                    ":t": {"S.$": "$$.State.EnteredTime"}
                },
                "ReturnValues": "ALL_NEW"
            })),
            result_selector: Some(json!({"attributes.$": "$.Attributes"})),
            result_path: Some(ResultPath::at("$.item")),
            retry: vec![dynamodb_throttle_retry()],
            transition: Transition::next(waiting),
            ..task_base()
        }),
    );
    states.insert(
        waiting.into(),
        choice(
            vec![ChoiceRule::new(
                Condition::And(vec![
                    Condition::IsPresent(format!("$.item.attributes.{token}.S"), true),
                    Condition::IsPresent(format!("$.item.attributes.{expected}.N"), true),
                ]),
                count,
            )],
            Some(nobody.into()),
        ),
    );
    states.insert(
        count.into(),
        pass(
            Some(json!({
                "reported.$": format!("States.ArrayLength($.item.attributes.{reported}.SS)"),
                "expected.$": format!("States.StringToJson($.item.attributes.{expected}.N)"),
                "token.$": format!("$.item.attributes.{token}.S"),
            })),
            None,
            Some(ResultPath::at("$.count")),
            Transition::next(all),
        ),
    );
    states.insert(
        all.into(),
        choice(
            vec![ChoiceRule::new(
                Condition::NumericGreaterThanEqualsPath(
                    "$.count.reported".into(),
                    "$.count.expected".into(),
                ),
                wake,
            )],
            Some(more.into()),
        ),
    );
    states.insert(
        wake.into(),
        State::Task(Task {
            comment: Some(
                "The run reads the job itself; a duplicate or stale wake-up is harmless".into(),
            ),
            resource: Resource::sdk("sfn", "sendTaskSuccess"),
            parameters: Some(json!({"TaskToken.$": "$.count.token", "Output": "{}"})),
            result_path: Some(ResultPath::Discard),
            retry: vec![Retry::backoff(
                vec![ErrorName::custom("Sfn.SfnException")],
                4,
            )],
            // The token was used already or its wait timed out: the run has moved on.
            catch: vec![Catch {
                error_equals: vec![
                    ErrorName::custom("Sfn.TaskTimedOutException"),
                    ErrorName::custom("Sfn.InvalidTokenException"),
                    ErrorName::custom("Sfn.TaskDoesNotExistException"),
                ],
                result_path: Some(ResultPath::Discard),
                next: moved_on.into(),
            }],
            transition: Transition::next(free),
            ..task_base()
        }),
    );
    states.insert(
        moved_on.into(),
        pass(None, None, None, Transition::next(free)),
    );
    // The job has ended, so its DRS job slot is free: take every waiting launch's token
    // from the run's slot item in one update, then wake them all.
    let waiters = attr::SLOT_WAITERS;
    states.insert(
        free.into(),
        State::Task(Task {
            resource: Resource::sdk("dynamodb", "updateItem"),
            parameters: Some(json!({
                "TableName": deployment.table,
                "Key": {
                    "pk": {"S.$": records::execution_pk_expression("$.item.attributes.run.S")},
                    "sk": {"S": records::SLOTS}
                },
                "UpdateExpression": format!("REMOVE {waiters}"),
                "ReturnValues": "UPDATED_OLD"
            })),
            result_selector: Some(json!({"old.$": "$.Attributes"})),
            result_path: Some(ResultPath::at("$.freed")),
            retry: vec![dynamodb_throttle_retry()],
            transition: Transition::next(any),
            ..task_base()
        }),
    );
    let tokens = format!("$.freed.old.{waiters}.SS");
    states.insert(
        any.into(),
        choice(
            vec![ChoiceRule::new(
                Condition::IsPresent(tokens.clone(), true),
                wake_all,
            )],
            Some(done.into()),
        ),
    );
    let mut processor = States::new();
    processor.insert(
        wake_one.into(),
        State::Task(Task {
            resource: Resource::sdk("sfn", "sendTaskSuccess"),
            parameters: Some(json!({"TaskToken.$": "$.token", "Output": "{}"})),
            result_path: Some(ResultPath::Discard),
            // A launch whose wait already timed out has moved on by itself.
            catch: vec![Catch {
                error_equals: vec![ErrorName::All],
                result_path: Some(ResultPath::Discard),
                next: woken.into(),
            }],
            transition: Transition::End,
            ..task_base()
        }),
    );
    processor.insert(woken.into(), succeed());
    states.insert(
        wake_all.into(),
        inline_map(
            &tokens,
            json!({"token.$": "$$.Map.Item.Value"}),
            0,
            branch(wake_one.into(), processor),
            Transition::next(done),
        ),
    );
    for end in [nobody, more, done] {
        states.insert(end.into(), succeed());
    }
    StateMachine {
        comment: "DRS launch results → the runs waiting for them (EventBridge → Express → SendTaskSuccess). Generated by aslgen; do not edit.".into(),
        start_at: record.into(),
        states: order(record, states),
        timeout_seconds: Some(60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asl::check;

    #[test]
    fn the_machine_is_well_formed() {
        let machine = launch_events_machine(&Deployment::default());
        assert!(check(&machine).is_empty(), "{:?}", check(&machine));
        let text = serde_json::to_string(&machine).unwrap_or_default();
        assert!(text.contains("JOB#"), "{text}");
        assert!(text.contains("aws-sdk:sfn:sendTaskSuccess"), "{text}");
    }
}
