//! Executions: a pre-flight readiness report, enforced; one active execution per plan and
//! per server (locks); the execution's own records; cancel, clean up, pause, resume.

use super::groups::{body, store_error};
use super::records::{item, text};
use crate::app::AppState;
use crate::auth::Principal;
use crate::domain::start;
use crate::error::{ApiError, Detail};
use crate::plans::{build, build_with};
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
    preflight(&state, &servers, &fleet).await.map(Json)
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
            version: start::Version::Compiled {
                name: &built.compiled.name,
                definition: built.compiled.definition_minified(),
            },
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
    text(record, "pk").trim_start_matches("EXEC#").to_owned()
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
    let mut items = state.records.execution(id).await.map_err(store)?;
    let position = items
        .iter()
        .position(|i| text(i, "sk") == "EXECUTION")
        .ok_or_else(|| ApiError::not_found(format!("execution `{id}` does not exist")))?;
    let execution = items.remove(position);
    Ok((execution, items))
}

fn execution_arn(record: &crate::store::Item, id: &str) -> String {
    format!(
        "{}:{id}",
        text(record, "stateMachineArn").replace(":stateMachine:", ":execution:")
    )
}

pub async fn get(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (execution, mut steps) = load(&state, &id).await?;
    steps.sort_by_key(|s| text(s, "sk"));
    let arn = execution_arn(&execution, &id);
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
                v["key"] = json!(text(s, "sk").trim_start_matches("STEP#"));
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

/// The drill instances this run launched that still exist: from its own jobs (tagged
/// with its execution name, or named in its records), never another run's.
async fn run_drill_instances(
    state: &AppState,
    id: &str,
    execution: &crate::store::Item,
    steps: &[crate::store::Item],
) -> Result<Vec<String>, ApiError> {
    state
        .drs
        .run_drill_instances(id, &text(execution, "startedAt"), &recorded_jobs(steps))
        .await
}

/// The DRS job IDs a run's progress records name.
fn recorded_jobs(steps: &[crate::store::Item]) -> Vec<String> {
    steps
        .iter()
        .filter_map(|s| s.get("jobIds").and_then(|v| v.as_ss().ok()))
        .flatten()
        .cloned()
        .collect()
}

/// Starts the clean-up of a drill: the run's own published version, given `cleanupOf`,
/// waits for the run's jobs still in flight, terminates every instance they launched
/// and records `cleanup: CLEAN` only when DRS lists none of them. One clean-up at a time
/// per run (a conditional write); `None` when another is running.
async fn start_cleanup(
    state: &AppState,
    id: &str,
    execution: &crate::store::Item,
    steps: &[crate::store::Item],
) -> Result<Option<String>, ApiError> {
    let version = text(execution, "stateMachineVersionArn");
    let name = format!("cleanup-{}", crate::app::unique_id());
    let stale = match text(execution, "cleanupExecution") {
        previous if !previous.is_empty() && text(execution, "cleanup") == "RUNNING" => {
            let arn = format!(
                "{}:{previous}",
                version
                    .rsplit_once(':')
                    .map(|(machine, _)| machine)
                    .unwrap_or(&version)
                    .replace(":stateMachine:", ":execution:")
            );
            match state.runs.status(&arn).await?.as_deref() {
                Some("RUNNING") => return Ok(None),
                _ => Some(previous),
            }
        }
        _ => None,
    };
    if !state
        .records
        .begin_cleanup(id, &name, stale.as_deref())
        .await
        .map_err(store)?
    {
        return Ok(None);
    }
    let poll = execution
        .get("pollSeconds")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(30);
    // Listed after the machine stopped: every job it started, answered or not.
    let jobs = state
        .drs
        .run_jobs(id, &text(execution, "startedAt"), &recorded_jobs(steps))
        .await?;
    let input =
        json!({"mode": "DRILL", "cleanupOf": id, "jobs": jobs, "pollSeconds": poll}).to_string();
    state.runs.start(&version, &name, &input).await?;
    Ok(Some(name))
}

pub async fn cancel(
    State(state): State<Arc<AppState>>,
    principal: axum::Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (execution, steps) = load(&state, &id).await?;
    let arn = execution_arn(&execution, &id);
    if state.runs.status(&arn).await?.as_deref() != Some("RUNNING") {
        return Err(ApiError::conflict(format!(
            "execution `{id}` is not running"
        )));
    }
    state
        .runs
        .stop(&arn, &format!("cancelled by {}", principal.user))
        .await?;
    let plan_id = text(&execution, "planId");
    let servers = run_servers(&state, &id, &execution).await?;
    state
        .records
        .set_execution_status(&id, "CANCELLED", &principal.user)
        .await
        .map_err(store)?;
    // A stopped machine runs no catch: a drill's clean-up is its own execution of the
    // run's version, which also waits for jobs the stop left in flight. A recovery's
    // instances are production and keep running.
    let cleanup = if text(&execution, "mode") != "DRILL" {
        json!({"status": "NONE", "message": "a real recovery's launched instances are production and keep running"})
    } else if text(&execution, "stateMachineVersionArn").is_empty() {
        // A run from before versions: what its jobs launched so far, terminated now.
        let instances = run_drill_instances(&state, &id, &execution, &steps).await?;
        state.drs.terminate(&instances).await?;
        json!({"status": "TERMINATING", "instances": instances.len()})
    } else {
        let started = start_cleanup(&state, &id, &execution, &steps).await?;
        json!({"status": "RUNNING", "execution": started})
    };
    let keys: Vec<String> = std::iter::once(format!("PLAN#{plan_id}"))
        .chain(servers.iter().map(|s| format!("SERVER#{s}")))
        .collect();
    state
        .records
        .unlock(&keys, &text(&execution, "lockToken"))
        .await
        .map_err(store)?;
    let voided = crate::domain::approvals::void_all_of_run(
        &*state.records,
        &id,
        &format!("the run was cancelled by {}", principal.user),
    )
    .await?;
    Ok(Json(
        json!({"id": id, "status": "CANCELLED", "cleanup": cleanup, "approvalsVoided": voided}),
    ))
}

pub async fn cleanup(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (execution, steps) = load(&state, &id).await?;
    if text(&execution, "mode") != "DRILL" {
        return Err(ApiError::conflict(format!(
            "execution `{id}` was a real recovery; its instances are production and are not cleaned up"
        )));
    }
    if state
        .runs
        .status(&execution_arn(&execution, &id))
        .await?
        .as_deref()
        == Some("RUNNING")
    {
        return Err(ApiError::conflict(format!(
            "execution `{id}` is still running; cancel it first"
        )));
    }
    if text(&execution, "stateMachineVersionArn").is_empty() {
        let instances = run_drill_instances(&state, &id, &execution, &steps).await?;
        let jobs = state.drs.terminate(&instances).await?;
        return Ok((
            StatusCode::ACCEPTED,
            Json(
                json!({"id": id, "cleanup": {"status": "TERMINATING", "instances": instances.len(), "jobs": jobs}}),
            ),
        ));
    }
    match start_cleanup(&state, &id, &execution, &steps).await? {
        Some(name) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({"id": id, "cleanup": {"status": "RUNNING", "execution": name}})),
        )),
        None => Err(ApiError::conflict(format!(
            "a clean-up of execution `{id}` is already running"
        ))),
    }
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

/// Statuses a run may be re-run from.
const RERUNNABLE: [&str; 4] = ["FAILED", "CANCELLED", "CLEANUP_FAILED", "TIMED_OUT"];

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
    let (execution, steps) = load(&state, &id).await?;
    let status = text(&execution, "status");
    if !RERUNNABLE.contains(&status.as_str())
        || state
            .runs
            .status(&execution_arn(&execution, &id))
            .await?
            .as_deref()
            == Some("RUNNING")
    {
        return Err(ApiError::conflict(format!(
            "only a failed or cancelled run that has ended can be re-run; `{id}` is {status}"
        )));
    }
    let version = text(&execution, "stateMachineVersionArn");
    if version.is_empty() {
        return Err(ApiError::conflict(format!(
            "`{id}` ran before runs had versions of their own; start the plan again instead"
        )));
    }
    let plan_id = text(&execution, "planId");
    let plan = super::plans::load(&state, &plan_id).await?;
    let mode = text(&execution, "mode");
    if mode == "RECOVERY" && input.confirm.as_deref() != Some(plan.name.as_str()) {
        return Err(ApiError::invalid(
            "re-running a real recovery must be confirmed by typing the plan's name",
            vec![Detail {
                path: "confirm".into(),
                message: format!("type `{}` to confirm a RECOVERY", plan.name),
            }],
        ));
    }
    let servers = run_servers(&state, &id, &execution).await?;
    let fleet = state.drs.list().await?;
    let report = preflight(&state, &servers, &fleet).await?;
    if report["ready"] != json!(true) {
        return Err(ApiError::conflict(
            "the pre-flight check found servers that cannot be recovered",
        ));
    }
    let mut adopt = serde_json::Map::new();
    let mut adopted = Vec::new();
    for step in &steps {
        let jobs: Vec<String> = step
            .get("jobIds")
            .and_then(|v| v.as_ss().ok())
            .cloned()
            .unwrap_or_default();
        if text(step, "kind") != "unit" || text(step, "status") != "SUCCEEDED" || jobs.is_empty() {
            continue;
        }
        let (launched, alive) = state.drs.launched_alive(&jobs).await?;
        if launched > 0 && alive == launched {
            let key = text(step, "sk").trim_start_matches("STEP#").to_owned();
            adopt.insert(aslgen::compile::adopt_field(&key), json!(jobs));
            adopted.push(key);
        }
    }
    let poll_seconds = u32::try_from(crate::store::number(&execution, "pollSeconds"))
        .ok()
        .filter(|p| *p <= aslgen::model::ExecutionInput::MAX_POLL_SECONDS)
        .unwrap_or(30);
    let started_at_epoch = time::OffsetDateTime::now_utc().unix_timestamp();
    let started = start::launch(
        &*state.records,
        &*state.runs,
        &*state.machines,
        start::Launch {
            plan_id: &plan_id,
            plan_name: &plan.name,
            plan_version: crate::store::number(&execution, "planVersion"),
            mode: &mode,
            servers: &servers,
            version: start::Version::Published {
                machine: &text(&execution, "stateMachineArn"),
                arn: &version,
            },
            input: json!({"mode": mode, "pollSeconds": poll_seconds, "startedAtEpoch": started_at_epoch, "adopt": adopt, "rerunOf": id}),
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
