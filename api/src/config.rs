//! Configuration from the environment, with errors that name the missing variable.

use crate::app::AppState;
use crate::auth::CognitoJwt;
use crate::directory::{CognitoDirectory, Names};
use crate::drs::Drs;
use crate::machines::Sfn;
use crate::policy;
use crate::ssm::Ssm;
use crate::store::Dynamo;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub table: String,
    pub issuer: String,
    pub client_id: String,
    pub jwks_url: String,
    /// The execution role every plan's state machine runs with.
    pub machine_role_arn: String,
    pub deployment: aslgen::Deployment,
    /// The SSM Automation runbook that may start plans (`<DocumentPrefix>-RunRecoveryPlan`).
    pub runbook_document: String,
    /// When old versions of a plan's machine are deleted.
    pub versions: crate::machines::VersionLimit,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable `{0}` is not set ({1})")]
    Missing(&'static str, &'static str),
    #[error("environment variable `{0}`: {1}")]
    Invalid(&'static str, String),
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let var = |name: &'static str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let issuer = var("COGNITO_ISSUER").ok_or(ConfigError::Missing(
            "COGNITO_ISSUER",
            "the user pool's issuer, https://cognito-idp.REGION.amazonaws.com/POOL_ID",
        ))?;
        let client_id = var("COGNITO_CLIENT_ID").ok_or(ConfigError::Missing(
            "COGNITO_CLIENT_ID",
            "the SPA's app client id",
        ))?;
        let jwks_url = var("COGNITO_JWKS_URL")
            .unwrap_or_else(|| format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/')));
        let defaults = aslgen::Deployment::default();
        let table = var("TABLE_NAME").unwrap_or_else(|| defaults.table.clone());
        let deployment = aslgen::Deployment {
            partition: var("AWS_PARTITION").unwrap_or(defaults.partition),
            region: var("AWS_REGION").unwrap_or(defaults.region),
            account: var("AWS_ACCOUNT_ID").unwrap_or(defaults.account),
            table: table.clone(),
            topic: var("TOPIC_NAME").unwrap_or(defaults.topic),
            probe_function: var("PROBE_FUNCTION").unwrap_or(defaults.probe_function),
            console_url: var("CONSOLE_URL").unwrap_or(defaults.console_url),
            machine_prefix: var("MACHINE_PREFIX").unwrap_or(defaults.machine_prefix),
            log_group_arn: var("LOG_GROUP_ARN"),
            split: var("PLAN_SPLIT")
                .map(|text| text.parse())
                .transpose()
                .map_err(|e| ConfigError::Invalid("PLAN_SPLIT", e))?
                .unwrap_or_default(),
        };
        let machine_role_arn = var("STATE_MACHINE_ROLE_ARN").unwrap_or_else(|| {
            format!(
                "arn:{}:iam::{}:role/drs-orchestrator-plans",
                deployment.partition, deployment.account
            )
        });
        let runbook_document = var("RUNBOOK_DOCUMENT")
            .unwrap_or_else(|| "DRS-Orchestrator-RunRecoveryPlan".to_owned());
        Ok(Self {
            table,
            issuer,
            client_id,
            jwks_url,
            machine_role_arn,
            deployment,
            runbook_document,
            versions: crate::machines::VersionLimit::default(),
        })
    }

    /// The application wired to AWS (or to the endpoint in `AWS_ENDPOINT_URL`).
    pub async fn state(&self) -> AppState {
        let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        self.state_with(&aws)
    }

    /// The application wired to the given AWS configuration (tests, local mode).
    pub fn state_with(&self, aws: &aws_config::SdkConfig) -> AppState {
        let aws = aws.clone();
        let sfn = Arc::new(Sfn {
            client: aws_sdk_sfn::Client::new(&aws),
            role_arn: self.machine_role_arn.clone(),
            partition: self.deployment.partition.clone(),
            region: self.deployment.region.clone(),
            account: self.deployment.account.clone(),
            log_group_arn: self.deployment.log_group_arn.clone(),
            versions: self.versions,
        });
        let dynamo = Arc::new(Dynamo {
            client: aws_sdk_dynamodb::Client::new(&aws),
            table: self.table.clone(),
        });
        AppState {
            auth: Arc::new(
                CognitoJwt::new(
                    &self.issuer,
                    &self.client_id,
                    &self.jwks_url,
                    reqwest::Client::new(),
                )
                .with_names(Names::new(Box::new(CognitoDirectory {
                    client: aws_sdk_cognitoidentityprovider::Client::new(&aws),
                    pool_id: self
                        .issuer
                        .rsplit('/')
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                }))),
            ),
            rules: policy::rules(),
            groups: dynamo.clone(),
            drs: Arc::new(Drs(aws_sdk_drs::Client::new(&aws))),
            launch_configs: Arc::new(crate::launch_configs::DrsLaunchConfigs(
                aws_sdk_drs::Client::new(&aws),
            )),
            ssm: Arc::new(Ssm(aws_sdk_ssm::Client::new(&aws))),
            automations: Arc::new(Ssm(aws_sdk_ssm::Client::new(&aws))),
            runbook_document: self.runbook_document.clone(),
            audit: dynamo.clone(),
            plans: dynamo.clone(),
            records: dynamo,
            machines: sfn.clone(),
            runs: sfn,
            deployment: self.deployment.clone(),
        }
    }
}
