//! Each plan's own state machine, created or updated through `aws-sdk-sfn`, all with the
//! one execution role the deployment provides.

use crate::error::ApiError;
use async_trait::async_trait;

#[async_trait]
pub trait Machines: Send + Sync {
    /// Creates or updates the machine; returns its ARN.
    async fn deploy(&self, name: &str, definition: &str) -> Result<String, ApiError>;
    async fn delete(&self, arn: &str) -> Result<(), ApiError>;
}

pub struct Sfn {
    pub client: aws_sdk_sfn::Client,
    pub role_arn: String,
    pub partition: String,
    pub region: String,
    pub account: String,
}

#[async_trait]
impl Machines for Sfn {
    async fn deploy(&self, name: &str, definition: &str) -> Result<String, ApiError> {
        let arn = format!(
            "arn:{}:states:{}:{}:stateMachine:{name}",
            self.partition, self.region, self.account
        );
        let exists = self
            .client
            .describe_state_machine()
            .state_machine_arn(&arn)
            .send()
            .await
            .is_ok();
        if exists {
            self.client
                .update_state_machine()
                .state_machine_arn(&arn)
                .definition(definition)
                .role_arn(&self.role_arn)
                .send()
                .await
                .map_err(|e| {
                    ApiError::unavailable(format!(
                        "Step Functions UpdateStateMachine failed: {}",
                        e.into_service_error()
                    ))
                })?;
            return Ok(arn);
        }
        let created = self
            .client
            .create_state_machine()
            .name(name)
            .definition(definition)
            .role_arn(&self.role_arn)
            .r#type(aws_sdk_sfn::types::StateMachineType::Standard)
            .send()
            .await
            .map_err(|e| {
                ApiError::unavailable(format!(
                    "Step Functions CreateStateMachine failed: {}",
                    e.into_service_error()
                ))
            })?;
        Ok(created.state_machine_arn)
    }

    async fn delete(&self, arn: &str) -> Result<(), ApiError> {
        self.client
            .delete_state_machine()
            .state_machine_arn(arn)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                ApiError::unavailable(format!(
                    "Step Functions DeleteStateMachine failed: {}",
                    e.into_service_error()
                ))
            })
    }
}
