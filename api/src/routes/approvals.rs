//! Approvals: the machine stored the request with its task token; a signed-in approver
//! decides here, once. Opening an approval has no side effect.

use super::groups::body;
use super::records::{item, number, text};
use crate::app::AppState;
use crate::auth::{Principal, Role};
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
    ApiError::internal(e.to_string())
}

/// When the approval stops accepting decisions.
fn expires_at(approval: &Item) -> Option<OffsetDateTime> {
    let requested = OffsetDateTime::parse(&text(approval, "requestedAt"), &Rfc3339).ok()?;
    Some(requested + time::Duration::seconds(number(approval, "timeoutSeconds") as i64))
}

/// Whether `principal` may decide: the named approvers (user names or groups), or any
/// Approver when none are named. Admins may always decide.
fn may_decide(approval: &Item, principal: &Principal) -> bool {
    if principal.roles.contains(&Role::Admin) {
        return true;
    }
    let named: Vec<String> = approval
        .get("approvers")
        .and_then(|v| v.as_l().ok())
        .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
        .unwrap_or_default();
    if named.is_empty() {
        return principal.roles.contains(&Role::Approver);
    }
    named.iter().any(|n| {
        *n == principal.user || Role::parse(n).is_some_and(|r| principal.roles.contains(&r))
    })
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
        "pending" => all
            .iter()
            .filter(|a| text(a, "status") == "PENDING")
            .filter(|a| expires_at(a).is_none_or(|t| t > now))
            .filter(|a| may_decide(a, &principal))
            .map(view)
            .collect(),
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

pub async fn get(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state
        .records
        .approval(&id)
        .await
        .map_err(store)?
        .map(|a| Json(view(&a)))
        .ok_or_else(|| ApiError::not_found(format!("approval `{id}` does not exist")))
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
    if input.comment.len() > 2_000 {
        return Err(ApiError::invalid(
            "the comment is too long",
            vec![Detail {
                path: "comment".into(),
                message: "at most 2,000 characters".into(),
            }],
        ));
    }
    let approval = state
        .records
        .approval(&id)
        .await
        .map_err(store)?
        .ok_or_else(|| ApiError::not_found(format!("approval `{id}` does not exist")))?;
    let status = text(&approval, "status");
    if status != "PENDING" {
        return Err(ApiError::conflict(format!(
            "approval `{id}` was already decided: {status} by `{}`",
            text(&approval, "decidedBy")
        )));
    }
    if expires_at(&approval).is_some_and(|t| t <= OffsetDateTime::now_utc()) {
        return Err(ApiError::gone(format!("approval `{id}` has expired")));
    }
    if !may_decide(&approval, &principal) {
        return Err(ApiError::forbidden(format!(
            "`{}` is not among the approvers of `{id}`",
            principal.user
        )));
    }
    let token = text(&approval, "taskToken");
    let user = principal.user.clone();
    let quorum = if text(&approval, "mode") == "RECOVERY" {
        number(&approval, "recoveryQuorum").max(1)
    } else {
        1
    };
    if approve && quorum > 1 {
        let voted = state
            .records
            .vote(&id, &user, &input.comment)
            .await
            .map_err(store)?;
        if !voted {
            return Err(ApiError::conflict(format!(
                "`{user}` has already approved `{id}`; a different approver must give the next approval"
            )));
        }
        let votes = state
            .records
            .approval(&id)
            .await
            .map_err(store)?
            .and_then(|a| a.get("votes").and_then(|v| v.as_l().ok()).map(Vec::len))
            .unwrap_or(0) as u64;
        if votes < quorum {
            return Ok((
                StatusCode::ACCEPTED,
                Json(json!({"id": id, "status": "PENDING", "approvals": votes, "needed": quorum})),
            ));
        }
    }
    let decided = if approve { "APPROVED" } else { "REJECTED" };
    if !state
        .records
        .decide(&id, decided, &user, &input.comment)
        .await
        .map_err(store)?
    {
        return Err(ApiError::conflict(format!(
            "approval `{id}` was decided meanwhile"
        )));
    }
    let result = if approve {
        let output = json!({"decision": decided, "by": user, "comment": input.comment});
        state.runs.approve(&token, &output.to_string()).await
    } else {
        let cause = if input.comment.is_empty() {
            format!("rejected by {user}")
        } else {
            format!("rejected by {user}: {}", input.comment)
        };
        state
            .runs
            .reject(&token, aslgen::compile::errors::APPROVAL_REJECTED, &cause)
            .await
    };
    result?;
    Ok((
        StatusCode::OK,
        Json(json!({"id": id, "status": decided, "decidedBy": user})),
    ))
}
