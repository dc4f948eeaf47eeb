//! Plans as the API sees them: the author's plan, completed with the stored protection
//! groups, validated and compiled by `aslgen`.

use crate::app::AppState;
use crate::error::{ApiError, Detail};
use serde_json::Value;

pub struct Built {
    pub document: aslgen::PlanDocument,
    pub resolved: aslgen::Resolved,
    pub compiled: aslgen::Compiled,
}

/// Parses, validates (every problem, with its path) and compiles a plan.
pub async fn build(state: &AppState, plan: &Value) -> Result<Built, ApiError> {
    let fleet = state.drs.list().await?;
    build_with(state, plan, fleet).await
}

/// As `build`, with the DRS source servers already listed (callers that need them too).
pub async fn build_with(
    state: &AppState,
    plan: &Value,
    fleet: Vec<crate::drs::SourceServer>,
) -> Result<Built, ApiError> {
    crate::limits::check_plan_shape(plan)?;
    let plan: aslgen::model::RecoveryPlan =
        serde_path_to_error::deserialize(plan).map_err(|e| {
            let path = e.path().to_string();
            ApiError::invalid(
                "the plan is not well formed",
                vec![Detail {
                    path: if path == "." {
                        "plan".into()
                    } else {
                        format!("plan.{path}")
                    },
                    message: e.into_inner().to_string(),
                }],
            )
        })?;
    let mut ids: Vec<String> = plan
        .waves
        .iter()
        .flat_map(|w| w.groups.iter().map(|g| g.group.clone()))
        .collect();
    ids.sort();
    ids.dedup();
    // Read concurrently, a bounded number at a time (a plan names up to 20,000 groups).
    let groups = state
        .groups
        .get_many(&ids)
        .await?
        .into_iter()
        // A tag-selected group is resolved against the inventory read now, not the servers
        // its tags matched when it was saved.
        .map(|stored| match stored.tag_selector {
            Some(selector) => aslgen::model::ProtectionGroup {
                id: stored.id,
                name: stored.name,
                description: stored.description,
                servers: Vec::new(),
                tag_selector: Some(selector.into_iter().collect()),
            },
            None => aslgen::model::ProtectionGroup {
                id: stored.id,
                name: stored.name,
                description: stored.description,
                servers: stored.resolved_servers,
                tag_selector: None,
            },
        })
        .collect();
    let inventory = aslgen::Inventory {
        servers: fleet
            .into_iter()
            .map(|s| aslgen::inventory::SourceServer {
                id: s.id,
                hostname: s.hostname,
                tags: s.tags.into_iter().collect(),
                replication_state: s.replication_state,
                lag_seconds: s.lag_seconds,
            })
            .collect(),
    };
    let document = aslgen::PlanDocument {
        protection_groups: groups,
        plan,
    };
    let resolved = aslgen::validate(&document, Some(&inventory))?;
    let compiled = aslgen::compile(&resolved, &state.deployment).map_err(|e| {
        ApiError::invalid(
            "the plan cannot be compiled",
            vec![Detail {
                path: "plan".into(),
                message: e.to_string(),
            }],
        )
    })?;
    Ok(Built {
        document,
        resolved,
        compiled,
    })
}

/// The ids of the stored plans whose waves use protection group `group`.
pub async fn plans_using_group(state: &AppState, group: &str) -> Result<Vec<String>, ApiError> {
    let plans = state.plans.list().await?;
    Ok(plans
        .into_iter()
        .filter(|p| {
            p.plan["waves"].as_array().is_some_and(|waves| {
                waves.iter().any(|w| {
                    w["groups"]
                        .as_array()
                        .is_some_and(|gs| gs.iter().any(|g| g["group"] == group))
                })
            })
        })
        .map(|p| p.id)
        .collect())
}
