//! Recovery plans: validated and compiled by aslgen; saving deploys the plan's own state
//! machine; versions kept; the compiled ASL, its graph, and YAML export/import.

use super::groups::{body, store_error, version_query};
use crate::app::AppState;
use crate::auth::Principal;
use crate::domain::launch_settings;
use crate::error::{ApiError, Detail};
use crate::plans::build;
use crate::store::StoredPlan;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanInput {
    pub plan: Value,
    #[serde(default)]
    pub version: Option<u64>,
}

fn summary(plan: &StoredPlan) -> Value {
    json!({
        "id": plan.id,
        "name": plan.name,
        "version": plan.version,
        "servers": plan.servers,
        "stateMachineArn": plan.state_machine_arn,
        "updatedAt": plan.updated_at,
        "updatedBy": plan.updated_by,
    })
}

pub(super) async fn load(state: &AppState, id: &str) -> Result<StoredPlan, ApiError> {
    state
        .plans
        .get(id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError::not_found(format!("recovery plan `{id}` does not exist")))
}

pub async fn list(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let plans = state.plans.list().await.map_err(store_error)?;
    Ok(Json(
        json!({"items": plans.iter().map(summary).collect::<Vec<_>>()}),
    ))
}

/// The plan; `?version=N` gives that version (what an execution ran, for its report).
pub async fn get(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(query): Query<super::groups::VersionQuery>,
) -> Result<Json<StoredPlan>, ApiError> {
    let Some(version) = super::groups::optional_version(&query)? else {
        return load(&state, &id).await.map(Json);
    };
    state
        .plans
        .version(&id, version)
        .await
        .map_err(store_error)?
        .map(Json)
        .ok_or_else(|| {
            ApiError::not_found(format!("recovery plan `{id}` has no version {version}"))
        })
}

/// Validates, compiles, stores the new version (a conditional write: the one place
/// concurrent saves are decided), then deploys. A writer that loses never deploys; a
/// writer that deploys checks afterwards that what it deployed is still the current
/// version, and deploys the current one if a newer save slipped in between.
async fn save(
    state: &AppState,
    user: &str,
    plan: Value,
    expected: Option<u64>,
    path_id: Option<&str>,
) -> Result<StoredPlan, ApiError> {
    crate::limits::check_plan_size(&plan)?;
    let built = build(state, &plan).await?;
    let id = built.resolved.plan_id.clone();
    if let Some(path_id) = path_id.filter(|p| *p != id) {
        return Err(ApiError::invalid(
            "a plan's id cannot change",
            vec![Detail {
                path: "plan.id".into(),
                message: format!("`{id}` differs from the plan's id `{path_id}`"),
            }],
        ));
    }
    let current = match expected {
        Some(v) => {
            let current = load(state, &id).await?;
            if current.version != v {
                return Err(ApiError::stale(format!(
                    "version {v} is stale; the current version is {}",
                    current.version
                )));
            }
            Some(current)
        }
        None => None,
    };
    let now = crate::now();
    let stored = StoredPlan {
        id,
        name: built.resolved.plan_name.clone(),
        plan,
        version: expected.map_or(1, |v| v + 1),
        state_machine_arn: state.machines.arn(&built.compiled.name),
        servers: built.resolved.server_count() as u64,
        created_at: current.map_or_else(|| now.clone(), |c| c.created_at),
        updated_at: now,
        updated_by: user.to_owned(),
    };
    state
        .plans
        .save(&stored, expected)
        .await
        .map_err(store_error)?;
    deploy_current(state, &stored, &built.compiled).await?;
    // Best effort: the plan is saved either way, and readiness shows what DRS lacks.
    match launch_settings::reconcile(&*state.launch_configs, &built.resolved.launch_settings())
        .await
    {
        Ok(applied) if !applied.failed.is_empty() => {
            tracing::warn!(plan = %stored.id, failed = ?applied.failed, "launch settings not applied");
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(plan = %stored.id, error = %e.message, "launch settings not read"),
    }
    Ok(stored)
}

/// Applies the plan's declared DRS launch settings to its servers where DRS differs.
pub async fn apply_launch_settings(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<launch_settings::Applied>, ApiError> {
    let plan = load(&state, &id).await?;
    let built = build(&state, &plan.plan).await?;
    launch_settings::reconcile(&*state.launch_configs, &built.resolved.launch_settings())
        .await
        .map(Json)
}

/// Deploys `compiled` (the machine of `saved`), then makes sure the deployed machine is
/// the current version's: saves race, deploys race, the last deployer checks.
async fn deploy_current(
    state: &AppState,
    saved: &StoredPlan,
    compiled: &aslgen::Compiled,
) -> Result<(), ApiError> {
    let deploy = |c: &aslgen::Compiled| {
        let c = c.clone();
        async move { crate::machines::deploy_plan(&*state.machines, &c).await }
    };
    deploy(compiled).await.map_err(|e| not_deployed(saved, e))?;
    let mut deployed = saved.version;
    for _ in 0..5 {
        let Some(current) = state.plans.get(&saved.id).await.map_err(store_error)? else {
            return Ok(());
        };
        if current.version <= deployed {
            return Ok(());
        }
        let built = build(state, &current.plan).await?;
        deploy(&built.compiled)
            .await
            .map_err(|e| not_deployed(&current, e))?;
        deployed = current.version;
    }
    Ok(())
}

fn not_deployed(saved: &StoredPlan, e: ApiError) -> ApiError {
    ApiError {
        message: format!(
            "version {} of `{}` is saved, but its state machine could not be deployed ({}); save it again to deploy",
            saved.version, saved.id, e.message
        ),
        ..e
    }
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    principal: axum::Extension<Principal>,
    input: Result<Json<PlanInput>, JsonRejection>,
) -> Result<(StatusCode, Json<StoredPlan>), ApiError> {
    let input = body(input)?;
    let saved = save(&state, &principal.user, input.plan, None, None).await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

pub async fn update(
    State(state): State<Arc<AppState>>,
    principal: axum::Extension<Principal>,
    Path(id): Path<String>,
    input: Result<Json<PlanInput>, JsonRejection>,
) -> Result<Json<StoredPlan>, ApiError> {
    let input = body(input)?;
    let Some(version) = input.version else {
        return Err(ApiError::invalid(
            "replacing a plan needs the version it was read at",
            vec![Detail {
                path: "version".into(),
                message: "`version` is required".into(),
            }],
        ));
    };
    save(
        &state,
        &principal.user,
        input.plan,
        Some(version),
        Some(&id),
    )
    .await
    .map(Json)
}

pub async fn delete(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(query): Query<super::groups::VersionQuery>,
) -> Result<StatusCode, ApiError> {
    let version = version_query(&query, "plan")?;
    let plan = load(&state, &id).await?;
    state
        .plans
        .delete(&id, version)
        .await
        .map_err(store_error)?;
    state.machines.delete(&plan.state_machine_arn).await?;
    // A split plan's child machines, named by compiling it as it was saved.
    if let Ok(built) = build(&state, &plan.plan).await {
        for child in &built.compiled.children {
            let arn = state.machines.arn(&child.name);
            if let Err(e) = state.machines.delete(&arn).await {
                tracing::warn!(machine = %arn, error = %e.message, "a child machine was not deleted");
            }
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

pub async fn versions(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    load(&state, &id).await?;
    let versions = state.plans.versions(&id).await.map_err(store_error)?;
    Ok(Json(
        json!({"items": versions.iter().map(summary).collect::<Vec<_>>()}),
    ))
}

pub async fn asl(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let plan = load(&state, &id).await?;
    let built = build(&state, &plan.plan).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        built.compiled.definition(),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
pub struct GraphQuery {
    format: Option<String>,
}

pub async fn graph(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(query): Query<GraphQuery>,
) -> Result<Response, ApiError> {
    let format = match query.format.as_deref().unwrap_or("mermaid") {
        "mermaid" => aslgen::graph::Format::Mermaid,
        "dot" => aslgen::graph::Format::Dot,
        other => {
            return Err(ApiError::bad_request(format!(
                "format `{other}` is not `mermaid` or `dot`"
            )));
        }
    };
    let plan = load(&state, &id).await?;
    let built = build(&state, &plan.plan).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        aslgen::graph::render(&built.resolved, format),
    )
        .into_response())
}

/// The plan with the groups it uses, as a plan file `aslgen` reads.
pub async fn export(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let plan = load(&state, &id).await?;
    let built = build(&state, &plan.plan).await?;
    let yaml = aslgen::parse::to_yaml(&built.document)
        .map_err(|e| ApiError::internal(format!("cannot write YAML: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/yaml".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{id}.yaml\""),
            ),
        ],
        yaml,
    )
        .into_response())
}

/// Creates or replaces a plan from a plan file (YAML or JSON). The file's protection
/// groups must already exist; its `plan` is saved.
pub async fn import(
    State(state): State<Arc<AppState>>,
    principal: axum::Extension<Principal>,
    text: Result<String, axum::extract::rejection::StringRejection>,
) -> Result<(StatusCode, Json<StoredPlan>), ApiError> {
    let text = text.map_err(|e| crate::limits::body_rejection(e.status(), e.body_text()))?;
    crate::limits::check_nesting(&text)?;
    let document = aslgen::parse::plan_document(&text, "import").map_err(|e| {
        ApiError::invalid(
            "the plan file is not well formed",
            vec![Detail {
                path: e.path().unwrap_or("(document)").to_owned(),
                message: e.to_string(),
            }],
        )
    })?;
    let plan =
        serde_json::to_value(&document.plan).map_err(|e| ApiError::internal(e.to_string()))?;
    let existing = state
        .plans
        .get(&document.plan.id)
        .await
        .map_err(store_error)?;
    match existing {
        Some(current) => {
            let saved = save(&state, &principal.user, plan, Some(current.version), None).await?;
            Ok((StatusCode::OK, Json(saved)))
        }
        None => {
            let saved = save(&state, &principal.user, plan, None, None).await?;
            Ok((StatusCode::CREATED, Json(saved)))
        }
    }
}
