//! What an execution of a compiled plan takes as input.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Mode {
    /// Launch drill instances; replication goes on; cleaned up afterwards.
    #[default]
    Drill,
    /// A real recovery.
    Recovery,
}

/// The execution input of every compiled machine. Every field has a default, so `{}`
/// starts a drill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecutionInput {
    #[serde(default)]
    pub mode: Mode,
    /// Seconds between polls of DRS, EC2 and SSM. 0 polls back to back (tests).
    #[serde(default = "ExecutionInput::default_poll")]
    pub poll_seconds: u32,
    /// Point-in-time snapshot per source server (plans with `pointInTime: true`).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub snapshots: IndexMap<String, String>,
    /// When the caller started the execution, in Unix seconds. Approval records expire
    /// (DynamoDB TTL) a retention period after their deadline counted from here. Without
    /// it the expiry lands in 1970, which TTL ignores (over five years past), so the
    /// record is kept.
    #[serde(default)]
    pub started_at_epoch: u32,
}

impl ExecutionInput {
    pub const MAX_POLL_SECONDS: u32 = 3_600;
    /// `States.MathAdd` takes 32-bit signed integers: leave room for the longest
    /// approval timeout (half a year) and the retention.
    pub const MAX_STARTED_AT_EPOCH: u32 =
        i32::MAX as u32 - Self::APPROVAL_RETENTION_SECONDS - 200 * 24 * 3_600;
    /// How long an approval record outlives its deadline (audit), before TTL removes it.
    pub const APPROVAL_RETENTION_SECONDS: u32 = 90 * 24 * 3_600;

    fn default_poll() -> u32 {
        30
    }
}

impl Default for ExecutionInput {
    fn default() -> Self {
        Self {
            mode: Mode::Drill,
            poll_seconds: Self::default_poll(),
            snapshots: IndexMap::new(),
            started_at_epoch: 0,
        }
    }
}
