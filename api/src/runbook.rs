//! The runbook's way in: the SSM Automation runbook invokes the API function (an IAM
//! permission, not a Cognito token) with an internal event naming its own automation
//! execution. SSM says which document that execution runs, with which parameters and
//! started by whom, so the payload cannot speak for anyone else; the run then takes the
//! one start path a person's start takes (RECOVERY confirmation, pre-flight, locks,
//! record) and is recorded as started by that IAM principal.

use crate::app::AppState;
use crate::error::ApiError;
use crate::routes::executions::{StartInput, start_run};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

/// What the function is invoked with: an internal event (it has an `internal` field, which
/// no API Gateway event has), else an API Gateway request.
pub enum FunctionEvent {
    Internal(InternalEvent),
    Http(Box<lambda_http::request::LambdaRequest>),
}

impl<'de> Deserialize<'de> for FunctionEvent {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        #[derive(Deserialize)]
        struct Probe {
            internal: Option<serde::de::IgnoredAny>,
        }
        // lambda_http reads its events from the raw JSON text, so keep it raw.
        let raw = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
        let text = raw.get();
        let probe: Probe = serde_json::from_str(text).map_err(D::Error::custom)?;
        if probe.internal.is_some() {
            serde_json::from_str(text)
                .map(Self::Internal)
                .map_err(D::Error::custom)
        } else {
            serde_json::from_str(text)
                .map(|r| Self::Http(Box::new(r)))
                .map_err(D::Error::custom)
        }
    }
}

/// Events the function accepts besides API Gateway's.
#[derive(Debug, Deserialize)]
#[serde(tag = "internal", rename_all = "camelCase")]
pub enum InternalEvent {
    /// The runbook's `StartPlan` step.
    StartPlan(RunbookStart),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunbookStart {
    /// `{{ automation:EXECUTION_ID }}`.
    pub automation_execution_id: String,
    pub plan_id: String,
    pub mode: String,
    /// For a RECOVERY: the plan's name, typed to confirm (as in the web UI).
    #[serde(default)]
    pub confirm: String,
    #[serde(default)]
    pub poll_seconds: Option<u32>,
}

pub async fn handle(state: Arc<AppState>, event: InternalEvent) -> Result<Value, ApiError> {
    match event {
        InternalEvent::StartPlan(start) => start_plan(state, start).await,
    }
}

async fn start_plan(state: Arc<AppState>, start: RunbookStart) -> Result<Value, ApiError> {
    let id = &start.automation_execution_id;
    let run = state.automations.get(id).await?.ok_or_else(|| {
        ApiError::forbidden(format!(
            "automation execution `{id}` does not exist; only the runbook starts plans this way"
        ))
    })?;
    if run.document != state.runbook_document {
        return Err(ApiError::forbidden(format!(
            "automation execution `{id}` runs `{}`, not the runbook `{}`",
            run.document, state.runbook_document
        )));
    }
    if !matches!(run.status.as_str(), "Pending" | "InProgress") {
        return Err(ApiError::conflict(format!(
            "automation execution `{id}` is {}, not running",
            run.status
        )));
    }
    let parameter = |name: &str| {
        run.parameters
            .get(name)
            .and_then(|v| v.first())
            .cloned()
            .unwrap_or_default()
    };
    for (name, asked) in [("PlanId", &start.plan_id), ("Mode", &start.mode)] {
        if parameter(name) != *asked {
            return Err(ApiError::forbidden(format!(
                "automation execution `{id}` was started with {name} `{}`, not `{asked}`",
                parameter(name)
            )));
        }
    }
    let started_by = format!("{} (runbook {id})", run.executed_by);
    let input = StartInput::new(&start.mode, &start.confirm, start.poll_seconds);
    let (_, body) = start_run(state, started_by, start.plan_id, input).await?;
    Ok(body.0)
}
