//! What a group's box checks before it does anything: a re-run's adoption, a later part
//! of an optional group whose launch already ended, and unmet dependencies.

use super::ctx::{Ctx, Record, choice, errors, fail, pass};
use super::unit::adopt_field;
use crate::asl::{ChoiceRule, Condition, State, States, Transition};
use crate::flow::Segment;
use crate::model::{Criticality, OnUnmet};
use crate::records;
use crate::validate::{Stage, Unit};
use serde_json::json;

/// A later part of a split optional unit whose launch failed or was skipped has nothing
/// to do: its failure was recorded (and counted) once. Returns the entry.
pub(super) fn emit_skip_if_ended(
    ctx: &mut Ctx,
    unit: &Unit,
    inner: &mut States,
    after: Transition,
) -> String {
    let key = unit.key.clone();
    let check = ctx.claim(&format!("Check launch outcome · {}", unit.label), &key);
    let ended = ctx.claim(&format!("Launch failed or skipped? · {}", unit.label), &key);
    let nothing = ctx.claim(&format!("Nothing more for {}", unit.label), &key);
    let mut query = super::wait::record_query(
        ctx,
        unit,
        None,
        &[records::status::FAILED, records::status::SKIPPED],
    );
    query.transition = Transition::next(&ended);
    inner.insert(check.clone(), State::Task(query));
    inner.insert(
        ended,
        choice(
            vec![ChoiceRule::new(
                Condition::NumericGreaterThanEquals("$.dependency.count".into(), 1),
                &nothing,
            )],
            after.target().map(str::to_owned),
        ),
    );
    inner.insert(nothing, pass(None, None, None, Transition::End));
    check
}

/// A re-run adopts what its earlier run brought to the final stage: recorded as such,
/// nothing launched or checked again. Returns the entry.
pub(super) fn emit_adoption(
    ctx: &mut Ctx,
    unit: &Unit,
    segment: &Segment,
    part: &str,
    inner: &mut States,
    after: Transition,
) -> String {
    let key = unit.key.clone();
    let adopted = format!("$.input.adopt.{}", adopt_field(&unit.key));
    let check = ctx.claim(&format!("Adopted? · {}{part}", unit.label), &key);
    let done = ctx.claim(&format!("Adopted · {}{part}", unit.label), &key);
    inner.insert(
        check.clone(),
        choice(
            vec![ChoiceRule::new(
                Condition::IsPresent(adopted.clone(), true),
                &done,
            )],
            after.target().map(str::to_owned),
        ),
    );
    if segment.launches() {
        let mut record = ctx.record(
            &key,
            Record::status(records::status::SUCCEEDED)
                .stage(super::wait::stage_name(unit.final_stage()))
                .started()
                .ended()
                .with("kind", json!({"S": "unit"}))
                .with("label", json!({"S": unit.label}))
                .with("adopted", json!({"BOOL": true}))
                .with("jobIds", json!({"SS.$": adopted})),
        );
        record.transition = Transition::End;
        inner.insert(done, State::Task(record));
    } else {
        inner.insert(done, pass(None, None, None, Transition::End));
    }
    check
}

/// The dependencies whose failure the unit must check before launching: optional units
/// (a critical one that fails ends the plan) the unit does not `proceed` past.
pub(super) fn unmet_checks<'r>(ctx: &Ctx<'r>, unit: &Unit) -> Vec<(&'r Unit, Stage)> {
    let resolved = ctx.resolved;
    let mut checks: Vec<(&Unit, Stage)> = resolved
        .all_edges
        .iter()
        .filter(|e| e.to == unit.id && e.on_unmet == OnUnmet::Skip)
        .map(|e| (&resolved.units[e.from], e.stage))
        .filter(|(from, _)| from.criticality == Criticality::Optional)
        .collect();
    checks.dedup_by_key(|(from, stage)| (from.id, *stage));
    checks
}

/// Before launching: every optional dependency reached its condition, or the unit is
/// skipped (`Dependency.Unmet`, recorded as SKIPPED; its criticality decides the rest).
/// Returns the entry.
pub(super) fn emit_dependency_checks(
    ctx: &mut Ctx,
    unit: &Unit,
    states: &mut States,
    next: Transition,
) -> String {
    let mut after = next;
    for (dependency, stage) in unmet_checks(ctx, unit).into_iter().rev() {
        let label = format!("{} · {}", dependency.label, unit.label);
        let check = ctx.claim(&format!("Check dependency {label}"), &unit.key);
        let met = ctx.claim(&format!("Dependency met? {label}"), &unit.key);
        let unmet = ctx.claim(&format!("Dependency not met {label}"), &unit.key);
        let mut query = super::wait::record_query(ctx, dependency, Some(stage), &[]);
        query.transition = Transition::next(&met);
        states.insert(check.clone(), State::Task(query));
        states.insert(
            met,
            choice(
                vec![ChoiceRule::new(
                    Condition::NumericGreaterThanEquals("$.dependency.count".into(), 1),
                    after.target().unwrap_or_default(),
                )],
                Some(unmet.clone()),
            ),
        );
        states.insert(
            unmet,
            fail(
                errors::DEPENDENCY_UNMET,
                format!(
                    "`{}` did not become {}, so `{}` was skipped",
                    dependency.label,
                    stage.as_str(),
                    unit.label
                ),
            ),
        );
        after = Transition::next(check);
    }
    after.target().map(str::to_owned).unwrap_or_default()
}
