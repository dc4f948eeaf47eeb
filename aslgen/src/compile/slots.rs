//! DRS job slots. A call refused with `ServiceQuotaExceededException` (the account's 20
//! concurrent jobs or 500 servers in flight are taken) waits for a slot and tries again,
//! until its deadline. A launch waits for one of the run's own jobs to end: when the last
//! server of a job reports, the launch events machine takes the tokens from the run's
//! `SLOTS` item and wakes every launch waiting there. Slots freed by
//! other teams' jobs are found by a safety timeout.
//! Terminations (the drill clean-up) poll every interval.

use super::ctx::{Ctx, choice, pass, task_base};
use crate::asl::{
    Catch, ChoiceRule, Condition, ErrorName, Resource, ResultPath, State, States, Task, Transition,
    Wait, WaitFor,
};
use crate::records::{self, attr};
use serde_json::json;

/// How a refused call learns that a slot may have freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woken {
    /// By one of the run's own jobs ending, or after the safety interval.
    ByFreedSlots,
    /// Every poll interval.
    Polled,
}

/// The states of one slot wait; `retry` is the refused call's state.
pub struct SlotWait {
    pub decide: String,
    pub start: String,
    pub wait: String,
    pub count: String,
    pub woken: String,
    pub timed_out: String,
    pub retry: String,
    pub mode: Woken,
    pub deadline_seconds: u64,
    pub timeout_error: &'static str,
    pub timeout_cause: String,
}

impl SlotWait {
    /// The wait's states for `label`, retrying `retry` until `deadline_seconds`, then
    /// failing with `timeout_error`.
    pub fn new(
        ctx: &mut Ctx,
        (label, key): (&str, &str),
        retry: String,
        deadline_seconds: u64,
        timeout_error: &'static str,
        timeout_cause: String,
    ) -> Self {
        Self {
            decide: ctx.claim(&format!("DRS busy? · {label}"), key),
            start: ctx.claim(&format!("Start slot wait · {label}"), key),
            wait: ctx.claim(&format!("Wait for a DRS slot · {label}"), key),
            count: ctx.claim(&format!("Count slot wait · {label}"), key),
            woken: ctx.claim(&format!("Slot freed · {label}"), key),
            timed_out: ctx.claim(&format!("No DRS slot in time · {label}"), key),
            retry,
            mode: Woken::Polled,
            deadline_seconds,
            timeout_error,
            timeout_cause,
        }
    }

    pub fn woken_by_freed_slots(mut self) -> Self {
        self.mode = Woken::ByFreedSlots;
        self
    }

    /// The Catch a refused call carries.
    pub fn catch(&self) -> Catch {
        Catch {
            error_equals: vec![ErrorName::custom("Drs.ServiceQuotaExceededException")],
            result_path: Some(ResultPath::at("$.refusal")),
            next: self.decide.clone(),
        }
    }

    pub fn emit(self, ctx: &Ctx, states: &mut States) {
        // Rules in order, so the deadline is only compared once `$.slot` exists.
        let rules = vec![
            ChoiceRule::new(
                Condition::IsPresent("$.slot.elapsed".into(), false),
                &self.start,
            ),
            ChoiceRule::new(
                Condition::NumericGreaterThanEquals(
                    "$.slot.elapsed".into(),
                    self.deadline_seconds as i64,
                ),
                &self.timed_out,
            ),
        ];
        let first = self.wait.clone();
        states.insert(self.decide.clone(), choice(rules, Some(first.clone())));
        states.insert(
            self.start,
            pass(
                None,
                Some(json!({"elapsed": 0})),
                Some(ResultPath::at("$.slot")),
                Transition::next(&first),
            ),
        );
        let count = |add: &str| {
            pass(
                Some(json!({"elapsed.$": format!("States.MathAdd($.slot.elapsed, {add})")})),
                None,
                Some(ResultPath::at("$.slot")),
                Transition::next(&self.retry),
            )
        };
        match self.mode {
            Woken::Polled => {
                states.insert(
                    self.wait,
                    State::Wait(Wait {
                        comment: None,
                        wait: WaitFor::SecondsPath("$.input.pollSeconds".into()),
                        transition: Transition::next(&self.count),
                    }),
                );
                states.insert(self.count, count("$.tick"));
            }
            Woken::ByFreedSlots => {
                let key = slots_key();
                states.insert(
                    self.wait,
                    State::Task(Task {
                        resource: Resource::sdk_callback("dynamodb", "updateItem"),
                        parameters: Some(json!({
                            "TableName": ctx.deployment.table,
                            "Key": key,
                            "UpdateExpression": format!("ADD {} :token", attr::SLOT_WAITERS),
                            "ExpressionAttributeValues": {
                                ":token": {"SS.$": "States.Array($$.Task.Token)"}
                            }
                        })),
                        result_path: Some(ResultPath::Discard),
                        timeout_seconds_path: Some("$.safety".into()),
                        // The safety interval passed (or the registration failed): try again.
                        catch: vec![Catch {
                            error_equals: vec![ErrorName::All],
                            result_path: Some(ResultPath::Discard),
                            next: self.count.clone(),
                        }],
                        transition: Transition::next(&self.woken),
                        ..task_base()
                    }),
                );
                states.insert(self.woken, count("$.tick"));
                states.insert(self.count, count("$.safety"));
            }
        }
        states.insert(
            self.timed_out,
            super::ctx::fail(self.timeout_error, self.timeout_cause),
        );
    }
}

/// The run's slot item: `EXEC#<run>` / `SLOTS`.
fn slots_key() -> serde_json::Value {
    json!({
        "pk": {"S.$": records::execution_pk_expression("$.run")},
        "sk": {"S": records::SLOTS}
    })
}
