//! Post-launch actions (PutLaunchAction, ListLaunchActions, DeleteLaunchAction) on a
//! launch configuration template (`lct-…`) or a source server (`s-…`), validated as
//! the DRS service model constrains them.

use crate::error::DrsError;
use crate::world::World;
use serde_json::{Value, json};

const CATEGORIES: [&str; 5] = [
    "MONITORING",
    "VALIDATION",
    "CONFIGURATION",
    "SECURITY",
    "OTHER",
];

fn required<'a>(body: &'a Value, key: &str) -> Result<&'a Value, DrsError> {
    body.get(key)
        .filter(|v| !v.is_null())
        .ok_or_else(|| DrsError::Validation(format!("`{key}` is required")))
}

fn text<'a>(body: &'a Value, key: &str) -> Result<&'a str, DrsError> {
    required(body, key)?
        .as_str()
        .ok_or_else(|| DrsError::Validation(format!("`{key}` must be a string")))
}

fn resource_id(body: &Value) -> Result<String, DrsError> {
    let id = text(body, "resourceId")?;
    let (prefix, rest) = id.split_at(id.find('-').map_or(0, |i| i + 1));
    let ok = matches!(prefix, "s-" | "lct-")
        && rest.len() == 17
        && rest.chars().all(|c| c.is_ascii_alphanumeric());
    if !ok {
        return Err(DrsError::Validation(format!(
            "resourceId `{id}` is neither a source server (s-…) nor a launch configuration template (lct-…)"
        )));
    }
    Ok(id.to_owned())
}

fn action_id(body: &Value) -> Result<String, DrsError> {
    let id = text(body, "actionId")?;
    let groups: Vec<usize> = id.split('-').map(str::len).collect();
    if groups != [8, 4, 4, 4, 12] || !id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()) {
        return Err(DrsError::Validation(format!(
            "actionId `{id}` is not a UUID"
        )));
    }
    Ok(id.to_owned())
}

fn known(world: &World, resource: &str) -> Result<(), DrsError> {
    if resource.starts_with("s-") && !world.servers.contains_key(resource) {
        return Err(DrsError::NotFound(format!(
            "source server `{resource}` does not exist"
        )));
    }
    Ok(())
}

pub fn put(world: &mut World, body: &Value) -> Result<Value, DrsError> {
    let resource = resource_id(body)?;
    known(world, &resource)?;
    let id = action_id(body)?;
    let code = text(body, "actionCode")?;
    if code.is_empty()
        || code.len() > 1011
        || !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-/:".contains(c))
    {
        return Err(DrsError::Validation(format!(
            "actionCode `{code}` is not an SSM document name"
        )));
    }
    let order = required(body, "order")?.as_u64().unwrap_or(0);
    if !(2..=10_000).contains(&order) {
        return Err(DrsError::Validation(format!(
            "order `{}` must be from 2 to 10000",
            body["order"]
        )));
    }
    let category = text(body, "category")?;
    if !CATEGORIES.contains(&category) {
        return Err(DrsError::Validation(format!(
            "category `{category}` is not one of {CATEGORIES:?}"
        )));
    }
    for flag in ["optional", "active"] {
        if !required(body, flag)?.is_boolean() {
            return Err(DrsError::Validation(format!("`{flag}` must be a boolean")));
        }
    }
    let name = text(body, "name")?;
    let version = text(body, "actionVersion")?;
    let description = text(body, "description")?;
    let action = json!({
        "resourceId": resource,
        "actionId": id,
        "actionCode": code,
        "type": "SSM_AUTOMATION",
        "name": name,
        "active": body["active"],
        "order": order,
        "actionVersion": version,
        "optional": body["optional"],
        "parameters": body.get("parameters").cloned().unwrap_or_else(|| json!({})),
        "description": description,
        "category": category,
    });
    world
        .launch_actions
        .entry(resource)
        .or_default()
        .insert(id, action.clone());
    Ok(action)
}

pub fn list(world: &World, body: &Value) -> Result<Value, DrsError> {
    let resource = resource_id(body)?;
    known(world, &resource)?;
    let items: Vec<Value> = world
        .launch_actions
        .get(&resource)
        .map(|actions| actions.values().cloned().collect())
        .unwrap_or_default();
    Ok(json!({ "items": items }))
}

pub fn delete(world: &mut World, body: &Value) -> Result<Value, DrsError> {
    let resource = resource_id(body)?;
    let id = action_id(body)?;
    let removed = world
        .launch_actions
        .get_mut(&resource)
        .and_then(|actions| actions.shift_remove(&id));
    match removed {
        Some(_) => Ok(json!({})),
        None => Err(DrsError::NotFound(format!(
            "launch action `{id}` does not exist on `{resource}`"
        ))),
    }
}
