//! How a run ends: its outcome recorded, a drill cleaned up (or only cleaned up, for a
//! cancelled run), warnings read, the notification sent, then Succeed or Fail.

use super::ctx::{
    self, Ctx, Record, choice, fail, intrinsic_literal, pass, succeed, task_base, wait_seconds,
    wrap,
};
use super::{cleanup, errors, steps};
use crate::asl::{ChoiceRule, Condition, ResultPath, State, States, Task, Transition};
use crate::model::DrillCleanup;
use crate::records;
use crate::stepmap::StepEntry;
use serde_json::json;

/// The ending's state names, claimed in reading order right after the plan body's.
pub(super) struct Names {
    pub completed: String,
    pub mark_failed: String,
    pub record_failure: String,
    pub drill_check: String,
    pub cleanup_box: String,
    pub run_cleanup_box: String,
    pub cleanup_failed: String,
    pub cleaned: String,
    pub note_cleanup_failed: String,
    pub record_cleanup: String,
    pub cleanup_only: String,
    pub run_cleaned: String,
    pub run_not_cleaned: String,
    pub record_outcome: String,
    pub read_warnings: String,
    pub warnings_check: String,
    pub with_warnings: String,
    pub no_warnings: String,
    pub notify: String,
    pub succeeded_check: String,
    pub succeeded: String,
    pub failed: String,
}

impl Names {
    pub(super) fn claim(ctx: &mut Ctx, plan_key: &str) -> Self {
        let completed = ctx.claim("Plan completed", plan_key);
        let mark_failed = ctx.claim("Mark plan failed", plan_key);
        let record_failure = ctx.claim("Record plan failure", plan_key);
        let drill_check = ctx.claim("Drill?", plan_key);
        let cleanup_box = ctx.claim("Clean up drill", "cleanup");
        let run_cleanup_box = ctx.claim("Clean up the run's jobs", "cleanup");
        let cleanup_failed = ctx.claim("Cleanup failed", "cleanup");
        let cleaned = ctx.claim("Cleaned up", "cleanup");
        let note_cleanup_failed = ctx.claim("Note failed cleanup", "cleanup");
        let record_cleanup = ctx.claim("Record cleanup", "cleanup");
        let cleanup_only = ctx.claim("Clean-up only?", "cleanup");
        let run_cleaned = ctx.claim("Run cleaned up", "cleanup");
        let run_not_cleaned = ctx.claim("Run not cleaned up", "cleanup");
        let record_outcome = ctx.claim("Record outcome", plan_key);
        let read_warnings = ctx.claim("Read warnings", plan_key);
        let warnings_check = ctx.claim("Warnings?", plan_key);
        let with_warnings = ctx.claim("Note warnings", plan_key);
        let no_warnings = ctx.claim("No warnings", plan_key);
        let notify = ctx.claim("Notify outcome", plan_key);
        let succeeded_check = ctx.claim("Succeeded?", plan_key);
        let succeeded = ctx.claim("Plan succeeded", plan_key);
        let failed = ctx.claim("Plan failed", plan_key);
        Self {
            completed,
            mark_failed,
            record_failure,
            drill_check,
            cleanup_box,
            run_cleanup_box,
            cleanup_failed,
            cleaned,
            note_cleanup_failed,
            record_cleanup,
            cleanup_only,
            run_cleaned,
            run_not_cleaned,
            record_outcome,
            read_warnings,
            warnings_check,
            with_warnings,
            no_warnings,
            notify,
            succeeded_check,
            succeeded,
            failed,
        }
    }
}

/// Emits the ending into `states`.
pub(super) fn emit(ctx: &mut Ctx, names: Names, states: &mut States) {
    let Names {
        completed,
        mark_failed,
        record_failure,
        drill_check,
        cleanup_box,
        run_cleanup_box,
        cleanup_failed,
        cleaned,
        note_cleanup_failed,
        record_cleanup,
        cleanup_only,
        run_cleaned,
        run_not_cleaned,
        record_outcome,
        read_warnings,
        warnings_check,
        with_warnings,
        no_warnings,
        notify,
        succeeded_check,
        succeeded,
        failed,
    } = names;
    let resolved = ctx.resolved;
    let deployment = ctx.deployment;
    // Outcome, drill cleanup, record, notify, end.
    states.insert(
        completed,
        pass(
            None,
            Some(json!({"status": "SUCCEEDED"})),
            Some(ResultPath::at("$.outcome")),
            Transition::next(&drill_check),
        ),
    );
    states.insert(
        mark_failed,
        pass(
            None,
            Some(json!({"status": "FAILED"})),
            Some(ResultPath::at("$.outcome")),
            Transition::next(&record_failure),
        ),
    );
    let mut failure = ctx.record_execution(Record::default().with_failure());
    failure.transition = Transition::next(&drill_check);
    states.insert(record_failure, State::Task(failure));

    let mut cleanup_states = States::new();
    let cleanup_start = cleanup::emit_cleanup(ctx, "cleanup", &mut cleanup_states, Transition::End);
    ctx.register_step("cleanup", StepEntry::new("cleanup", "Drill cleanup"));
    states.insert(
        cleanup_box.clone(),
        wrap(
            cleanup_start,
            cleanup_states,
            vec![ctx::catch_all(&cleanup_failed)],
            Transition::next(&cleaned),
        ),
    );
    let mut run_cleanup_states = States::new();
    let run_cleanup_start =
        cleanup::emit_run_cleanup(ctx, "cleanup", &mut run_cleanup_states, Transition::End);
    states.insert(
        run_cleanup_box,
        wrap(
            run_cleanup_start,
            run_cleanup_states,
            vec![ctx::catch_all(&cleanup_failed)],
            Transition::next(&cleaned),
        ),
    );
    states.insert(
        cleaned,
        pass(
            None,
            Some(json!("CLEAN")),
            Some(ResultPath::at("$.cleanupStatus")),
            Transition::next(&record_cleanup),
        ),
    );
    states.insert(
        cleanup_failed,
        pass(
            None,
            Some(json!({"status": "CLEANUP_FAILED"})),
            Some(ResultPath::at("$.outcome")),
            Transition::next(&note_cleanup_failed),
        ),
    );
    states.insert(
        note_cleanup_failed,
        pass(
            None,
            Some(json!("FAILED")),
            Some(ResultPath::at("$.cleanupStatus")),
            Transition::next(&record_cleanup),
        ),
    );
    // On the owning run's record: CLEAN only once DRS lists none of its drill instances.
    let mut cleanup_record = ctx.record_run(
        Record::default()
            .with("cleanup", json!({"S.$": "$.cleanupStatus"}))
            .with("cleanedAt", json!({"S.$": "$$.State.EnteredTime"})),
    );
    cleanup_record.transition = Transition::next(&cleanup_only);
    states.insert(record_cleanup, State::Task(cleanup_record));
    states.insert(
        cleanup_only,
        choice(
            vec![
                ChoiceRule::new(
                    Condition::And(vec![
                        Condition::IsPresent("$.cleanupOnly".into(), true),
                        Condition::StringEquals("$.cleanupStatus".into(), "CLEAN".into()),
                    ]),
                    &run_cleaned,
                ),
                ChoiceRule::new(
                    Condition::IsPresent("$.cleanupOnly".into(), true),
                    &run_not_cleaned,
                ),
            ],
            Some(record_outcome.clone()),
        ),
    );
    states.insert(run_cleaned, succeed());
    states.insert(
        run_not_cleaned,
        fail(
            errors::CLEANUP_TIMED_OUT,
            "the cancelled run's drill instances were not all terminated; see its record",
        ),
    );
    let on_success = match &resolved.drill_cleanup {
        DrillCleanup::Immediate => cleanup_box.clone(),
        DrillCleanup::Keep => record_outcome.clone(),
        DrillCleanup::After(delay) => {
            let keep = ctx.claim(&format!("Keep drill instances for {delay}"), "cleanup");
            states.insert(
                keep.clone(),
                wait_seconds(delay.as_secs(), Transition::next(&cleanup_box)),
            );
            keep
        }
        DrillCleanup::OnApproval(approval) => {
            let key = "drill-end";
            ctx.register_step(key, StepEntry::new("approval", "End of drill"));
            steps::emit_approval(
                ctx,
                key,
                "End of drill",
                approval,
                states,
                Transition::next(&cleanup_box),
                Some(steps::ApprovalExits {
                    rejected: cleanup_box.clone(),
                    timed_out: cleanup_box.clone(),
                }),
            )
        }
    };
    states.insert(
        drill_check,
        choice(
            vec![
                ChoiceRule::new(
                    Condition::And(vec![
                        Condition::BooleanEquals("$.isDrill".into(), true),
                        Condition::StringEquals("$.outcome.status".into(), "SUCCEEDED".into()),
                    ]),
                    on_success,
                ),
                ChoiceRule::new(
                    Condition::BooleanEquals("$.isDrill".into(), true),
                    &cleanup_box,
                ),
            ],
            Some(record_outcome.clone()),
        ),
    );
    let mut outcome = ctx.record_execution(
        Record::default()
            .ended()
            .with("status", json!({"S.$": "$.outcome.status"})),
    );
    outcome.transition = Transition::next(&read_warnings);
    states.insert(record_outcome, State::Task(outcome));
    // Optional groups that failed each added 1 to the record's `warnings`.
    states.insert(
        read_warnings,
        State::Task(Task {
            resource: crate::asl::Resource::optimized("dynamodb", "getItem"),
            parameters: Some(json!({
                "TableName": ctx.deployment.table,
                "Key": {
                    "pk": {"S.$": records::execution_pk_expression("$$.Execution.Name")},
                    "sk": {"S": records::EXECUTION}
                },
                "ProjectionExpression": "warnings",
                "ConsistentRead": true,
            })),
            result_path: Some(ResultPath::at("$.recorded")),
            retry: vec![crate::asl::Retry::backoff(
                vec![crate::asl::ErrorName::TaskFailed],
                5,
            )],
            transition: Transition::next(&warnings_check),
            ..task_base()
        }),
    );
    states.insert(
        warnings_check,
        choice(
            vec![ChoiceRule::new(
                Condition::And(vec![
                    Condition::StringEquals("$.outcome.status".into(), "SUCCEEDED".into()),
                    Condition::IsPresent("$.recorded.Item.warnings.N".into(), true),
                ]),
                &with_warnings,
            )],
            Some(no_warnings.clone()),
        ),
    );
    states.insert(
        with_warnings,
        pass(
            Some(json!({
                "flag": " with warnings",
                "text.$": "States.Format(' with warnings: {} optional group(s) failed or were skipped', $.recorded.Item.warnings.N)",
            })),
            None,
            Some(ResultPath::at("$.note")),
            Transition::next(&notify),
        ),
    );
    states.insert(
        no_warnings,
        pass(
            None,
            Some(json!({"flag": "", "text": ""})),
            Some(ResultPath::at("$.note")),
            Transition::next(&notify),
        ),
    );
    let plan_name = intrinsic_literal(&resolved.plan_name);
    let url = intrinsic_literal(deployment.console_url.trim_end_matches('/'));
    states.insert(
        notify,
        State::Task(Task {
            resource: crate::asl::Resource::optimized("sns", "publish"),
            parameters: Some(json!({
                "TopicArn": ctx.topic_arn(),
                "Subject.$": format!("States.Format('DRS plan {}: {{}}{{}}', $.outcome.status, $.note.flag)", intrinsic_literal(&steps::subject(&resolved.plan_name).chars().take(60).collect::<String>())),
                "Message.$": format!("States.Format('Recovery plan {plan_name} ({{}}) ended: {{}}{{}}. Execution {{}}. Details: {url}/executions/{{}}', $.input.mode, $.outcome.status, $.note.text, $$.Execution.Name, $$.Execution.Name)"),
            })),
            result_path: Some(ResultPath::Discard),
            retry: vec![crate::asl::Retry::backoff(vec![crate::asl::ErrorName::TaskFailed], 4)],
            transition: Transition::next(&succeeded_check),
            ..task_base()
        }),
    );
    states.insert(
        succeeded_check,
        choice(
            vec![ChoiceRule::new(
                Condition::StringEquals("$.outcome.status".into(), "SUCCEEDED".into()),
                &succeeded,
            )],
            Some(failed.clone()),
        ),
    );
    states.insert(succeeded, succeed());
    states.insert(
        failed,
        fail(
            errors::PLAN_FAILED,
            "the plan did not succeed; see the execution's record and history",
        ),
    );
}
