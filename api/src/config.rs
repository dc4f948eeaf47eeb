//! Configuration from the environment, with errors that name the missing variable.

use crate::app::AppState;
use crate::auth::CognitoJwt;
use crate::drs::Drs;
use crate::policy;
use crate::store::Dynamo;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub table: String,
    pub issuer: String,
    pub client_id: String,
    pub jwks_url: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable `{0}` is not set ({1})")]
    Missing(&'static str, &'static str),
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
        Ok(Self {
            table: var("TABLE_NAME").unwrap_or_else(|| "drs-orchestrator".into()),
            issuer,
            client_id,
            jwks_url,
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
        let dynamo = Arc::new(Dynamo {
            client: aws_sdk_dynamodb::Client::new(&aws),
            table: self.table.clone(),
        });
        AppState {
            auth: Arc::new(CognitoJwt::new(
                &self.issuer,
                &self.client_id,
                &self.jwks_url,
                reqwest::Client::new(),
            )),
            rules: policy::rules(),
            groups: dynamo.clone(),
            drs: Arc::new(Drs(aws_sdk_drs::Client::new(&aws))),
            audit: dynamo,
        }
    }
}
