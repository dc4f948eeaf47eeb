//! Protection groups: explicit servers or a tag selector resolved against DRS; a server
//! belongs to at most one group (claimed in DynamoDB transactions).

use crate::app::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, Detail};
use crate::store::{StoreError, StoredGroup};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What a client sends to create or replace a group.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupInput {
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub servers: Vec<String>,
    #[serde(default)]
    pub tag_selector: Option<BTreeMap<String, String>>,
    /// The version the client read (required to replace).
    #[serde(default)]
    pub version: Option<u64>,
}

pub(super) fn body<T>(input: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    input
        .map(|Json(v)| v)
        .map_err(|e| crate::limits::body_rejection(e.status(), e.body_text()))
}

pub(super) fn store_error(e: StoreError) -> ApiError {
    ApiError::from(e)
}

/// A group id from its name: lowercase letters, digits and dashes, at most 40.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.truncate(40);
    out.trim_end_matches('-').to_owned()
}

/// Validates the input and resolves it to servers against DRS; every problem at once.
async fn resolve(
    state: &AppState,
    input: &GroupInput,
    id: String,
) -> Result<Vec<String>, ApiError> {
    let model = aslgen::model::ProtectionGroup {
        id,
        name: input.name.clone(),
        description: input.description.clone(),
        servers: input.servers.clone(),
        tag_selector: input
            .tag_selector
            .as_ref()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
    };
    aslgen::validate::validate_group(&model)?;
    let fleet = state.drs.list().await?;
    match &input.tag_selector {
        Some(selector) => {
            let matched: Vec<String> = fleet
                .iter()
                .filter(|s| s.matches(selector))
                .map(|s| s.id.clone())
                .collect();
            if matched.is_empty() {
                let tags: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
                return Err(ApiError::invalid(
                    "the tag selector matches no source server",
                    vec![Detail {
                        path: "tagSelector".into(),
                        message: format!("`{}` matches no DRS source server", tags.join(",")),
                    }],
                ));
            }
            Ok(matched)
        }
        None => {
            let unknown: Vec<Detail> = input
                .servers
                .iter()
                .enumerate()
                .filter(|(_, id)| !fleet.iter().any(|s| &s.id == *id))
                .map(|(i, id)| Detail {
                    path: format!("servers[{i}]"),
                    message: format!(
                        "`{id}` is not a DRS source server of this account and region"
                    ),
                })
                .collect();
            if !unknown.is_empty() {
                return Err(ApiError::invalid(
                    format!("{} unknown source server(s)", unknown.len()),
                    unknown,
                ));
            }
            Ok(input.servers.clone())
        }
    }
}

pub async fn list(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let groups = state.groups.list().await.map_err(store_error)?;
    Ok(Json(json!({ "items": groups })))
}

pub async fn get(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<StoredGroup>, ApiError> {
    state
        .groups
        .get(&id)
        .await
        .map_err(store_error)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("protection group `{id}` does not exist")))
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    principal: axum::Extension<Principal>,
    input: Result<Json<GroupInput>, JsonRejection>,
) -> Result<(StatusCode, Json<StoredGroup>), ApiError> {
    let input = body(input)?;
    let id = input.id.clone().unwrap_or_else(|| slug(&input.name));
    let resolved = resolve(&state, &input, id.clone()).await?;
    let now = crate::now();
    let group = StoredGroup {
        id,
        name: input.name,
        description: input.description,
        servers: input.servers,
        tag_selector: input.tag_selector,
        resolved_servers: resolved,
        version: 1,
        created_at: now.clone(),
        updated_at: now,
        updated_by: principal.user.clone(),
    };
    state.groups.create(&group).await.map_err(store_error)?;
    Ok((StatusCode::CREATED, Json(group)))
}

pub async fn update(
    State(state): State<Arc<AppState>>,
    principal: axum::Extension<Principal>,
    Path(id): Path<String>,
    input: Result<Json<GroupInput>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let input = body(input)?;
    let Some(expected) = input.version else {
        return Err(ApiError::invalid(
            "replacing a group needs the version it was read at",
            vec![Detail {
                path: "version".into(),
                message: "`version` is required".into(),
            }],
        ));
    };
    if let Some(other) = input.id.as_ref().filter(|i| **i != id) {
        return Err(ApiError::invalid(
            "a group's id cannot change",
            vec![Detail {
                path: "id".into(),
                message: format!("`{other}` differs from the group's id `{id}`"),
            }],
        ));
    }
    let current = state
        .groups
        .get(&id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError::not_found(format!("protection group `{id}` does not exist")))?;
    if current.version != expected {
        return Err(ApiError::stale(format!(
            "version {expected} is stale; the current version is {}",
            current.version
        )));
    }
    let resolved = resolve(&state, &input, id.clone()).await?;
    let group = StoredGroup {
        id,
        name: input.name,
        description: input.description,
        servers: input.servers,
        tag_selector: input.tag_selector,
        resolved_servers: resolved,
        version: expected + 1,
        created_at: current.created_at.clone(),
        updated_at: crate::now(),
        updated_by: principal.user.clone(),
    };
    state
        .groups
        .update(&group, expected, &current.resolved_servers)
        .await
        .map_err(|e| match e {
            // Its own group claiming: another request is changing this group right now.
            StoreError::Owned { owner, .. } if owner == group.id => ApiError::stale(format!(
                "protection group `{owner}` is being changed by another request; read it again and retry"
            )),
            e => store_error(e),
        })?;
    // Runs compile at their start, so the change reaches these plans' next runs.
    let plans = crate::plans::plans_using_group(&state, &group.id).await?;
    let mut answer = serde_json::to_value(&group).map_err(|e| ApiError::internal(e.to_string()))?;
    answer["plansChanged"] = json!(plans);
    Ok(Json(answer))
}

#[derive(Debug, Deserialize)]
pub struct VersionQuery {
    version: Option<String>,
}

/// The `?version=N` a read may name.
pub(super) fn optional_version(query: &VersionQuery) -> Result<Option<u64>, ApiError> {
    query
        .version
        .as_deref()
        .map(|v| {
            v.parse()
                .map_err(|_| ApiError::bad_request(format!("version `{v}` is not a whole number")))
        })
        .transpose()
}

/// The `?version=N` a delete must name.
pub(super) fn version_query(query: &VersionQuery, what: &str) -> Result<u64, ApiError> {
    let version = query.version.as_deref().ok_or_else(|| {
        ApiError::bad_request(format!(
            "deleting a {what} needs `?version=N`, the version it was read at"
        ))
    })?;
    version
        .parse()
        .map_err(|_| ApiError::bad_request(format!("version `{version}` is not a whole number")))
}

pub async fn delete(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(query): Query<VersionQuery>,
) -> Result<StatusCode, ApiError> {
    let version = query.version.as_deref().ok_or_else(|| {
        ApiError::bad_request("deleting a group needs `?version=N`, the version it was read at")
    })?;
    let version: u64 = version
        .parse()
        .map_err(|_| ApiError::bad_request(format!("version `{version}` is not a whole number")))?;
    let users = crate::plans::plans_using_group(&state, &id).await?;
    if !users.is_empty() {
        let names: Vec<String> = users.iter().map(|p| format!("`{p}`")).collect();
        return Err(ApiError::conflict(format!(
            "protection group `{id}` is used by recovery plan {}; remove it from the plan first",
            names.join(", ")
        )));
    }
    state
        .groups
        .delete(&id, version)
        .await
        .map_err(store_error)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreviewInput {
    #[serde(default)]
    servers: Vec<String>,
    #[serde(default)]
    tag_selector: Option<BTreeMap<String, String>>,
    /// The group being edited, whose own servers are not conflicts.
    #[serde(default)]
    group: Option<String>,
}

/// What a selection would claim, with the servers another group already owns.
pub async fn preview(
    State(state): State<Arc<AppState>>,
    input: Result<Json<PreviewInput>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let input = body(input)?;
    let (fleet, owners) = tokio::join!(state.drs.list(), state.groups.owners());
    let fleet = fleet?;
    let owners = owners.map_err(ApiError::from)?;
    let matched: Vec<&crate::drs::SourceServer> = match &input.tag_selector {
        Some(selector) => fleet.iter().filter(|s| s.matches(selector)).collect(),
        None => fleet
            .iter()
            .filter(|s| input.servers.contains(&s.id))
            .collect(),
    };
    let items: Vec<Value> = matched
        .iter()
        .map(|s| {
            let owner = owners
                .get(&s.id)
                .filter(|o| Some(*o) != input.group.as_ref());
            json!({"id": s.id, "hostname": s.hostname, "tags": s.tags, "ownedBy": owner})
        })
        .collect();
    let conflicts = items.iter().filter(|i| !i["ownedBy"].is_null()).count();
    Ok(Json(json!({"items": items, "conflicts": conflicts})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slug("Shop DB (primary)"), "shop-db-primary");
        assert_eq!(slug("  "), "");
    }
}
