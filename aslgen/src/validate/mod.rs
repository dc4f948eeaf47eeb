//! Validation: every problem in a plan at once, each with its path and a sentence that
//! names the bad value. Resolution (groups to servers, servers to launch units,
//! dependencies to edges) happens in the same pass, so a valid plan comes out resolved.

mod fields;
mod graph;
mod resolve;

pub use graph::reachability as graph_reachability;
pub use resolve::{DepEdge, Resolved, ResolvedWave, Stage, Unit, UnitId};

use crate::inventory::Inventory;
use crate::model::{ExecutionInput, PlanDocument};
use std::fmt;

/// The most servers one plan may recover. Plans larger than one definition are split into
/// child machines per wave, so this is a sanity bound, above what DRS replicates for one
/// account (3,000 source servers by default) with extended source servers from others.
pub const MAX_PLAN_SERVERS: usize = 20_000;
pub const MAX_WAVES: usize = 100;
pub const MAX_GROUPS_PER_WAVE: usize = 200;
pub const MAX_STEPS_PER_SCOPE: usize = 50;
pub const MAX_NAME_LEN: usize = 128;

/// One problem, located by its path in the document (`plan.waves[1].groups[0].dependsOn[0]`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found in a plan.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct Invalid {
    pub problems: Vec<Problem>,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        writeln!(
            f,
            "{count} problem{} in the plan:",
            if count == 1 { "" } else { "s" }
        )?;
        for problem in &self.problems {
            writeln!(f, "  {problem}")?;
        }
        Ok(())
    }
}

/// Collects problems while walking the document.
#[derive(Default)]
pub(crate) struct Problems(Vec<Problem>);

impl Problems {
    pub(crate) fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn into_invalid(self) -> Invalid {
        Invalid { problems: self.0 }
    }
}

/// Validates and resolves a plan. Tag selectors need an inventory; explicit server IDs
/// are also checked against it when one is given.
pub fn validate(doc: &PlanDocument, inventory: Option<&Inventory>) -> Result<Resolved, Invalid> {
    let mut problems = Problems::default();
    fields::check(doc, &mut problems);
    let resolved = resolve::resolve(doc, inventory, &mut problems);
    if problems.is_empty() {
        Ok(resolved)
    } else {
        Err(problems.into_invalid())
    }
}

/// Checks one protection group on its own (as the API receives them); paths are
/// relative to the group (`servers[1]`).
pub fn validate_group(group: &crate::model::ProtectionGroup) -> Result<(), Invalid> {
    let mut problems = Problems::default();
    fields::group(&mut problems, "", group);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.into_invalid())
    }
}

/// Checks an execution input against the plan it would start.
pub fn validate_input(resolved: &Resolved, input: &ExecutionInput) -> Result<(), Invalid> {
    let mut problems = Problems::default();
    if input.poll_seconds > ExecutionInput::MAX_POLL_SECONDS {
        problems.add(
            "pollSeconds",
            format!(
                "poll interval `{}` is over the maximum of {} seconds",
                input.poll_seconds,
                ExecutionInput::MAX_POLL_SECONDS
            ),
        );
    }
    if input.started_at_epoch > ExecutionInput::MAX_STARTED_AT_EPOCH {
        problems.add(
            "startedAtEpoch",
            format!(
                "start time `{}` is past the largest supported, {}",
                input.started_at_epoch,
                ExecutionInput::MAX_STARTED_AT_EPOCH
            ),
        );
    }
    if !input.snapshots.is_empty() {
        if !resolved.point_in_time {
            problems.add(
                "snapshots",
                "this plan does not allow point-in-time snapshots (set `pointInTime: true`)",
            );
        } else {
            let servers = resolved.all_servers();
            for id in &servers {
                if !input.snapshots.contains_key(*id) {
                    problems.add(
                        format!("snapshots.{id}"),
                        format!("server `{id}` is in the plan but has no snapshot; give one for every server or none"),
                    );
                }
            }
            for (id, snapshot) in &input.snapshots {
                if !servers.contains(&id.as_str()) {
                    problems.add(
                        format!("snapshots.{id}"),
                        format!("server `{id}` is not in this plan"),
                    );
                }
                if !fields::is_snapshot_id(snapshot) {
                    problems.add(
                        format!("snapshots.{id}"),
                        format!("`{snapshot}` is not a DRS snapshot ID (`pit-` followed by 17 hex digits)"),
                    );
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.into_invalid())
    }
}
