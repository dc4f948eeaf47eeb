//! Approvals: the machine stored the request with its task token; a signed-in approver
//! decides here, once. Opening an approval has no side effect.

use super::groups::body;
use super::records::{item, text};
use crate::app::AppState;
use crate::auth::Principal;
use crate::domain::approvals::{self, expires_at, may_decide};
use crate::error::{ApiError, Detail};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

type Item = crate::store::Item;

fn store(e: crate::store::StoreError) -> ApiError {
    ApiError::from(e)
}

/// The approval as clients see it. A request left undecided past its deadline reads
/// EXPIRED: the machine has moved on (its step says TIMED_OUT) and no decision is taken.
fn view(approval: &Item) -> Value {
    let mut v = item(approval);
    let expiry = expires_at(approval);
    if let Some(text) = expiry.and_then(|t| t.format(&Rfc3339).ok()) {
        v["expiresAt"] = json!(text);
    }
    if v["status"] == "PENDING" && expiry.is_some_and(|t| t <= OffsetDateTime::now_utc()) {
        v["status"] = json!("EXPIRED");
    }
    v
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
}

/// How many decided approvals `?status=decided` returns, newest first.
const DECIDED_SHOWN: usize = 100;

/// `?status=pending` (the default): what the caller may decide now. `?status=decided`:
/// the latest decisions (approved, rejected, timed out), for the record.
pub async fn list(
    State(state): State<Arc<AppState>>,
    principal: axum::Extension<Principal>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let now = OffsetDateTime::now_utc();
    let all = state.records.approvals().await.map_err(store)?;
    let items: Vec<Value> = match query.status.as_deref().unwrap_or("pending") {
        "pending" => {
            let open: Vec<&crate::store::Item> = all
                .iter()
                .filter(|a| text(a, "status") == "PENDING")
                .filter(|a| expires_at(a).is_none_or(|t| t > now))
                .filter(|a| may_decide(a, &principal))
                .collect();
            let waiting = waiting_runs(&state, &open).await?;
            open.into_iter()
                .filter(|a| waiting.contains(&text(a, "executionArn")))
                .map(view)
                .collect()
        }
        "decided" => {
            // Decided, or left undecided past the deadline (the machine moved on: EXPIRED).
            let mut decided: Vec<(String, Value)> = all
                .iter()
                .filter_map(|a| {
                    let v = view(a);
                    match v["status"].as_str() {
                        Some("PENDING") => None,
                        Some("EXPIRED") => {
                            let at = v["expiresAt"].as_str().unwrap_or_default().to_owned();
                            Some((at, v))
                        }
                        _ => Some((text(a, "decidedAt"), v)),
                    }
                })
                .collect();
            // ISO 8601 UTC sorts as text; newest first.
            decided.sort_by(|a, b| b.0.cmp(&a.0));
            decided
                .into_iter()
                .take(DECIDED_SHOWN)
                .map(|(_, v)| v)
                .collect()
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "status `{other}` is not pending or decided"
            )));
        }
    };
    Ok(Json(json!({ "items": items })))
}

/// The runs (of these approvals) that still run, so still wait for a decision: a run
/// stopped outside the API leaves its requests pending, but nobody can decide them.
async fn waiting_runs(
    state: &AppState,
    approvals: &[&crate::store::Item],
) -> Result<std::collections::BTreeSet<String>, ApiError> {
    use futures::StreamExt;
    let runs: std::collections::BTreeSet<String> =
        approvals.iter().map(|a| text(a, "executionArn")).collect();
    let checks = runs.into_iter().map(|run| async move {
        let status = state.runs.status(&run).await?;
        Ok::<_, ApiError>((run, status))
    });
    let statuses: Vec<Result<(String, Option<String>), ApiError>> =
        futures::stream::iter(checks.collect::<Vec<_>>())
            .buffer_unordered(8)
            .collect()
            .await;
    let mut waiting = std::collections::BTreeSet::new();
    for status in statuses {
        let (run, status) = status?;
        if status.as_deref() == Some("RUNNING") {
            waiting.insert(run);
        }
    }
    Ok(waiting)
}

/// An approval, with what deciding it releases (the wave behind the gate, its groups and
/// the run's servers in them), so an approver sees what a click lets go.
pub async fn get(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let approval = state
        .records
        .approval(&id)
        .await
        .map_err(store)?
        .ok_or_else(|| ApiError::not_found(format!("approval `{id}` does not exist")))?;
    let mut out = view(&approval);
    match releases(&state, &approval).await {
        Ok(releases) => out["releases"] = releases,
        // Best effort: the approval still shows, and can still be decided.
        Err(e) => tracing::warn!(approval = %id, error = %e, "what the gate releases is unknown"),
    }
    Ok(Json(out))
}

/// The wave a gate lets start: `w3.before…` releases wave 3, `w2.after…` wave 3 (or the
/// end of the run), `drill-end` the drill's clean-up. Read from the plan version the run
/// ran, limited to the servers the run's start resolved.
async fn releases(state: &AppState, approval: &crate::store::Item) -> Result<Value, ApiError> {
    let key = text(approval, "stepKey");
    if key == "drill-end" {
        return Ok(json!({"what": "the end of the drill: its instances are terminated"}));
    }
    let (wave, after) = key
        .strip_prefix('w')
        .and_then(|rest| rest.split_once('.'))
        .and_then(|(n, rest)| Some((n.parse::<usize>().ok()?, rest.starts_with("after"))))
        .ok_or_else(|| ApiError::internal(format!("step key `{key}` names no wave")))?;
    let run = state
        .records
        .execution_record(&text(approval, "executionName"))
        .await?
        .unwrap_or_default();
    let plan_id = text(approval, "planId");
    let plan = match crate::store::number(&run, "planVersion") {
        0 => state.plans.get(&plan_id).await?,
        v => state.plans.version(&plan_id, v).await?,
    }
    .ok_or_else(|| ApiError::not_found(format!("recovery plan `{plan_id}` is gone")))?;
    let built = crate::plans::build(state, &plan.plan).await?;
    let index = if after { wave } else { wave.saturating_sub(1) };
    let Some(released) = built.resolved.waves.get(index) else {
        return Ok(json!({"what": "the end of the run"}));
    };
    let ran = state
        .records
        .run_servers(&text(approval, "executionName"))
        .await?
        .unwrap_or_default();
    let groups: Vec<Value> = released
        .units
        .iter()
        .filter_map(|u| built.resolved.units.iter().find(|unit| unit.id == *u))
        .map(|unit| {
            let servers: Vec<&String> = unit
                .servers
                .iter()
                .filter(|s| ran.is_empty() || ran.contains(s))
                .collect();
            json!({"group": unit.group, "name": unit.label, "servers": servers})
        })
        .collect();
    Ok(json!({
        "what": format!("wave {} · {}", index + 1, released.name),
        "wave": released.name,
        "groups": groups,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Decision {
    decision: String,
    #[serde(default)]
    comment: String,
}

pub async fn decide(
    State(state): State<Arc<AppState>>,
    principal: axum::Extension<Principal>,
    Path(id): Path<String>,
    input: Result<Json<Decision>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let input = body(input)?;
    let approve = match input.decision.as_str() {
        "APPROVE" => true,
        "REJECT" => false,
        other => {
            return Err(ApiError::invalid(
                "the decision must be APPROVE or REJECT",
                vec![Detail {
                    path: "decision".into(),
                    message: format!("`{other}` is not APPROVE or REJECT"),
                }],
            ));
        }
    };
    let decision = approvals::Decision {
        id: &id,
        approve,
        comment: &input.comment,
    };
    let outcome = approvals::decide(&*state.records, &*state.runs, &principal, decision).await?;
    Ok(match outcome {
        approvals::Outcome::Decided { status } => (
            StatusCode::OK,
            Json(json!({"id": id, "status": status, "decidedBy": principal.user})),
        ),
        approvals::Outcome::Counted { votes, needed } => (
            StatusCode::ACCEPTED,
            Json(json!({"id": id, "status": "PENDING", "approvals": votes, "needed": needed})),
        ),
    })
}
