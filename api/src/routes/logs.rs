//! The per-step logs of an execution (DRS job logs, SSM command output, the step's error)
//! and its recovery instances. Kept off `GET /executions/{id}` so the live dashboard's
//! poll stays one DynamoDB query however large the plan; these are read on demand.

use super::executions::{load, plan_servers};
use super::records::{item, text};
use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::error::ApiError;
use aslgen::records;
use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};
use std::sync::Arc;

/// At most this many DRS jobs and SSM commands per step, and instances per command.
const MAX_JOBS: usize = 20;
const MAX_COMMANDS: usize = 10;
const MAX_INSTANCES: usize = 10;

fn string_set(record: &crate::store::Item, attr: &str) -> Vec<String> {
    record
        .get(attr)
        .and_then(|v| v.as_ss().ok())
        .cloned()
        .unwrap_or_default()
}

/// Whether the caller sees what scripts printed: output from recovered production
/// instances can hold configuration a read-only Viewer should not get. Status and exit
/// codes are shown to everyone.
fn sees_output(principal: &Principal) -> bool {
    principal.roles.iter().any(|r| *r != Role::Viewer)
}

pub async fn step(
    State(state): State<Arc<AppState>>,
    principal: axum::Extension<Principal>,
    Path((id, key)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (_, steps) = load(&state, &id).await?;
    let record = steps
        .iter()
        .find(|s| text(s, "sk") == records::step_sk(&key))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "execution `{id}` has no step `{key}` (yet: a step appears when it starts)"
            ))
        })?;

    let job_ids = string_set(record, "jobIds");
    let mut jobs = tokio::task::JoinSet::new();
    for (index, job) in job_ids.iter().take(MAX_JOBS).cloned().enumerate() {
        let drs = state.drs.clone();
        jobs.spawn(async move {
            // One unreadable log (an expired job, a throttled call) is shown as such; the
            // rest of the step's log still answers.
            let entry = match drs.job_log(&job).await {
                Ok(log) => json!({"jobId": job, "log": log}),
                Err(e) => json!({"jobId": job, "log": [], "error": e.message}),
            };
            Ok::<_, ApiError>((index, entry))
        });
    }
    let command_ids = string_set(record, "commandIds");
    let mut commands = tokio::task::JoinSet::new();
    for (index, command) in command_ids.iter().take(MAX_COMMANDS).cloned().enumerate() {
        let ssm = state.ssm.clone();
        commands.spawn(async move {
            let entry = match ssm.command_log(&command, MAX_INSTANCES).await {
                Ok(log) => serde_json::to_value(log).unwrap_or(Value::Null),
                Err(e) => json!({"commandId": command, "invocations": [], "error": e.message}),
            };
            Ok::<_, ApiError>((index, entry))
        });
    }
    let jobs = collect(jobs).await?;
    let mut commands = collect(commands).await?;
    let hidden = !sees_output(&principal);
    if hidden {
        for invocation in commands
            .iter_mut()
            .filter_map(|c| c["invocations"].as_array_mut())
            .flatten()
        {
            invocation["output"] = json!("");
            invocation["errorOutput"] = json!("");
        }
    }

    let mut out = item(record);
    out["key"] = json!(key);
    out["jobs"] = Value::Array(jobs);
    out["commands"] = Value::Array(commands);
    out["moreJobs"] = json!(job_ids.len().saturating_sub(MAX_JOBS));
    out["moreCommands"] = json!(command_ids.len().saturating_sub(MAX_COMMANDS));
    out["outputHidden"] = json!(hidden);
    Ok(Json(out))
}

async fn collect(
    mut calls: tokio::task::JoinSet<Result<(usize, Value), ApiError>>,
) -> Result<Vec<Value>, ApiError> {
    let mut out = Vec::new();
    while let Some(done) = calls.join_next().await {
        out.push(done.map_err(|e| ApiError::internal(e.to_string()))??);
    }
    out.sort_by_key(|(index, _)| *index);
    Ok(out.into_iter().map(|(_, v)| v).collect())
}

/// The recovery instances of the execution's plan's servers, drills and recoveries alike.
pub async fn instances(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (execution, _) = load(&state, &id).await?;
    let plan_id = text(&execution, "planId");
    let items = match plan_servers(&state, &plan_id).await {
        Ok(servers) => state.drs.recovery_instances(&servers).await?,
        // A deleted plan still has its history; only the live view is gone.
        Err(_) => Vec::new(),
    };
    Ok(Json(json!({ "items": items })))
}
