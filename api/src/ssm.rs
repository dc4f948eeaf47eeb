//! Output of the SSM commands a plan ran (its `ssm` and SSM health-check steps), for the
//! per-step logs, behind a trait: the real `aws-sdk-ssm` client.

use crate::error::ApiError;
use async_trait::async_trait;
use serde::Serialize;

/// What one instance's run of a command printed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Invocation {
    pub instance_id: String,
    pub status: String,
    pub response_code: i32,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    /// Standard output as SSM keeps it inline (its first 24,000 characters).
    pub output: String,
    pub error_output: String,
}

/// A Run Command command and the invocations of its first instances.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandLog {
    pub command_id: String,
    pub document: String,
    pub status: String,
    pub instance_count: usize,
    pub invocations: Vec<Invocation>,
}

#[async_trait]
pub trait Commands: Send + Sync {
    /// The command and the invocations of at most `limit` of its instances.
    async fn command_log(&self, command_id: &str, limit: usize) -> Result<CommandLog, ApiError>;
}

pub struct Ssm(pub aws_sdk_ssm::Client);

fn ssm_error(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::unavailable("SSM", format!("{what}: {e}"))
}

#[async_trait]
impl Commands for Ssm {
    async fn command_log(&self, command_id: &str, limit: usize) -> Result<CommandLog, ApiError> {
        let listed = self
            .0
            .list_commands()
            .command_id(command_id)
            .send()
            .await
            .map_err(|e| ssm_error("ListCommands", e.into_service_error()))?;
        let Some(command) = listed.commands().first() else {
            return Err(ApiError::not_found(format!(
                "SSM command `{command_id}` does not exist (SSM keeps commands for 30 days)"
            )));
        };
        let instances = command.instance_ids();
        // One GetCommandInvocation per instance, side by side (moto has no
        // ListCommandInvocations, which would be one call).
        let mut calls = tokio::task::JoinSet::new();
        for (index, instance) in instances.iter().take(limit).enumerate() {
            let client = self.0.clone();
            let (command_id, instance) = (command_id.to_owned(), instance.clone());
            calls.spawn(async move {
                let answer = client
                    .get_command_invocation()
                    .command_id(&command_id)
                    .instance_id(&instance)
                    .send()
                    .await;
                let text = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(str::to_owned);
                // One instance that cannot be read (not yet delivered, throttled) is shown
                // as such; the others still show what they printed.
                let invocation = match answer {
                    Ok(out) => Invocation {
                        instance_id: instance,
                        status: out
                            .status()
                            .map(|s| s.as_str().to_owned())
                            .unwrap_or_default(),
                        response_code: out.response_code(),
                        started_at: text(out.execution_start_date_time()),
                        ended_at: text(out.execution_end_date_time()),
                        output: out.standard_output_content().unwrap_or_default().to_owned(),
                        error_output: out.standard_error_content().unwrap_or_default().to_owned(),
                    },
                    Err(e) => Invocation {
                        instance_id: instance,
                        status: "Unavailable".into(),
                        response_code: -1,
                        started_at: None,
                        ended_at: None,
                        output: String::new(),
                        error_output: ssm_error("GetCommandInvocation", e.into_service_error())
                            .message,
                    },
                };
                (index, invocation)
            });
        }
        let mut invocations = Vec::new();
        while let Some(done) = calls.join_next().await {
            invocations.push(done.map_err(|e| ApiError::internal(e.to_string()))?);
        }
        invocations.sort_by_key(|(index, _)| *index);
        Ok(CommandLog {
            command_id: command_id.to_owned(),
            document: command.document_name().unwrap_or_default().to_owned(),
            status: command
                .status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            instance_count: instances.len(),
            invocations: invocations.into_iter().map(|(_, i)| i).collect(),
        })
    }
}
