//! Dependencies that nesting Parallel and sequence cannot express: the dependent polls
//! the progress record its dependency writes, until the awaited stage (or a failure).

use super::ctx::{Ctx, Poll, errors, pass, task_base};
use crate::asl::{ChoiceRule, Condition, Resource, ResultPath, States, Task, Transition};
use crate::records;
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
    let poll = Poll {
        check_first: true,
        back_off: false,
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
            ..record_query(
                ctx,
                awaited,
                Some(stage),
                &[records::status::FAILED, records::status::SKIPPED],
            )
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

/// Counts (at `$.dependency.count`, 0 or 1) whether `unit`'s progress record has reached
/// `stage` (or a later one) or holds one of `statuses`.
pub(super) fn record_query(
    ctx: &Ctx,
    unit: &Unit,
    stage: Option<Stage>,
    statuses: &[&str],
) -> Task {
    let mut values = serde_json::Map::new();
    values.insert(
        ":pk".into(),
        json!({"S.$": records::execution_pk_expression(ctx.run_name())}),
    );
    values.insert(":sk".into(), json!({"S": records::step_sk(&unit.key)}));
    let mut names = serde_json::Map::new();
    let mut filters = Vec::new();
    if let Some(stage) = stage {
        let accepted: Vec<String> = [Stage::Launched, Stage::Running, Stage::Healthy]
            .into_iter()
            .filter(|s| *s >= stage)
            .enumerate()
            .map(|(i, s)| {
                let placeholder = format!(":stage{i}");
                values.insert(placeholder.clone(), json!({ "S": stage_name(s) }));
                placeholder
            })
            .collect();
        names.insert("#stage".into(), json!("stage"));
        filters.push(format!("#stage IN ({})", accepted.join(", ")));
    }
    if !statuses.is_empty() {
        let listed: Vec<String> = statuses
            .iter()
            .enumerate()
            .map(|(i, status)| {
                let placeholder = format!(":status{i}");
                values.insert(placeholder.clone(), json!({ "S": status }));
                placeholder
            })
            .collect();
        names.insert("#status".into(), json!("status"));
        filters.push(format!("#status IN ({})", listed.join(", ")));
    }
    Task {
        resource: Resource::sdk("dynamodb", "query"),
        parameters: Some(json!({
            "TableName": ctx.deployment.table,
            "KeyConditionExpression": "pk = :pk AND sk = :sk",
            "FilterExpression": filters.join(" OR "),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "Select": "COUNT",
            "ConsistentRead": true,
        })),
        result_selector: Some(json!({"count.$": "$.Count"})),
        result_path: Some(ResultPath::at("$.dependency")),
        retry: vec![super::ctx::dynamodb_throttle_retry()],
        ..task_base()
    }
}

/// The `stage` value progress records hold for a stage.
pub fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Launched => records::stage::LAUNCHED,
        Stage::Running => records::stage::RUNNING,
        Stage::Healthy => records::stage::HEALTHY,
    }
}
