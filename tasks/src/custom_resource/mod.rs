//! The CloudFormation custom-resource protocol and the resource types this product
//! defines. Each type is a small module over a trait, so tests run it against moto's S3
//! and the DRS simulator over the real wire.

mod empty_bucket;
mod launch_actions;
mod spa_config;

pub use launch_actions::{LaunchActions, action_id};
pub use spa_config::Objects;

use aws_lambda_events::event::cloudformation::{
    CloudFormationCustomResourceRequest as Request, CloudFormationCustomResourceResponse,
    CloudFormationCustomResourceResponseStatus as Status,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;

/// What a handler reports back: the physical id and `Fn::GetAtt` data.
#[derive(Debug, Default, PartialEq)]
pub struct Outcome {
    pub physical_id: String,
    pub data: HashMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CustomResourceError {
    #[error("the event is not a CloudFormation custom-resource request: {0}")]
    NotARequest(String),
    #[error("resource type `{0}` is not one this function handles")]
    UnknownType(String),
    #[error("properties of {kind}: {message}")]
    BadProperties { kind: String, message: String },
    #[error("{0}")]
    Service(String),
    #[error("could not send the response to CloudFormation: {0}")]
    Respond(String),
}

impl From<CustomResourceError> for lambda_runtime::Diagnostic {
    fn from(e: CustomResourceError) -> Self {
        Self {
            error_type: "CustomResource.Error".into(),
            error_message: e.to_string(),
        }
    }
}

/// The AWS services the handlers need.
pub struct Services {
    pub objects: Box<dyn Objects>,
    pub launch_actions: Box<dyn LaunchActions>,
    pub http: reqwest::Client,
}

impl Services {
    pub fn from_config(aws: &aws_config::SdkConfig) -> Self {
        Self {
            objects: Box::new(aws_sdk_s3::Client::new(aws)),
            launch_actions: Box::new(aws_sdk_drs::Client::new(aws)),
            http: reqwest::Client::new(),
        }
    }
}

/// The parts of a request every handler needs, whatever its type.
#[derive(Debug)]
pub struct Call {
    pub kind: Kind,
    pub resource_type: String,
    pub physical_id: Option<String>,
    pub properties: Value,
    pub old_properties: Option<Value>,
    pub stack_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Create,
    Update,
    Delete,
}

impl Call {
    pub fn properties<T: DeserializeOwned>(&self) -> Result<T, CustomResourceError> {
        parse(&self.resource_type, &self.properties)
    }
    pub fn old_properties<T: DeserializeOwned>(&self) -> Result<Option<T>, CustomResourceError> {
        self.old_properties
            .as_ref()
            .map(|p| parse(&self.resource_type, p))
            .transpose()
    }
}

fn parse<T: DeserializeOwned>(kind: &str, value: &Value) -> Result<T, CustomResourceError> {
    serde_path_to_error::deserialize(value).map_err(|e| CustomResourceError::BadProperties {
        kind: kind.to_owned(),
        message: format!("at `{}`: {}", e.path(), e.inner()),
    })
}

/// Handles one event and always answers CloudFormation. Returns the response sent, or
/// an error only when even the response could not be delivered.
pub async fn handle(
    services: &Services,
    event: Value,
) -> Result<CloudFormationCustomResourceResponse, CustomResourceError> {
    let request: Request = serde_json::from_value(event)
        .map_err(|e| CustomResourceError::NotARequest(e.to_string()))?;
    let (call, url, mut response) = split(request);
    let outcome = dispatch(services, &call).await;
    match outcome {
        Ok(outcome) => {
            response.status = Status::Success;
            response.physical_resource_id = outcome.physical_id;
            response.data = outcome.data;
        }
        Err(e) => {
            tracing::error!(error = %e, resource_type = %call.resource_type, "custom resource failed");
            response.status = Status::Failed;
            response.reason = Some(e.to_string());
            // A failed Create still needs a physical id; keep the one CloudFormation has.
            response.physical_resource_id = call
                .physical_id
                .clone()
                .unwrap_or_else(|| format!("{}-failed", response.logical_resource_id));
        }
    }
    send(&services.http, &url, &response).await?;
    Ok(response)
}

async fn dispatch(services: &Services, call: &Call) -> Result<Outcome, CustomResourceError> {
    match call.resource_type.as_str() {
        spa_config::TYPE => spa_config::handle(services.objects.as_ref(), call).await,
        empty_bucket::TYPE => empty_bucket::handle(services.objects.as_ref(), call).await,
        launch_actions::TYPE => {
            launch_actions::handle(services.launch_actions.as_ref(), call).await
        }
        other => Err(CustomResourceError::UnknownType(other.to_owned())),
    }
}

fn split(request: Request) -> (Call, String, CloudFormationCustomResourceResponse) {
    let mut response = CloudFormationCustomResourceResponse::default();
    // The three request types share every field but the physical id and old properties.
    macro_rules! call {
        ($r:ident, $kind:expr, $physical:expr, $old:expr) => {{
            response.stack_id = $r.stack_id.clone();
            response.request_id = $r.request_id;
            response.logical_resource_id = $r.logical_resource_id;
            let call = Call {
                kind: $kind,
                resource_type: $r.resource_type,
                physical_id: $physical,
                properties: $r.resource_properties,
                old_properties: $old,
                stack_id: $r.stack_id,
            };
            (call, $r.response_url)
        }};
    }
    let (call, url) = match request {
        Request::Create(r) => call!(r, Kind::Create, None, None),
        Request::Update(r) => call!(
            r,
            Kind::Update,
            Some(r.physical_resource_id),
            Some(r.old_resource_properties)
        ),
        Request::Delete(r) => call!(r, Kind::Delete, Some(r.physical_resource_id), None),
        // The enum is non-exhaustive; a new request type is answered as a failure.
        _ => (
            Call {
                kind: Kind::Delete,
                resource_type: "unknown request type".into(),
                physical_id: None,
                properties: Value::Null,
                old_properties: None,
                stack_id: String::new(),
            },
            String::new(),
        ),
    };
    (call, url, response)
}

/// PUTs the response to the presigned URL. No Content-Type: the URL is signed without one.
async fn send(
    http: &reqwest::Client,
    url: &str,
    response: &CloudFormationCustomResourceResponse,
) -> Result<(), CustomResourceError> {
    let body =
        serde_json::to_vec(response).map_err(|e| CustomResourceError::Respond(e.to_string()))?;
    let answer = http
        .put(url)
        .body(body)
        .send()
        .await
        .map_err(|e| CustomResourceError::Respond(format!("PUT {url}: {e}")))?;
    if !answer.status().is_success() {
        return Err(CustomResourceError::Respond(format!(
            "PUT {url} answered {}",
            answer.status()
        )));
    }
    Ok(())
}
