//! `Custom::DrsLaunchActions`: registers SSM documents as DRS post-launch actions on a
//! launch configuration template (PutLaunchAction), so every server launched from it
//! runs them. Update re-puts the new set and deletes what left it; Delete removes them.

use super::{Call, CustomResourceError, Kind, Outcome};
use async_trait::async_trait;
use aws_sdk_drs::types::{LaunchActionCategory, LaunchActionParameter, LaunchActionParameterType};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

pub const TYPE: &str = "Custom::DrsLaunchActions";

/// One post-launch action, as the template declares it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Action {
    pub name: String,
    /// The SSM document the action runs.
    pub document: String,
    #[serde(default = "Action::default_order", deserialize_with = "number")]
    pub order: i32,
    #[serde(default = "Action::default_category")]
    pub category: String,
    #[serde(default, deserialize_with = "flag")]
    pub optional: bool,
    #[serde(default)]
    pub description: String,
    /// Document parameters, passed as literal values.
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
}

impl Action {
    fn default_order() -> i32 {
        100
    }
    fn default_category() -> String {
        "VALIDATION".into()
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Properties {
    /// `lct-…` (a launch configuration template) or `s-…` (one source server).
    resource_id: String,
    actions: Vec<Action>,
}

/// DRS's post-launch action calls.
#[async_trait]
pub trait LaunchActions: Send + Sync {
    async fn put(&self, resource_id: &str, id: &str, action: &Action) -> Result<(), String>;
    /// Deleting an action that is already gone succeeds.
    async fn delete(&self, resource_id: &str, id: &str) -> Result<(), String>;
}

/// A stable action id per stack and action name (DRS wants a UUID; a template has none).
pub fn action_id(stack_id: &str, name: &str) -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        format!("{stack_id}#{name}").as_bytes(),
    )
    .to_string()
}

pub async fn handle(drs: &dyn LaunchActions, call: &Call) -> Result<Outcome, CustomResourceError> {
    let props: Properties = call.properties()?;
    let mut names = BTreeSet::new();
    for action in &props.actions {
        if !names.insert(action.name.as_str()) {
            return Err(CustomResourceError::BadProperties {
                kind: TYPE.into(),
                message: format!("action name `{}` is given twice", action.name),
            });
        }
    }
    let service = |e: String| CustomResourceError::Service(e);
    let id = |name: &str| action_id(&call.stack_id, name);
    match call.kind {
        Kind::Create | Kind::Update => {
            for action in &props.actions {
                drs.put(&props.resource_id, &id(&action.name), action)
                    .await
                    .map_err(|e| {
                        service(format!(
                            "PutLaunchAction `{}` on `{}`: {e}",
                            action.name, props.resource_id
                        ))
                    })?;
            }
            if let Some(old) = call.old_properties::<Properties>()? {
                // Actions dropped from the template, or left behind on another resource.
                for action in &old.actions {
                    let moved = old.resource_id != props.resource_id;
                    if moved || !names.contains(action.name.as_str()) {
                        drs.delete(&old.resource_id, &id(&action.name))
                            .await
                            .map_err(|e| {
                                service(format!("DeleteLaunchAction `{}`: {e}", action.name))
                            })?;
                    }
                }
            }
        }
        Kind::Delete => {
            for action in &props.actions {
                drs.delete(&props.resource_id, &id(&action.name))
                    .await
                    .map_err(|e| service(format!("DeleteLaunchAction `{}`: {e}", action.name)))?;
            }
        }
    }
    Ok(Outcome {
        physical_id: format!("{}/launch-actions", props.resource_id),
        data: [("Count".to_owned(), props.actions.len().to_string())].into(),
    })
}

#[async_trait]
impl LaunchActions for aws_sdk_drs::Client {
    async fn put(&self, resource_id: &str, id: &str, action: &Action) -> Result<(), String> {
        let parameters = action
            .parameters
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    LaunchActionParameter::builder()
                        .value(v)
                        .r#type(LaunchActionParameterType::Dynamic)
                        .build(),
                )
            })
            .collect();
        self.put_launch_action()
            .resource_id(resource_id)
            .action_id(id)
            .action_code(&action.document)
            .name(&action.name)
            .order(action.order)
            .category(LaunchActionCategory::from(action.category.as_str()))
            .optional(action.optional)
            .active(true)
            .action_version("$DEFAULT")
            .description(&action.description)
            .set_parameters(Some(parameters))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("{:?}", e.into_service_error()))
    }

    async fn delete(&self, resource_id: &str, id: &str) -> Result<(), String> {
        match self
            .delete_launch_action()
            .resource_id(resource_id)
            .action_id(id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = e.into_service_error();
                if e.is_resource_not_found_exception() {
                    Ok(())
                } else {
                    Err(format!("{e:?}"))
                }
            }
        }
    }
}

/// CloudFormation passes numbers as strings; accept both.
fn number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        Int(i32),
        Text(String),
    }
    match N::deserialize(d)? {
        N::Int(n) => Ok(n),
        N::Text(s) => s
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("`{s}` is not a whole number"))),
    }
}

fn flag<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        Bool(bool),
        Text(String),
    }
    match B::deserialize(d)? {
        B::Bool(b) => Ok(b),
        B::Text(s) => match s.as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(serde::de::Error::custom(format!(
                "`{s}` is not true or false"
            ))),
        },
    }
}
