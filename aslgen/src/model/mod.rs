//! The recovery-plan document: protection groups and one recovery plan.
//!
//! Field names are camelCase in YAML and JSON; unknown fields are errors so a typo
//! (`dependOn`) is reported rather than silently ignored.

mod duration;
mod execution;
mod launch;

pub use duration::{Duration, DurationError};
pub use execution::{ExecutionInput, Mode};
pub use launch::{LaunchDisposition, LaunchSettings, Licensing, RightSizing};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// One plan file: the protection groups it uses and the plan itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanDocument {
    #[serde(default)]
    pub protection_groups: Vec<ProtectionGroup>,
    pub plan: RecoveryPlan,
}

/// A named set of DRS source servers, recovered together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProtectionGroup {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Explicit DRS source server IDs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<String>,
    /// Every tag must match (key and value) for a source server to be selected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_selector: Option<IndexMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecoveryPlan {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Target recovery time objective, reported against in drill reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto: Option<Duration>,
    /// Overrides the deployment's notification topic for this plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_topic_arn: Option<String>,
    /// Allows executions to name a point-in-time snapshot per server.
    #[serde(default)]
    pub point_in_time: bool,
    #[serde(default)]
    pub defaults: Timeouts,
    #[serde(default)]
    pub drill: DrillPolicy,
    /// DRS launch settings for every server of the plan (a group's own win).
    #[serde(default, skip_serializing_if = "LaunchSettings::is_empty")]
    pub launch_settings: LaunchSettings,
    pub waves: Vec<Wave>,
}

/// Deadlines that apply where a group does not set its own.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Timeouts {
    /// From StartRecovery until every server is LAUNCHED.
    #[serde(default = "Timeouts::default_launch")]
    pub launch_timeout: Duration,
    /// From LAUNCHED until every instance is running with status checks ok.
    #[serde(default = "Timeouts::default_running")]
    pub running_timeout: Duration,
}

impl Timeouts {
    fn default_launch() -> Duration {
        Duration::from_secs(45 * 60)
    }
    fn default_running() -> Duration {
        Duration::from_secs(20 * 60)
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            launch_timeout: Self::default_launch(),
            running_timeout: Self::default_running(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DrillPolicy {
    #[serde(default)]
    pub cleanup: DrillCleanup,
}

/// What happens to a successful drill's recovery instances. Failed drills are always
/// cleaned up at once.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum DrillCleanup {
    /// Terminate as soon as the plan ends.
    #[default]
    Immediate,
    /// Keep the instances this long, then terminate.
    After(Duration),
    /// Keep them until someone approves the end of the drill (or the approval times out).
    OnApproval(ApprovalStep),
    /// Leave them running; the operator cleans up later.
    Keep,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Wave {
    pub name: String,
    /// Steps that run before any group of this wave launches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub before: Vec<Step>,
    pub groups: Vec<WaveGroup>,
    /// Steps that run after every group of this wave has ended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<Step>,
}

/// A protection group's part in a wave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaveGroup {
    /// The protection group's id.
    pub group: String,
    #[serde(default)]
    pub criticality: Criticality,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<Dependency>,
    /// Post-launch steps, run in order on this group's recovered instances.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_timeout: Option<Duration>,
    /// Per-server settings; a server named here launches on its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<ServerOverride>,
    /// DRS launch settings for this group's servers, over the plan's.
    #[serde(default, skip_serializing_if = "LaunchSettings::is_empty")]
    pub launch_settings: LaunchSettings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerOverride {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criticality: Option<Criticality>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<Dependency>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Criticality {
    /// Failure stops the plan.
    #[default]
    Critical,
    /// Failure is recorded as a warning and the plan goes on.
    Optional,
}

/// "Wait until `group` (or `server`) is `condition`". Exactly one of group or server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Dependency {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(default)]
    pub condition: Condition,
    /// What the dependent does when the dependency ended without reaching `condition`
    /// (an optional group that failed or was skipped).
    #[serde(default, skip_serializing_if = "OnUnmet::is_skip")]
    pub on_unmet: OnUnmet,
}

/// A dependency is a promise: unmet, the dependent is skipped (and its own criticality
/// decides whether the plan goes on), unless the dependency says `proceed`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "camelCase")]
pub enum OnUnmet {
    #[default]
    Skip,
    Proceed,
}

impl OnUnmet {
    fn is_skip(&self) -> bool {
        *self == OnUnmet::Skip
    }
}

/// How far a dependency must have got. Ordered: each implies the ones before it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "camelCase")]
pub enum Condition {
    /// DRS reports every server LAUNCHED.
    Launched,
    /// Every EC2 instance is running with both status checks ok.
    #[default]
    Running,
    /// Every post-launch step of the group, its health checks included, passed.
    Healthy,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Launched => "launched",
            Condition::Running => "running",
            Condition::Healthy => "healthy",
        }
    }
}

/// A plan step. `type` selects the kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Step {
    Approval(ApprovalStep),
    Wait(WaitStep),
    Ssm(SsmStep),
    HealthCheck(HealthCheckStep),
}

impl Step {
    pub fn name(&self) -> Option<&str> {
        match self {
            Step::Approval(s) => s.name.as_deref(),
            Step::Wait(s) => s.name.as_deref(),
            Step::Ssm(s) => s.name.as_deref(),
            Step::HealthCheck(s) => s.name.as_deref(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Step::Approval(_) => "approval",
            Step::Wait(_) => "wait",
            Step::Ssm(_) => "ssm",
            Step::HealthCheck(_) => "healthCheck",
        }
    }

    /// Whether the step acts on recovered instances (and so needs them running).
    pub fn needs_instances(&self) -> bool {
        matches!(self, Step::Ssm(_) | Step::HealthCheck(_))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApprovalStep {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Cognito groups or user names allowed to decide. Empty: any member of `Approver`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvers: Vec<String>,
    #[serde(default = "ApprovalStep::default_timeout")]
    pub timeout: Duration,
    #[serde(default)]
    pub on_timeout: OnTimeout,
    /// Distinct people who must approve in RECOVERY mode (never the run's starter).
    #[serde(default = "ApprovalStep::default_quorum")]
    pub recovery_quorum: u8,
    /// Distinct people who must approve in a drill (never the run's starter).
    #[serde(
        default = "ApprovalStep::default_quorum",
        skip_serializing_if = "ApprovalStep::is_one"
    )]
    pub drill_quorum: u8,
}

impl ApprovalStep {
    fn default_timeout() -> Duration {
        Duration::from_secs(24 * 3_600)
    }
    fn default_quorum() -> u8 {
        1
    }
    fn is_one(quorum: &u8) -> bool {
        *quorum == 1
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OnTimeout {
    /// The plan fails (and a drill is cleaned up).
    #[default]
    Fail,
    /// The plan goes on as if approved.
    Continue,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaitStep {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub duration: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SsmKind {
    /// An SSM Command document, run on every recovered instance (SendCommand).
    #[default]
    Command,
    /// An SSM Automation runbook, one execution per instance (StartAutomationExecution).
    Automation,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SsmStep {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub document: String,
    #[serde(default)]
    pub kind: SsmKind,
    /// Document parameters; each value is a list of strings, as SSM expects.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub parameters: IndexMap<String, Vec<String>>,
    #[serde(default = "SsmStep::default_timeout")]
    pub timeout: Duration,
    #[serde(default)]
    pub on_failure: OnFailure,
}

impl SsmStep {
    fn default_timeout() -> Duration {
        Duration::from_secs(10 * 60)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OnFailure {
    /// The group fails (and its criticality decides what the plan does).
    #[default]
    Fail,
    /// Record a warning and go on.
    Continue,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HealthCheckStep {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub check: HealthProbe,
    /// How long the check may keep failing before the group fails.
    #[serde(default = "HealthCheckStep::default_timeout")]
    pub timeout: Duration,
}

impl HealthCheckStep {
    fn default_timeout() -> Duration {
        Duration::from_secs(10 * 60)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum HealthProbe {
    /// EC2 instance running with system and instance status checks ok.
    Ec2Status,
    /// A TCP connection to the port on every instance's private address.
    Tcp { port: u16 },
    /// An HTTP(S) GET on every instance's private address answering the expected status.
    Http(HttpProbe),
    /// An SSM Command document (e.g. an application validation script) that must succeed.
    Ssm {
        document: String,
        #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
        parameters: IndexMap<String, Vec<String>>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpProbe {
    pub port: u16,
    #[serde(default = "HttpProbe::default_path")]
    pub path: String,
    #[serde(default)]
    pub https: bool,
    #[serde(default = "HttpProbe::default_status")]
    pub expect_status: u16,
}

impl HttpProbe {
    fn default_path() -> String {
        "/".to_owned()
    }
    fn default_status() -> u16 {
        200
    }
}
