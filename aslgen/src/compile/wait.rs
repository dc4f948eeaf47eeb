//! Dependencies that nesting Parallel and sequence cannot express: the dependent polls
//! the progress record its dependency writes, until the awaited stage (or a failure).

use super::ctx::{Ctx, Poll, errors, pass, task_base};
use crate::asl::{
    ChoiceRule, Condition, ErrorName, Resource, ResultPath, Retry, States, Task, Transition,
};
use crate::validate::{Stage, Unit};
use serde_json::json;

/// Longest a dependent waits on another branch's progress record; the awaited unit's own
/// deadlines end it long before (and a failure ends the wait too).
const WAIT_FOR_DEPENDENCY_SECONDS: u64 = 24 * 3_600;

/// Waits until `awaited` has recorded `stage` (or a later one), or has failed: a
/// dependency that nesting Parallel and sequence cannot express, honoured by polling the
/// progress record the awaited unit writes. Returns the entry.
pub(super) fn emit_wait_for(
    ctx: &mut Ctx,
    unit: &Unit,
    awaited: &Unit,
    stage: Stage,
    states: &mut States,
    next: Transition,
) -> String {
    let key = unit.key.clone();
    let label = format!("{} · {}", awaited.label, unit.label);
    let start = ctx.claim(&format!("Start waiting for {label}"), &key);
    let success = next
        .target()
        .map(str::to_owned)
        .unwrap_or_else(|| ctx.claim(&format!("Dependency ready · {label}"), &key));
    if next.target().is_none() {
        states.insert(success.clone(), pass(None, None, None, Transition::End));
    }
    let accepted: Vec<&'static str> = [Stage::Launched, Stage::Running, Stage::Healthy]
        .into_iter()
        .filter(|s| *s >= stage)
        .map(stage_name)
        .collect();
    let mut values = serde_json::Map::new();
    values.insert(
        ":pk".into(),
        json!({"S.$": "States.Format('EXEC#{}', $$.Execution.Name)"}),
    );
    values.insert(":sk".into(), json!({"S": format!("STEP#{}", awaited.key)}));
    values.insert(":failed".into(), json!({"S": "FAILED"}));
    let mut placeholders = Vec::new();
    for (i, name) in accepted.iter().enumerate() {
        let placeholder = format!(":stage{i}");
        values.insert(placeholder.clone(), json!({ "S": name }));
        placeholders.push(placeholder);
    }
    let poll = Poll {
        check_first: true,
        wait: ctx.claim(&format!("Wait for {label}"), &key),
        count: ctx.claim(&format!("Count dependency wait · {label}"), &key),
        check: ctx.claim(&format!("Check progress of {label}"), &key),
        decide: ctx.claim(&format!("Dependency ready? · {label}"), &key),
        timed_out: ctx.claim(&format!("Dependency timed out · {label}"), &key),
        counter: "$.waiting",
        carry: &[],
        check_task: Task {
            comment: Some(format!(
                "Waits for `{}` to be {} — a dependency nesting cannot express without serializing more",
                awaited.label,
                stage.as_str()
            )),
            resource: Resource::sdk("dynamodb", "query"),
            parameters: Some(json!({
                "TableName": ctx.deployment.table,
                "KeyConditionExpression": "pk = :pk AND sk = :sk",
                "FilterExpression": format!("#stage IN ({}) OR #status = :failed", placeholders.join(", ")),
                "ExpressionAttributeNames": {"#stage": "stage", "#status": "status"},
                "ExpressionAttributeValues": values,
                "Select": "COUNT",
            })),
            result_selector: Some(json!({"count.$": "$.Count"})),
            result_path: Some(ResultPath::at("$.dependency")),
            retry: vec![Retry::backoff(
                vec![
                    ErrorName::custom("DynamoDb.ProvisionedThroughputExceededException"),
                    ErrorName::custom("DynamoDb.ThrottlingException"),
                    ErrorName::custom("DynamoDb.InternalServerErrorException"),
                ],
                6,
            )],
            ..task_base()
        },
        rules: vec![ChoiceRule::new(
            Condition::NumericGreaterThanEquals("$.dependency.count".into(), 1),
            &success,
        )],
        deadline_seconds: WAIT_FOR_DEPENDENCY_SECONDS,
        timeout_error: errors::DEPENDENCY_TIMED_OUT,
        timeout_cause: format!(
            "`{}` did not become {} within a day",
            awaited.label,
            stage.as_str()
        ),
    };
    let entry = poll.emit(states);
    states.insert(
        start.clone(),
        pass(
            None,
            Some(json!({"elapsed": 0})),
            Some(ResultPath::at("$.waiting")),
            Transition::next(entry),
        ),
    );
    start
}

/// The `stage` value progress records hold for a stage.
pub fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Launched => "LAUNCHED",
        Stage::Running => "RUNNING",
        Stage::Healthy => "HEALTHY",
    }
}
