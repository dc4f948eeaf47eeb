//! Faults to inject, per source server or per operation, from a file or the admin API.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Faults {
    /// Source server ID → what happens when it is launched.
    #[serde(default)]
    pub servers: HashMap<String, ServerFault>,
    /// Operation name (`StartRecovery`) → refusals to serve next.
    #[serde(default)]
    pub operations: HashMap<String, OperationFault>,
    /// Source server ID → what happens to its launch result event.
    #[serde(default)]
    pub events: HashMap<String, crate::events::EventFault>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LaunchFault {
    /// The server's launch ends FAILED.
    Fail,
    /// The server stays IN_PROGRESS and its job never completes.
    Stuck,
    /// The launch takes `slowFactor` times as long.
    Slow,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerFault {
    pub launch: LaunchFault,
    #[serde(default = "ServerFault::default_factor")]
    pub slow_factor: f64,
}

impl ServerFault {
    fn default_factor() -> f64 {
        4.0
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OperationFault {
    /// The next N calls are refused with ThrottlingException (429) before doing anything.
    #[serde(default)]
    pub throttle: u32,
    /// The next N calls fail with InternalServerException (500) before doing anything.
    #[serde(default)]
    pub server_error: u32,
    /// The next N calls do their work, then answer InternalServerException (500): the
    /// ambiguous failure after which a client cannot know whether the job exists.
    #[serde(default)]
    pub server_error_after_commit: u32,
}

/// What to do with one call, decided (and counted) before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Serve,
    Throttle,
    FailBefore,
    FailAfter,
}

impl Faults {
    pub fn take(&mut self, operation: &str) -> Verdict {
        let Some(fault) = self.operations.get_mut(operation) else {
            return Verdict::Serve;
        };
        if fault.throttle > 0 {
            fault.throttle -= 1;
            Verdict::Throttle
        } else if fault.server_error > 0 {
            fault.server_error -= 1;
            Verdict::FailBefore
        } else if fault.server_error_after_commit > 0 {
            fault.server_error_after_commit -= 1;
            Verdict::FailAfter
        } else {
            Verdict::Serve
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_faults_are_used_up_in_order() {
        let mut faults: Faults = serde_json::from_str(
            r#"{"operations": {"StartRecovery": {"throttle": 1, "serverErrorAfterCommit": 1}}}"#,
        )
        .unwrap();
        assert_eq!(faults.take("StartRecovery"), Verdict::Throttle);
        assert_eq!(faults.take("StartRecovery"), Verdict::FailAfter);
        assert_eq!(faults.take("StartRecovery"), Verdict::Serve);
        assert_eq!(faults.take("DescribeJobs"), Verdict::Serve);
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_str::<Faults>(r#"{"server": {}}"#).is_err());
    }
}
