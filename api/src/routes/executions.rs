//! Executions: a pre-flight readiness report, enforced; one active execution per plan and
//! per server (locks); the execution's own records; cancel, clean up, pause, resume.

use super::groups::{body, store_error};
use super::records::{item, text};
use crate::app::AppState;
use crate::auth::Principal;
use crate::domain::{runs, start};
use crate::error::{ApiError, Detail};
use crate::plans::{build, build_with};
use aslgen::records;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Replication states with no recoverable data yet, or none any more.
const UNRECOVERABLE: [&str; 4] = ["INITIATING", "INITIAL_SYNC", "DISCONNECTED", "STOPPED"];
/// Replication lag past which the report warns that the recovery point is old.
const LAG_WARNING_SECONDS: u64 = 15 * 60;

fn store(e: crate::store::StoreError) -> ApiError {
    ApiError::from(e)
}

/// What the pre-flight check found: problems block a start, warnings do not.
async fn preflight(
    state: &AppState,
    servers: &[String],
    fleet: &[crate::drs::SourceServer],
) -> Result<Value, ApiError> {
    let (active_jobs, busy_servers) = state.drs.active_load().await?;
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    for id in servers {
        match fleet.iter().find(|s| &s.id == id) {
            None => problems.push(json!({"server": id, "message": format!("source server `{id}` no longer exists in DRS")})),
            Some(s) if UNRECOVERABLE.contains(&s.replication_state.as_str()) => problems.push(json!({
                "server": id,
                "message": format!("`{}` ({id}) cannot be recovered: replication is {}", s.hostname, s.replication_state)
            })),
            Some(s) => {
                if s.replication_state != "CONTINUOUS" {
                    warnings.push(json!({"server": id, "message": format!("`{}` replication is {}", s.hostname, s.replication_state)}));
                }
                if s.lag_seconds > LAG_WARNING_SECONDS {
                    warnings.push(json!({"server": id, "message": format!("`{}` lags {} minutes behind", s.hostname, s.lag_seconds / 60)}));
                }
            }
        }
    }
    let capacity = aslgen::flow::MAX_SERVERS_IN_FLIGHT.saturating_sub(busy_servers);
    if active_jobs >= aslgen::flow::MAX_JOBS_IN_FLIGHT || capacity == 0 {
        warnings.push(json!({"message": format!(
            "DRS is busy: {active_jobs} active jobs with {busy_servers} servers; launches will wait for capacity"
        )}));
    }
    Ok(json!({
        "ready": problems.is_empty(),
        "servers": servers.len(),
        "problems": problems,
        "warnings": warnings,
        "drs": {"activeJobs": active_jobs, "serversInActiveJobs": busy_servers},
    }))
}

fn server_ids(built: &crate::plans::Built) -> Vec<String> {
    built
        .resolved
        .all_servers()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

pub async fn report(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let plan = super::plans::load(&state, &id).await?;
    let fleet = state.drs.list().await?;
    let built = build_with(&state, &plan.plan, fleet.clone()).await?;
    let servers = server_ids(&built);
    let mut report = preflight(&state, &servers, &fleet).await?;
    // Readiness only (not every start): one DRS read per server with declared settings.
    let drift = crate::domain::launch_settings::drift(
        &*state.launch_configs,
        &built.resolved.launch_settings(),
    )
    .await?;
    if let Some(warnings) = report["warnings"].as_array_mut() {
        warnings.extend(drift.iter().map(|d| {
            json!({"server": d.server, "message": format!(
                "{} `{}` is {} in DRS; the plan declares {}",
                built.resolved.hostnames.get(&d.server).map_or(d.server.as_str(), String::as_str),
                d.setting, d.found, d.wanted
            )})
        }));
    }
    report["launchSettingsDrift"] = json!(drift);
    Ok(Json(report))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartInput {
    #[serde(default = "default_mode")]
    mode: String,
    /// For RECOVERY: the plan's name, typed to confirm.
    #[serde(default)]
    confirm: Option<String>,
    #[serde(default)]
    poll_seconds: Option<u32>,
    #[serde(default)]
    snapshots: BTreeMap<String, String>,
}

fn default_mode() -> String {
    "DRILL".into()
}

impl StartInput {
    pub fn new(mode: &str, confirm: &str, poll_seconds: Option<u32>) -> Self {
        Self {
            mode: mode.to_owned(),
            confirm: Some(confirm.to_owned()).filter(|c| !c.is_empty()),
            poll_seconds,
            snapshots: BTreeMap::new(),
        }
    }
}

pub async fn start(
    State(state): State<Arc<AppState>>,
    principal: axum::Extension<Principal>,
    Path(id): Path<String>,
    input: Result<Json<StartInput>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let input = body(input)?;
    // A client that gives up must not cancel a start halfway (servers locked, no
    // execution): the work runs in its own task, which a dropped request does not stop.
    tokio::spawn(start_run(state, principal.0.user, id, input))
        .await
        .map_err(|e| ApiError::internal(format!("starting the execution failed: {e}")))?
}

/// The one start path: a person through the API, the runbook (`started_by` names its IAM
/// principal), and later the schedules.
pub async fn start_run(
    state: Arc<AppState>,
    started_by: String,
    id: String,
    input: StartInput,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let plan = super::plans::load(&state, &id).await?;
    let mode = match input.mode.as_str() {
        "DRILL" => aslgen::model::Mode::Drill,
        "RECOVERY" => aslgen::model::Mode::Recovery,
        other => {
            return Err(ApiError::invalid(
                "the mode must be DRILL or RECOVERY",
                vec![Detail {
                    path: "mode".into(),
                    message: format!("`{other}` is not DRILL or RECOVERY"),
                }],
            ));
        }
    };
    if mode == aslgen::model::Mode::Recovery && input.confirm.as_deref() != Some(plan.name.as_str())
    {
        return Err(ApiError::invalid(
            "a real recovery must be confirmed by typing the plan's name",
            vec![Detail {
                path: "confirm".into(),
                message: format!("type `{}` to confirm a RECOVERY", plan.name),
            }],
        ));
    }
    let fleet = state.drs.list().await?;
    let built = build_with(&state, &plan.plan, fleet.clone()).await?;
    let execution_input = aslgen::model::ExecutionInput {
        mode,
        poll_seconds: input.poll_seconds.unwrap_or(30),
        snapshots: input.snapshots.into_iter().collect(),
        // Approval records expire (TTL) counted from here.
        started_at_epoch: time::OffsetDateTime::now_utc()
            .unix_timestamp()
            .try_into()
            .unwrap_or(0),
    };
    aslgen::validate::validate_input(&built.resolved, &execution_input)?;
    let servers = server_ids(&built);
    let report = preflight(&state, &servers, &fleet).await?;
    if report["ready"] != json!(true) {
        return Err(ApiError {
            details: report["problems"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| Detail {
                    path: p["server"].as_str().unwrap_or("servers").to_owned(),
                    message: p["message"].as_str().unwrap_or_default().to_owned(),
                })
                .collect(),
            ..ApiError::conflict("the pre-flight check found servers that cannot be recovered")
        });
    }

    let poll_seconds = execution_input.poll_seconds;
    let input_json =
        serde_json::to_value(&execution_input).map_err(|e| ApiError::internal(e.to_string()))?;
    // The machine compiled now, from the live groups and inventory, published as a version
    // the run executes: what the pre-flight showed, the locks hold and the run launches
    // are one list, whatever is saved or deployed meanwhile.
    let started = start::launch(
        &*state.records,
        &*state.runs,
        &*state.machines,
        start::Launch {
            plan_id: &plan.id,
            plan_name: &plan.name,
            plan_version: plan.version,
            mode: &input.mode,
            servers: &servers,
            version: start::Version::Compiled(&built.compiled),
            input: input_json,
            poll_seconds,
            started_by: &started_by,
            rerun_of: None,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"id": started.id, "executionArn": started.execution_arn, "stateMachineVersionArn": started.version_arn, "mode": input.mode, "servers": servers, "preflight": report}),
        ),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    plan: Option<String>,
    status: Option<String>,
    mode: Option<String>,
    limit: Option<String>,
    next_token: Option<String>,
}

fn id_of(record: &crate::store::Item) -> String {
    records::execution_of(&text(record, "pk")).to_owned()
}

/// No history is this long; a larger token is not one this API gave.
const MAX_OFFSET: usize = 10_000_000;

pub async fn list(
    State(state): State<Arc<AppState>>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = match q.limit.as_deref() {
        None => 50,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=200).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "limit `{l}` must be from 1 to 200"
                )));
            }
        },
    };
    let offset = match q.next_token.as_deref() {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= MAX_OFFSET)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "nextToken `{}` is not one this API gave",
                    t.chars().take(40).collect::<String>()
                ))
            })?,
    };
    let mut records = state.records.executions().await.map_err(store)?;
    records.retain(|r| {
        q.plan.as_ref().is_none_or(|p| text(r, "planId") == *p)
            && q.status.as_ref().is_none_or(|s| text(r, "status") == *s)
            && q.mode.as_ref().is_none_or(|m| text(r, "mode") == *m)
    });
    records.sort_by_key(|r| std::cmp::Reverse(text(r, "startedAt")));
    let total = records.len();
    let items: Vec<Value> = records
        .iter()
        .skip(offset)
        .take(limit)
        .map(|r| {
            let mut v = item(r);
            v["id"] = json!(id_of(r));
            v
        })
        .collect();
    let mut out = json!({"items": items});
    let next = offset.saturating_add(limit);
    if next < total {
        out["nextToken"] = json!(next.to_string());
    }
    Ok(Json(out))
}

pub(super) async fn load(
    state: &AppState,
    id: &str,
) -> Result<(crate::store::Item, Vec<crate::store::Item>), ApiError> {
    let run = runs::Run::load(&*state.records, id).await?;
    Ok((run.record, run.steps))
}

pub async fn get(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let run = runs::Run::load(&*state.records, &id).await?;
    let arn = run.execution_arn();
    let (execution, mut steps) = (run.record, run.steps);
    steps.sort_by_key(|s| text(s, "sk"));
    let engine = state.runs.status(&arn).await?;
    let mut out = item(&execution);
    out["id"] = json!(id);
    out["executionArn"] = json!(arn);
    out["engineStatus"] = json!(engine);
    out["steps"] = Value::Array(
        steps
            .iter()
            .map(|s| {
                let mut v = item(s);
                v["key"] = json!(records::step_of(&text(s, "sk")));
                v
            })
            .collect(),
    );
    Ok(Json(out))
}

/// The plan's servers, for cleanup.
pub(super) async fn plan_servers(state: &AppState, plan_id: &str) -> Result<Vec<String>, ApiError> {
    let plan = state
        .plans
        .get(plan_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| {
            ApiError::not_found(format!("recovery plan `{plan_id}` no longer exists"))
        })?;
    let built = build(state, &plan.plan).await?;
    Ok(built
        .resolved
        .all_servers()
        .into_iter()
        .map(str::to_owned)
        .collect())
}

/// The run's own servers: the list its start resolved, or (a run started before runs
/// recorded it) the plan's current servers.
async fn run_servers(
    state: &AppState,
    id: &str,
    execution: &crate::store::Item,
) -> Result<Vec<String>, ApiError> {
    match state.records.run_servers(id).await.map_err(store)? {
        Some(servers) => Ok(servers),
        None => plan_servers(state, &text(execution, "planId")).await,
    }
}

/// The servers the run's start resolved (what its pre-flight checked and it launched).
pub async fn servers(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let execution = state
        .records
        .execution_record(&id)
        .await
        .map_err(store)?
        .ok_or_else(|| ApiError::not_found(format!("execution `{id}` does not exist")))?;
    let servers = state.records.run_servers(&id).await.map_err(store)?;
    Ok(Json(json!({
        "id": id,
        "stateMachineVersionArn": text(&execution, "stateMachineVersionArn"),
        "recorded": servers.is_some(),
        "servers": servers.unwrap_or_default(),
    })))
}

pub async fn cancel(
    State(state): State<Arc<AppState>>,
    principal: axum::Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let run = runs::Run::load(&*state.records, &id).await?;
    let servers = run_servers(&state, &id, &run.record).await?;
    runs::cancel(
        &*state.records,
        &*state.runs,
        &*state.drs,
        &run,
        &servers,
        &principal.user,
    )
    .await
    .map(Json)
}

pub async fn cleanup(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let run = runs::Run::load(&*state.records, &id).await?;
    let answer = runs::cleanup(&*state.records, &*state.runs, &*state.drs, &run).await?;
    Ok((StatusCode::ACCEPTED, Json(answer)))
}

pub async fn pause(
    State(state): State<Arc<AppState>>,
    principal: axum::Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    crate::domain::pause::pause(&*state.records, &id, &principal.user).await?;
    Ok(Json(
        json!({"id": id, "status": "PAUSING", "message": "the run finishes the steps in flight and waits before its next wave"}),
    ))
}

pub async fn resume(
    State(state): State<Arc<AppState>>,
    principal: axum::Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    use crate::domain::pause::Resumed;
    let resumed =
        crate::domain::pause::resume(&*state.records, &*state.runs, &id, &principal.user).await?;
    let message = match resumed {
        Resumed::Released => "the run goes on with its next wave",
        Resumed::Withdrawn => "the pause was withdrawn before the run reached a wave boundary",
    };
    Ok(Json(
        json!({"id": id, "status": "RUNNING", "message": message}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RerunInput {
    /// For a RECOVERY: the plan's name, typed to confirm.
    #[serde(default)]
    confirm: Option<String>,
}

/// SRM's re-run: a new run of the same published version, with locks taken again, that
/// adopts every group the earlier run brought to its final stage whose instances DRS
/// still lists, and launches the rest. The two runs name each other.
pub async fn rerun(
    State(state): State<Arc<AppState>>,
    principal: axum::Extension<Principal>,
    Path(id): Path<String>,
    input: Result<Json<RerunInput>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let input = body(input)?;
    let run = runs::Run::load(&*state.records, &id).await?;
    runs::check_rerunnable(&*state.runs, &run).await?;
    let execution = &run.record;
    let version = run.get(records::attr::STATE_MACHINE_VERSION_ARN);
    let plan_id = run.get("planId");
    let plan = super::plans::load(&state, &plan_id).await?;
    let mode = run.get("mode");
    if mode == "RECOVERY" && input.confirm.as_deref() != Some(plan.name.as_str()) {
        return Err(ApiError::invalid(
            "re-running a real recovery must be confirmed by typing the plan's name",
            vec![Detail {
                path: "confirm".into(),
                message: format!("type `{}` to confirm a RECOVERY", plan.name),
            }],
        ));
    }
    let servers = run_servers(&state, &id, execution).await?;
    let fleet = state.drs.list().await?;
    let report = preflight(&state, &servers, &fleet).await?;
    if report["ready"] != json!(true) {
        return Err(ApiError::conflict(
            "the pre-flight check found servers that cannot be recovered",
        ));
    }
    let (adopt, adopted) = runs::adoptable(&*state.drs, &run).await?;
    let (input_json, poll_seconds) = runs::rerun_input(&run, adopt);
    let started = start::launch(
        &*state.records,
        &*state.runs,
        &*state.machines,
        start::Launch {
            plan_id: &plan_id,
            plan_name: &plan.name,
            plan_version: crate::store::number(execution, "planVersion"),
            mode: &mode,
            servers: &servers,
            version: start::Version::Published {
                machine: &run.get("stateMachineArn"),
                arn: &version,
            },
            input: input_json,
            poll_seconds,
            started_by: &principal.user,
            rerun_of: Some(&id),
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": started.id,
            "rerunOf": id,
            "executionArn": started.execution_arn,
            "stateMachineVersionArn": started.version_arn,
            "mode": mode,
            "adopted": adopted,
            "preflight": report,
        })),
    ))
}
