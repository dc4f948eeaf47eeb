//! Task resources as typed ARNs: `arn:PARTITION:states:::SERVICE:ACTION[.PATTERN]`.

use serde::{Serialize, Serializer};
use std::fmt;

/// How Step Functions waits on the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Integration {
    RequestResponse,
    WaitForTaskToken,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    /// `aws-sdk:SERVICE:action`, e.g. `aws-sdk:drs:startRecovery`.
    AwsSdk {
        service: &'static str,
        action: &'static str,
        integration: Integration,
    },
    /// An optimized integration, e.g. `sns:publish`, `dynamodb:updateItem`, `lambda:invoke`.
    Optimized {
        service: &'static str,
        action: &'static str,
    },
}

impl Resource {
    pub const fn sdk(service: &'static str, action: &'static str) -> Self {
        Resource::AwsSdk {
            service,
            action,
            integration: Integration::RequestResponse,
        }
    }

    /// `aws-sdk:SERVICE:action.waitForTaskToken`: the task waits for its token's answer.
    pub const fn sdk_callback(service: &'static str, action: &'static str) -> Self {
        Resource::AwsSdk {
            service,
            action,
            integration: Integration::WaitForTaskToken,
        }
    }

    pub const fn optimized(service: &'static str, action: &'static str) -> Self {
        Resource::Optimized { service, action }
    }

    pub fn service(&self) -> &'static str {
        match self {
            Resource::AwsSdk { service, .. } | Resource::Optimized { service, .. } => service,
        }
    }

    pub fn action(&self) -> &'static str {
        match self {
            Resource::AwsSdk { action, .. } | Resource::Optimized { action, .. } => action,
        }
    }

    pub fn waits_for_token(&self) -> bool {
        matches!(
            self,
            Resource::AwsSdk {
                integration: Integration::WaitForTaskToken,
                ..
            }
        )
    }

    /// The IAM action the call needs: `drs:StartRecovery`, `lambda:InvokeFunction`.
    pub fn iam_action(&self) -> String {
        let (service, action) = (self.service(), self.action());
        if (service, action) == ("lambda", "invoke") {
            return "lambda:InvokeFunction".to_owned();
        }
        // The SDK integration's service name is the SDK's; IAM's prefix is `states`.
        let service = if service == "sfn" { "states" } else { service };
        let mut chars = action.chars();
        let upper: String = chars
            .next()
            .map(|c| c.to_ascii_uppercase())
            .into_iter()
            .chain(chars)
            .collect();
        format!("{service}:{upper}")
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The commercial partition's form; other partitions are not targeted yet.
        match self {
            Resource::AwsSdk {
                service,
                action,
                integration,
            } => {
                write!(f, "arn:aws:states:::aws-sdk:{service}:{action}")?;
                if *integration == Integration::WaitForTaskToken {
                    f.write_str(".waitForTaskToken")?;
                }
                Ok(())
            }
            Resource::Optimized { service, action } => {
                write!(f, "arn:aws:states:::{service}:{action}")
            }
        }
    }
}

impl Serialize for Resource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}
