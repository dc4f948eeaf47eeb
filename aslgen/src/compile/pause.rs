//! Pause at a wave boundary: between waves the machine reads one flag on its record; an
//! operator's pause request makes it store a task token there and wait, at no cost, until
//! the API resumes it (SendTaskSuccess). Cancel (StopExecution) works while paused.

use super::ctx::{Ctx, choice, task_base};
use crate::asl::{
    Catch, ChoiceRule, Condition, ErrorName, Resource, ResultPath, Retry, State, States, Task,
    Transition,
};
use crate::records;
use serde_json::json;

/// Emits the check before wave `index` (0-based); returns its entry.
pub fn emit_pause_check(ctx: &mut Ctx, index: usize, states: &mut States, next: String) -> String {
    let key = format!("w{}", index + 1);
    let wave = format!("Wave {}", index + 1);
    let check = ctx.claim(&format!("Pause requested? · before {wave}"), &key);
    let decide = ctx.claim(&format!("Pause? · before {wave}"), &key);
    let paused = ctx.claim(&format!("Paused · before {wave}"), &key);
    let resumed = ctx.claim(&format!("Resumed · before {wave}"), &key);
    let execution_key = json!({
        "pk": {"S.$": records::execution_pk_expression("$$.Execution.Name")},
        "sk": {"S": records::EXECUTION}
    });
    states.insert(
        check.clone(),
        State::Task(Task {
            resource: Resource::optimized("dynamodb", "getItem"),
            parameters: Some(json!({
                "TableName": ctx.deployment.table,
                "Key": execution_key,
                "ProjectionExpression": "pauseRequested",
                "ConsistentRead": true,
            })),
            result_path: Some(ResultPath::at("$.pause")),
            retry: vec![Retry::backoff(vec![ErrorName::TaskFailed], 5)],
            transition: Transition::next(&decide),
            ..task_base()
        }),
    );
    states.insert(
        decide,
        choice(
            vec![ChoiceRule::new(
                Condition::IsPresent("$.pause.Item.pauseRequested".into(), true),
                &paused,
            )],
            Some(next.clone()),
        ),
    );
    // Conditional on the request still standing: a resume that came first wins, and the
    // run goes on without waiting.
    states.insert(
        paused,
        State::Task(Task {
            comment: Some(
                "Stores the task token on the run's record; the API resumes with SendTaskSuccess"
                    .into(),
            ),
            resource: Resource::sdk_callback("dynamodb", "updateItem"),
            parameters: Some(json!({
                "TableName": ctx.deployment.table,
                "Key": execution_key,
                "UpdateExpression": "SET #status = :paused, pauseToken = :token, pausedAt = :t, pausedBefore = :wave",
                "ConditionExpression": "attribute_exists(pauseRequested)",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {
                    ":paused": {"S": "PAUSED"},
                    ":token": {"S.$": "$$.Task.Token"},
                    ":t": {"S.$": "$$.State.EnteredTime"},
                    ":wave": {"N": (index + 1).to_string()},
                },
            })),
            result_path: Some(ResultPath::Discard),
            catch: vec![Catch {
                error_equals: vec![ErrorName::custom(
                    "DynamoDb.ConditionalCheckFailedException",
                )],
                result_path: Some(ResultPath::Discard),
                next: next.clone(),
            }],
            transition: Transition::next(&resumed),
            ..task_base()
        }),
    );
    states.insert(
        resumed,
        State::Task(Task {
            resource: Resource::optimized("dynamodb", "updateItem"),
            parameters: Some(json!({
                "TableName": ctx.deployment.table,
                "Key": execution_key,
                "UpdateExpression": "SET #status = :running REMOVE pauseRequested, pauseToken",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {":running": {"S": "RUNNING"}},
            })),
            result_path: Some(ResultPath::Discard),
            retry: vec![Retry::backoff(vec![ErrorName::TaskFailed], 5)],
            transition: Transition::next(next),
            ..task_base()
        }),
    );
    check
}
