//! The records contract: what the compiled machines write to the table and the API reads
//! (key formats, sort keys, status values, attribute names), defined once and used on
//! both sides instead of string literals.

/// Partition key prefix of a run's items: `EXEC#<execution name>`.
pub const EXEC_PREFIX: &str = "EXEC#";
/// Partition key prefix of an approval: `APPROVAL#<id>`.
pub const APPROVAL_PREFIX: &str = "APPROVAL#";
/// Sort key of a run's own item.
pub const EXECUTION: &str = "EXECUTION";
/// Sort key of an approval's item.
pub const APPROVAL: &str = "APPROVAL";
/// Sort key prefix of a step's progress record: `STEP#<step key>`.
pub const STEP_PREFIX: &str = "STEP#";
/// Sort key (and partition suffix) of the item holding a run's resolved servers.
pub const SERVERS: &str = "SERVERS";

/// Partition key prefix of a DRS launch job's wait item: `JOB#<job id>`. The launch
/// events machine adds each reporting source server to it; a waiting run registers its
/// task token on it. Both are conditional updates of this one item.
pub const JOB_PREFIX: &str = "JOB#";
/// Sort key of a run's DRS slot item (under `EXEC#<run>`): the task tokens of its
/// launches waiting for a slot.
pub const SLOTS: &str = "SLOTS";
/// Sort key of a launch job's wait item.
pub const LAUNCH_WAIT: &str = "LAUNCH";

/// `EXEC#<execution>`.
pub fn execution_pk(execution: &str) -> String {
    format!("{EXEC_PREFIX}{execution}")
}

/// `EXEC#<execution>#SERVERS`: the run's server list, apart from its record.
pub fn servers_pk(execution: &str) -> String {
    format!("{EXEC_PREFIX}{execution}#{SERVERS}")
}

/// `STEP#<key>`.
pub fn step_sk(key: &str) -> String {
    format!("{STEP_PREFIX}{key}")
}

/// `APPROVAL#<id>`.
pub fn approval_pk(id: &str) -> String {
    format!("{APPROVAL_PREFIX}{id}")
}

/// The execution name of a run item's partition key.
pub fn execution_of(pk: &str) -> &str {
    pk.strip_prefix(EXEC_PREFIX).unwrap_or(pk)
}

/// The step key of a step item's sort key.
pub fn step_of(sk: &str) -> &str {
    sk.strip_prefix(STEP_PREFIX).unwrap_or(sk)
}

/// The partition key as a States.Format expression over a path holding the execution
/// name (what the machines put in their DynamoDB tasks).
pub fn execution_pk_expression(path: &str) -> String {
    format!("States.Format('{EXEC_PREFIX}{{}}', {path})")
}

/// `status` of a run's item and of its steps' records.
pub mod status {
    pub const RUNNING: &str = "RUNNING";
    pub const SUCCEEDED: &str = "SUCCEEDED";
    pub const FAILED: &str = "FAILED";
    /// A group whose dependency was not met: it did not launch.
    pub const SKIPPED: &str = "SKIPPED";
    /// Waiting at a wave boundary until resumed.
    pub const PAUSED: &str = "PAUSED";
    pub const CANCELLED: &str = "CANCELLED";
    /// The run's drill clean-up failed (the run's own outcome is kept apart).
    pub const CLEANUP_FAILED: &str = "CLEANUP_FAILED";
    pub const TIMED_OUT: &str = "TIMED_OUT";
    /// A step waiting for its approval to be decided.
    pub const AWAITING_APPROVAL: &str = "AWAITING_APPROVAL";
    /// A wait step's.
    pub const WAITING: &str = "WAITING";
    /// An approval's.
    pub const PENDING: &str = "PENDING";
    pub const APPROVED: &str = "APPROVED";
    pub const REJECTED: &str = "REJECTED";
}

/// `cleanup` of a drill run's item.
pub mod cleanup {
    pub const RUNNING: &str = "RUNNING";
    /// DRS lists none of the instances the run's jobs launched.
    pub const CLEAN: &str = "CLEAN";
    pub const FAILED: &str = "FAILED";
}

/// `stage` of a group's record: how far it got.
pub mod stage {
    pub const LAUNCHED: &str = "LAUNCHED";
    pub const RUNNING: &str = "RUNNING";
    pub const HEALTHY: &str = "HEALTHY";
}

/// Attribute names both sides use.
pub mod attr {
    pub const STATUS: &str = "status";
    pub const STAGE: &str = "stage";
    pub const KIND: &str = "kind";
    pub const JOB_IDS: &str = "jobIds";
    pub const WARNINGS: &str = "warnings";
    pub const CLEANUP: &str = "cleanup";
    pub const CLEANUP_EXECUTION: &str = "cleanupExecution";
    pub const PAUSE_REQUESTED: &str = "pauseRequested";
    pub const PAUSE_TOKEN: &str = "pauseToken";
    pub const PAUSED_BEFORE: &str = "pausedBefore";
    pub const ADOPTED: &str = "adopted";
    pub const STARTED_BY: &str = "startedBy";
    pub const RERUN_OF: &str = "rerunOf";
    pub const RERUN_BY: &str = "rerunBy";
    pub const STATE_MACHINE_VERSION_ARN: &str = "stateMachineVersionArn";
    pub const POLL_SECONDS: &str = "pollSeconds";
    /// On a launch job's wait item: the task token of the run waiting for it, how many
    /// servers the job launches, and the source servers whose launch result arrived.
    pub const WAIT_TOKEN: &str = "waitToken";
    pub const EXPECTED: &str = "expected";
    pub const REPORTED: &str = "reported";
    /// On a run's slot item: the task tokens of its launches waiting for a DRS slot.
    pub const SLOT_WAITERS: &str = "slotWaiters";
}

/// The job wait item's partition key as a States.Format expression over a path holding
/// the job ID.
pub fn job_pk_expression(path: &str) -> String {
    format!("States.Format('{JOB_PREFIX}{{}}', {path})")
}

/// `kind` of a group's record.
pub const KIND_UNIT: &str = "unit";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        assert_eq!(execution_pk("run-1"), "EXEC#run-1");
        assert_eq!(execution_of(&execution_pk("run-1")), "run-1");
        assert_eq!(step_of(&step_sk("w1.db")), "w1.db");
        assert_eq!(servers_pk("run-1"), "EXEC#run-1#SERVERS");
        assert_eq!(approval_pk("a"), "APPROVAL#a");
        assert_eq!(
            execution_pk_expression("$$.Execution.Name"),
            "States.Format('EXEC#{}', $$.Execution.Name)"
        );
    }
}
