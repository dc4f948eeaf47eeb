//! SSM Automation executions, read to learn who started a runbook: the runbook's Lambda
//! step names its own execution, and SSM (not the payload) says which document it runs,
//! with which parameters, started by which IAM principal.

use crate::error::ApiError;
use crate::ssm::Ssm;
use async_trait::async_trait;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub struct AutomationRun {
    pub document: String,
    /// Pending, InProgress, Success, Failed, …
    pub status: String,
    /// The ARN of the IAM principal that started it.
    pub executed_by: String,
    pub parameters: HashMap<String, Vec<String>>,
}

#[async_trait]
pub trait Automations: Send + Sync {
    /// `None` when SSM has no such execution.
    async fn get(&self, id: &str) -> Result<Option<AutomationRun>, ApiError>;
}

#[async_trait]
impl Automations for Ssm {
    async fn get(&self, id: &str) -> Result<Option<AutomationRun>, ApiError> {
        let out = match self
            .0
            .get_automation_execution()
            .automation_execution_id(id)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let e = e.into_service_error();
                if e.is_automation_execution_not_found_exception() {
                    return Ok(None);
                }
                return Err(ApiError::unavailable(
                    "SSM",
                    format!("GetAutomationExecution: {e}"),
                ));
            }
        };
        Ok(out.automation_execution.map(|e| AutomationRun {
            document: e.document_name.unwrap_or_default(),
            status: e
                .automation_execution_status
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            executed_by: e.executed_by.unwrap_or_default(),
            parameters: e.parameters.unwrap_or_default(),
        }))
    }
}
