//! Each plan's own state machine, created or updated through `aws-sdk-sfn`, all with the
//! one execution role the deployment provides.

use crate::error::ApiError;
use async_trait::async_trait;
use aws_sdk_sfn::types::{CloudWatchLogsLogGroup, LogDestination, LogLevel, LoggingConfiguration};

#[async_trait]
pub trait Machines: Send + Sync {
    /// The ARN a machine of this name has (before or after it is deployed).
    fn arn(&self, name: &str) -> String;
    /// Creates or updates the machine; returns its ARN.
    async fn deploy(&self, name: &str, definition: &str) -> Result<String, ApiError>;
    /// Creates or updates the machine and publishes the result as a version (Step
    /// Functions returns the existing version when the revision is unchanged); returns the
    /// version's ARN, which a run executes whatever is deployed after it.
    async fn publish(&self, name: &str, definition: &str) -> Result<String, ApiError>;
    async fn delete(&self, arn: &str) -> Result<(), ApiError>;
}

/// Publishes a compiled plan: its child machines first, then its machine pinned to those
/// children's versions; returns the version ARN of the plan's machine.
pub async fn publish_plan(
    machines: &dyn Machines,
    compiled: &aslgen::Compiled,
) -> Result<String, ApiError> {
    let mut versions = std::collections::HashMap::new();
    for child in &compiled.children {
        let version = machines
            .publish(&child.name, &child.definition_minified())
            .await?;
        versions.insert(machines.arn(&child.name), version);
    }
    machines
        .publish(&compiled.name, &compiled.definition_pinned(&versions))
        .await
}

/// Deploys a compiled plan's machines (children first) as their latest revisions, for
/// the console; returns the ARN of the plan's machine.
pub async fn deploy_plan(
    machines: &dyn Machines,
    compiled: &aslgen::Compiled,
) -> Result<String, ApiError> {
    for child in &compiled.children {
        machines
            .deploy(&child.name, &child.definition_minified())
            .await?;
    }
    machines
        .deploy(&compiled.name, &compiled.definition_minified())
        .await
}

pub struct Sfn {
    pub client: aws_sdk_sfn::Client,
    pub role_arn: String,
    pub partition: String,
    pub region: String,
    pub account: String,
    /// CloudWatch Logs group for the machines' logs (none locally).
    pub log_group_arn: Option<String>,
    /// Versions kept per plan's machine: past this many, the oldest are deleted (Step
    /// Functions keeps at most 1000 per machine).
    pub versions: VersionLimit,
}

/// When to delete a machine's old versions, and how many of the newest to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionLimit {
    /// Pruning starts when a machine has more than this many versions.
    pub prune_above: usize,
    /// The newest this many are kept: a run's clean-up and re-run start its own version.
    pub keep: usize,
}

impl Default for VersionLimit {
    fn default() -> Self {
        Self {
            prune_above: 900,
            keep: 800,
        }
    }
}

impl Sfn {
    /// Errors only, without execution data: the progress records already carry the
    /// runbook, and execution data would copy server lists into the logs.
    fn logging(&self) -> Option<LoggingConfiguration> {
        let arn = self.log_group_arn.as_ref()?;
        Some(
            LoggingConfiguration::builder()
                .level(LogLevel::Error)
                .include_execution_data(false)
                .destinations(
                    LogDestination::builder()
                        .cloud_watch_logs_log_group(
                            CloudWatchLogsLogGroup::builder().log_group_arn(arn).build(),
                        )
                        .build(),
                )
                .build(),
        )
    }
}

impl Sfn {
    /// Stops the executions named as the run in the plan's wave children
    /// (`<machine>_w…`); those that never started or have ended are left as they are.
    async fn stop_children(&self, execution_arn: &str, cause: &str) -> Result<(), ApiError> {
        // arn:PARTITION:states:REGION:ACCOUNT:execution:MACHINE:NAME
        let parts: Vec<&str> = execution_arn.split(':').collect();
        let [.., machine, run] = parts.as_slice() else {
            return Ok(());
        };
        let prefix = format!("{machine}{}", aslgen::compile::CHILD_INFIX);
        let mut token = None;
        let mut children = Vec::new();
        loop {
            let page = self
                .client
                .list_state_machines()
                .max_results(1000)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| sfn_error("ListStateMachines", e.into_service_error()))?;
            children.extend(
                page.state_machines
                    .into_iter()
                    .filter(|m| m.name.starts_with(&prefix))
                    .map(|m| m.state_machine_arn),
            );
            token = page.next_token;
            if token.is_none() {
                break;
            }
        }
        for child in children {
            let arn = format!("{}:{run}", child.replace(":stateMachine:", ":execution:"));
            match self
                .client
                .stop_execution()
                .execution_arn(&arn)
                .error("Plan.Cancelled")
                .cause(cause)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) => {
                    let e = e.into_service_error();
                    if !e.is_execution_does_not_exist() {
                        return Err(sfn_error("StopExecution", e));
                    }
                }
            }
        }
        Ok(())
    }

    /// Deletes the oldest versions past `versions.keep` once there are more than
    /// `versions.prune_above` (deleting a version stops none of its executions).
    async fn prune(&self, machine: &str) -> Result<usize, ApiError> {
        let failed =
            |what: &str, e: String| ApiError::unavailable("Step Functions", format!("{what}: {e}"));
        let mut versions = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_state_machine_versions()
                .state_machine_arn(machine)
                .max_results(1000)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| {
                    failed(
                        "ListStateMachineVersions",
                        e.into_service_error().to_string(),
                    )
                })?;
            versions.extend(
                page.state_machine_versions
                    .into_iter()
                    .map(|v| v.state_machine_version_arn),
            );
            token = page.next_token;
            if token.is_none() {
                break;
            }
        }
        if versions.len() <= self.versions.prune_above {
            return Ok(0);
        }
        // Newest first, as Step Functions lists them.
        let old = &versions[self.versions.keep.min(versions.len())..];
        for arn in old {
            self.client
                .delete_state_machine_version()
                .state_machine_version_arn(arn)
                .send()
                .await
                .map_err(|e| {
                    failed(
                        "DeleteStateMachineVersion",
                        e.into_service_error().to_string(),
                    )
                })?;
        }
        Ok(old.len())
    }
}

impl Sfn {
    /// Creates or updates the machine (publishing a version when asked); returns its ARN
    /// and the version's.
    async fn put(
        &self,
        name: &str,
        definition: &str,
        publish: bool,
    ) -> Result<(String, Option<String>), ApiError> {
        let arn = self.arn(name);
        let exists = self
            .client
            .describe_state_machine()
            .state_machine_arn(&arn)
            .send()
            .await
            .is_ok();
        if exists {
            let updated = self
                .client
                .update_state_machine()
                .state_machine_arn(&arn)
                .definition(definition)
                .role_arn(&self.role_arn)
                .set_logging_configuration(self.logging())
                .publish(publish)
                .send()
                .await
                .map_err(|e| {
                    ApiError::unavailable(
                        "Step Functions",
                        format!("UpdateStateMachine: {}", e.into_service_error()),
                    )
                })?;
            return Ok((arn, updated.state_machine_version_arn));
        }
        let created = self
            .client
            .create_state_machine()
            .name(name)
            .definition(definition)
            .role_arn(&self.role_arn)
            .r#type(aws_sdk_sfn::types::StateMachineType::Standard)
            .set_logging_configuration(self.logging())
            .publish(publish)
            .send()
            .await
            .map_err(|e| {
                ApiError::unavailable(
                    "Step Functions",
                    format!("CreateStateMachine: {}", e.into_service_error()),
                )
            })?;
        Ok((created.state_machine_arn, created.state_machine_version_arn))
    }
}

#[async_trait]
impl Machines for Sfn {
    fn arn(&self, name: &str) -> String {
        format!(
            "arn:{}:states:{}:{}:stateMachine:{name}",
            self.partition, self.region, self.account
        )
    }

    async fn deploy(&self, name: &str, definition: &str) -> Result<String, ApiError> {
        self.put(name, definition, false).await.map(|(arn, _)| arn)
    }

    async fn publish(&self, name: &str, definition: &str) -> Result<String, ApiError> {
        let (arn, version) = self.put(name, definition, true).await?;
        let version = version.ok_or_else(|| {
            ApiError::unavailable("Step Functions", format!("no version published for {arn}"))
        })?;
        // Runs publish as plans and groups change: keep under the quota of 1000.
        if let Err(e) = self.prune(&arn).await {
            tracing::warn!(machine = %arn, error = %e.message, "old versions were not pruned");
        }
        Ok(version)
    }

    async fn delete(&self, arn: &str) -> Result<(), ApiError> {
        self.client
            .delete_state_machine()
            .state_machine_arn(arn)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                ApiError::unavailable(
                    "Step Functions",
                    format!("DeleteStateMachine: {}", e.into_service_error()),
                )
            })
    }
}

/// Executions of the plans' machines and the callback answers for approvals.
#[async_trait]
pub trait Runs: Send + Sync {
    async fn start(&self, machine_arn: &str, name: &str, input: &str) -> Result<String, ApiError>;
    /// Stops the run's execution, then the wave children of a plan split across
    /// executions (named as the run), so none of them acts after this returns.
    async fn stop(&self, execution_arn: &str, cause: &str) -> Result<(), ApiError>;
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`, …; `None` if unknown.
    async fn status(&self, execution_arn: &str) -> Result<Option<String>, ApiError>;
    async fn approve(&self, token: &str, output: &str) -> Result<(), CallbackError>;
    async fn reject(&self, token: &str, error: &str, cause: &str) -> Result<(), CallbackError>;
}

/// Why a task token's answer did not land.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// The execution no longer waits for the task (it ended, timed out, or the token is
    /// unknown): the answer can never land.
    #[error("the run no longer waits for this task: {0}")]
    Gone(String),
    /// Step Functions did not answer; the same answer may land later.
    #[error(transparent)]
    Failed(#[from] ApiError),
}

fn callback_error<E>(what: &str, e: E) -> CallbackError
where
    E: aws_sdk_sfn::error::ProvideErrorMetadata + std::fmt::Display,
{
    match e.code() {
        Some("TaskDoesNotExist" | "TaskTimedOut" | "InvalidToken") => {
            CallbackError::Gone(format!("{what}: {}", e.code().unwrap_or_default()))
        }
        _ => CallbackError::Failed(sfn_error(what, e)),
    }
}

fn sfn_error(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::unavailable("Step Functions", format!("{what}: {e}"))
}

#[async_trait]
impl Runs for Sfn {
    async fn start(&self, machine_arn: &str, name: &str, input: &str) -> Result<String, ApiError> {
        self.client
            .start_execution()
            .state_machine_arn(machine_arn)
            .name(name)
            .input(input)
            .send()
            .await
            .map(|o| o.execution_arn)
            .map_err(|e| sfn_error("StartExecution", e.into_service_error()))
    }

    async fn stop(&self, execution_arn: &str, cause: &str) -> Result<(), ApiError> {
        self.client
            .stop_execution()
            .execution_arn(execution_arn)
            .error("Plan.Cancelled")
            .cause(cause)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sfn_error("StopExecution", e.into_service_error()))?;
        self.stop_children(execution_arn, cause).await
    }

    async fn status(&self, execution_arn: &str) -> Result<Option<String>, ApiError> {
        match self
            .client
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
        {
            Ok(out) => Ok(Some(out.status.as_str().to_owned())),
            Err(e) => {
                let service = e.into_service_error();
                if service.is_execution_does_not_exist() {
                    Ok(None)
                } else {
                    Err(sfn_error("DescribeExecution", service))
                }
            }
        }
    }

    async fn approve(&self, token: &str, output: &str) -> Result<(), CallbackError> {
        self.client
            .send_task_success()
            .task_token(token)
            .output(output)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| callback_error("SendTaskSuccess", e.into_service_error()))
    }

    async fn reject(&self, token: &str, error: &str, cause: &str) -> Result<(), CallbackError> {
        self.client
            .send_task_failure()
            .task_token(token)
            .error(error)
            .cause(cause)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| callback_error("SendTaskFailure", e.into_service_error()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records publishes; version `n` is the n-th publish of a machine.
    #[derive(Default)]
    struct Published(Mutex<Vec<(String, String)>>);

    #[async_trait]
    impl Machines for Published {
        fn arn(&self, name: &str) -> String {
            aslgen::Deployment::default().arn("states", &format!("stateMachine:{name}"))
        }
        async fn deploy(&self, name: &str, _: &str) -> Result<String, ApiError> {
            Ok(self.arn(name))
        }
        async fn publish(&self, name: &str, definition: &str) -> Result<String, ApiError> {
            let mut published = self.0.lock().unwrap_or_else(|p| p.into_inner());
            published.push((name.to_owned(), definition.to_owned()));
            Ok(format!("{}:7", self.arn(name)))
        }
        async fn delete(&self, _: &str) -> Result<(), ApiError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_split_plan_publishes_its_children_first_and_pins_them() {
        let doc = aslgen::synth::wide_plan(40, 2, 2);
        let resolved = aslgen::validate(&doc, None).unwrap_or_else(|e| panic!("{e}"));
        let compiled = aslgen::compile_split(&resolved, &aslgen::Deployment::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let machines = Published::default();
        let version = publish_plan(&machines, &compiled)
            .await
            .unwrap_or_else(|e| panic!("{}", e.message));
        assert_eq!(version, format!("{}:7", machines.arn(&compiled.name)));
        let published = machines.0.lock().unwrap_or_else(|p| p.into_inner());
        let names: Vec<&str> = published.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "drs-plan-wide-40_w1",
                "drs-plan-wide-40_w2",
                "drs-plan-wide-40"
            ]
        );
        // The parent starts the children's published versions, not their latest.
        let parent = &published[2].1;
        for child in &compiled.children {
            let pinned = format!("\"{}:7\"", machines.arn(&child.name));
            assert!(parent.contains(&pinned), "{} is not pinned", child.name);
        }
    }
}
