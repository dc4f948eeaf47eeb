//! The simulated DRS account: source servers, jobs, recovery instances, and how jobs
//! move on in time (see `clock`). Pure state; EC2 work is handed to the caller.

use crate::clock::{Clock, SimMillis, iso};
use crate::events::LaunchResult;
use crate::faults::{Faults, LaunchFault};
use aslgen::Inventory;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// How long things take in DRS, in seconds (run `speed` times faster; see `clock`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Timing {
    /// PENDING → STARTED.
    pub start_after: f64,
    /// From job creation to a server's LAUNCHED.
    pub launch_seconds: f64,
    /// Each server's launch takes up to this fraction longer (deterministic per server).
    pub jitter: f64,
    /// From TerminateRecoveryInstances to the job's COMPLETED.
    pub terminate_seconds: f64,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            start_after: 5.0,
            launch_seconds: 240.0,
            jitter: 0.1,
            terminate_seconds: 60.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaunchStatus {
    Pending,
    InProgress,
    Launched,
    Failed,
    Terminated,
}

impl LaunchStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LaunchStatus::Pending => "PENDING",
            LaunchStatus::InProgress => "IN_PROGRESS",
            LaunchStatus::Launched => "LAUNCHED",
            LaunchStatus::Failed => "FAILED",
            LaunchStatus::Terminated => "TERMINATED",
        }
    }
    fn is_final(self) -> bool {
        matches!(
            self,
            LaunchStatus::Launched | LaunchStatus::Failed | LaunchStatus::Terminated
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Pending,
    Started,
    Completed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "PENDING",
            JobStatus::Started => "STARTED",
            JobStatus::Completed => "COMPLETED",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Launch { drill: bool },
    Failback,
    Terminate,
}

#[derive(Debug, Clone)]
pub struct JobServer {
    pub source: String,
    pub recovery_instance: Option<String>,
    pub status: LaunchStatus,
    pub due: SimMillis,
    pub fault: Option<LaunchFault>,
    /// EC2 work for this server has been handed out and not yet answered.
    pub ec2_requested: bool,
}

#[derive(Debug, Clone)]
pub struct LogItem {
    pub at: SimMillis,
    pub event: &'static str,
    pub source: Option<String>,
    pub target: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub kind: JobKind,
    pub created: SimMillis,
    pub ended: Option<SimMillis>,
    pub status: JobStatus,
    pub servers: Vec<JobServer>,
    pub tags: IndexMap<String, String>,
    pub log: Vec<LogItem>,
}

impl Job {
    pub fn is_active(&self) -> bool {
        self.status != JobStatus::Completed
    }
}

#[derive(Debug, Clone)]
pub struct LastLaunch {
    pub at: SimMillis,
    pub job: String,
    pub drill: bool,
}

#[derive(Debug, Clone)]
pub struct SourceServer {
    pub id: String,
    pub hostname: String,
    pub tags: IndexMap<String, String>,
    pub replication_state: String,
    pub lag_seconds: u64,
    pub last_launch: Option<LastLaunch>,
    pub recovery_instance: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RecoveryInstance {
    pub id: String,
    pub source: String,
    pub job: String,
    pub drill: bool,
    pub private_ip: String,
    pub tags: IndexMap<String, String>,
    pub terminating: bool,
}

/// EC2 work the simulator must do in the emulator, outside the state lock.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Work {
    /// (job id, source server IDs) to create instances for.
    pub launches: Vec<(String, Vec<String>)>,
    /// (job id, EC2 instance IDs) to terminate.
    pub terminations: Vec<(String, Vec<String>)>,
}

/// One call the simulator answered, for tests and the local console.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Call {
    pub seq: u64,
    pub service: String,
    pub operation: String,
    pub status: u16,
    /// Real milliseconds since the simulator started.
    pub at_ms: u64,
    /// When, as the simulator stamps its events (the wall clock).
    pub sim_time: String,
    #[serde(skip_serializing_if = "Value::is_null")]
    pub request: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
}

pub struct World {
    pub clock: Clock,
    pub timing: Timing,
    pub account: String,
    pub region: String,
    pub servers: IndexMap<String, SourceServer>,
    pub jobs: Vec<Job>,
    pub instances: IndexMap<String, RecoveryInstance>,
    pub faults: Faults,
    pub calls: Vec<Call>,
    /// Post-launch actions by resource (`lct-…` or `s-…`), then by action id.
    pub launch_actions: IndexMap<String, IndexMap<String, Value>>,
    /// Launch settings by source server, once read or changed (defaults until then).
    pub launch_configs: IndexMap<String, crate::launch_config::LaunchConfig>,
    /// EC2 launch template IDs by source server, once created in the emulator.
    pub templates: IndexMap<String, String>,
    /// Launch results not yet put on the event bus.
    pub launch_results: Vec<LaunchResult>,
    job_seq: u64,
}

impl World {
    pub fn new(clock: Clock, timing: Timing, inventory: &Inventory) -> Self {
        let mut world = Self {
            clock,
            timing,
            account: "123456789012".into(),
            region: "us-east-1".into(),
            servers: IndexMap::new(),
            jobs: Vec::new(),
            instances: IndexMap::new(),
            faults: Faults::default(),
            calls: Vec::new(),
            launch_actions: IndexMap::new(),
            launch_configs: IndexMap::new(),
            templates: IndexMap::new(),
            launch_results: Vec::new(),
            job_seq: 0,
        };
        world.load_fleet(inventory);
        world
    }

    pub fn load_fleet(&mut self, inventory: &Inventory) {
        for s in &inventory.servers {
            self.servers.insert(
                s.id.clone(),
                SourceServer {
                    id: s.id.clone(),
                    hostname: s.hostname.clone(),
                    tags: s.tags.clone(),
                    replication_state: s.replication_state.clone(),
                    lag_seconds: s.lag_seconds,
                    last_launch: None,
                    recovery_instance: None,
                },
            );
        }
    }

    /// Forgets jobs, instances, calls and faults; keeps the fleet.
    pub fn reset(&mut self) {
        self.jobs.clear();
        self.instances.clear();
        self.calls.clear();
        self.launch_results.clear();
        self.faults = Faults::default();
        for server in self.servers.values_mut() {
            server.last_launch = None;
            server.recovery_instance = None;
        }
    }

    pub fn arn(&self, resource: &str) -> String {
        format!("arn:aws:drs:{}:{}:{resource}", self.region, self.account)
    }

    pub fn new_job(
        &mut self,
        kind: JobKind,
        sources: Vec<(String, Option<String>)>,
        tags: IndexMap<String, String>,
    ) -> &Job {
        self.job_seq += 1;
        let id = format!("drsjob-{:017x}", 0x1_0000_0000u64 + self.job_seq);
        let now = self.clock.now();
        let base = match kind {
            JobKind::Terminate => self.timing.terminate_seconds,
            JobKind::Launch { .. } | JobKind::Failback => self.timing.launch_seconds,
        };
        let servers = sources
            .into_iter()
            .map(|(source, recovery_instance)| {
                let fault = self.faults.servers.get(&source).copied();
                let factor = match fault {
                    Some(f) if f.launch == LaunchFault::Slow => f.slow_factor.max(1.0),
                    _ => 1.0,
                };
                let jitter = 1.0 + self.timing.jitter * spread(&source);
                JobServer {
                    due: now + self.clock.span(base * factor * jitter),
                    fault: fault.map(|f| f.launch),
                    source,
                    recovery_instance,
                    status: LaunchStatus::Pending,
                    ec2_requested: false,
                }
            })
            .collect::<Vec<_>>();
        if let JobKind::Launch { drill } = kind {
            for server in &servers {
                if let Some(s) = self.servers.get_mut(&server.source) {
                    s.last_launch = Some(LastLaunch {
                        at: now,
                        job: id.clone(),
                        drill,
                    });
                }
            }
        }
        let log = vec![LogItem {
            at: now,
            event: "JOB_START",
            source: None,
            target: None,
        }];
        self.jobs.push(Job {
            id,
            kind,
            created: now,
            ended: None,
            status: JobStatus::Pending,
            servers,
            tags,
            log,
        });
        self.jobs.last().expect("just pushed")
    }

    /// Moves every job on to now; returns the EC2 work now due.
    pub fn advance(&mut self) -> Work {
        let now = self.clock.now();
        let start_after = self.clock.span(self.timing.start_after);
        let mut work = Work::default();
        for job in self.jobs.iter_mut().filter(|j| j.is_active()) {
            if job.status == JobStatus::Pending && now >= job.created + start_after {
                job.status = JobStatus::Started;
                for server in &mut job.servers {
                    server.status = LaunchStatus::InProgress;
                }
                let event = if job.kind == JobKind::Terminate {
                    "CLEANUP_START"
                } else {
                    "CONVERSION_START"
                };
                job.log.push(LogItem {
                    at: now,
                    event,
                    source: None,
                    target: None,
                });
            }
            if job.status != JobStatus::Started {
                continue;
            }
            let mut launch = Vec::new();
            let mut terminate = Vec::new();
            for server in &mut job.servers {
                if server.status.is_final() || server.ec2_requested || now < server.due {
                    continue;
                }
                match (job.kind, server.fault) {
                    (_, Some(LaunchFault::Stuck)) => {}
                    (JobKind::Launch { .. } | JobKind::Failback, Some(LaunchFault::Fail)) => {
                        server.status = LaunchStatus::Failed;
                        if matches!(job.kind, JobKind::Launch { .. }) {
                            self.launch_results.push(LaunchResult {
                                job: job.id.clone(),
                                source_server: server.source.clone(),
                                launched: false,
                            });
                        }
                        job.log.push(LogItem {
                            at: now,
                            event: "LAUNCH_FAILED",
                            source: Some(server.source.clone()),
                            target: None,
                        });
                    }
                    (JobKind::Launch { .. } | JobKind::Failback, _) => {
                        server.ec2_requested = true;
                        launch.push(server.source.clone());
                    }
                    (JobKind::Terminate, _) => {
                        server.ec2_requested = true;
                        terminate.extend(server.recovery_instance.clone());
                    }
                }
            }
            if !launch.is_empty() {
                work.launches.push((job.id.clone(), launch));
            }
            if !terminate.is_empty() {
                work.terminations.push((job.id.clone(), terminate));
            }
            finish_if_done(job, now);
        }
        work
    }

    /// Records instances the emulator created for a job's servers.
    pub fn launched(&mut self, job_id: &str, created: Vec<(String, String, String)>) {
        let now = self.clock.now();
        let Some(job) = self.jobs.iter_mut().find(|j| j.id == job_id) else {
            return;
        };
        let drill = matches!(job.kind, JobKind::Launch { drill: true });
        for (source, ec2_id, ip) in created {
            if let Some(server) = job.servers.iter_mut().find(|s| s.source == source) {
                server.status = LaunchStatus::Launched;
                server.recovery_instance = Some(ec2_id.clone());
                server.ec2_requested = false;
            }
            if matches!(job.kind, JobKind::Launch { .. }) {
                self.launch_results.push(LaunchResult {
                    job: job.id.clone(),
                    source_server: source.clone(),
                    launched: true,
                });
            }
            job.log.push(LogItem {
                at: now,
                event: "LAUNCH_START",
                source: Some(source.clone()),
                target: Some(ec2_id.clone()),
            });
            if let Some(s) = self.servers.get_mut(&source) {
                s.recovery_instance = Some(ec2_id.clone());
            }
            self.instances.insert(
                ec2_id.clone(),
                RecoveryInstance {
                    id: ec2_id,
                    source,
                    job: job.id.clone(),
                    drill,
                    private_ip: ip,
                    tags: IndexMap::new(),
                    terminating: false,
                },
            );
        }
        finish_if_done(job, now);
    }

    /// Marks servers whose EC2 launch failed in the emulator.
    pub fn launch_failed(&mut self, job_id: &str, sources: &[String], reason: &str) {
        let now = self.clock.now();
        let Some(job) = self.jobs.iter_mut().find(|j| j.id == job_id) else {
            return;
        };
        for server in job
            .servers
            .iter_mut()
            .filter(|s| sources.contains(&s.source))
        {
            server.status = LaunchStatus::Failed;
            server.ec2_requested = false;
            if matches!(job.kind, JobKind::Launch { .. }) {
                self.launch_results.push(LaunchResult {
                    job: job.id.clone(),
                    source_server: server.source.clone(),
                    launched: false,
                });
            }
        }
        job.log.push(LogItem {
            at: now,
            event: "LAUNCH_FAILED",
            source: None,
            target: Some(reason.to_owned()),
        });
        finish_if_done(job, now);
    }

    /// Records instances the emulator terminated.
    pub fn terminated(&mut self, job_id: &str, ec2_ids: &[String]) {
        let now = self.clock.now();
        for id in ec2_ids {
            if let Some(instance) = self.instances.shift_remove(id)
                && let Some(s) = self.servers.get_mut(&instance.source)
                && s.recovery_instance.as_deref() == Some(id.as_str())
            {
                s.recovery_instance = None;
            }
        }
        let Some(job) = self.jobs.iter_mut().find(|j| j.id == job_id) else {
            return;
        };
        for server in &mut job.servers {
            if server
                .recovery_instance
                .as_ref()
                .is_some_and(|r| ec2_ids.contains(r))
            {
                server.status = LaunchStatus::Terminated;
                server.ec2_requested = false;
            }
        }
        finish_if_done(job, now);
    }

    pub fn job_json(&self, job: &Job) -> Value {
        let (kind, initiated_by) = match job.kind {
            JobKind::Launch { drill: true } => ("LAUNCH", "START_DRILL"),
            JobKind::Launch { drill: false } => ("LAUNCH", "START_RECOVERY"),
            JobKind::Failback => ("LAUNCH", "FAILBACK"),
            JobKind::Terminate => ("TERMINATE", "TERMINATE_RECOVERY_INSTANCES"),
        };
        let servers: Vec<Value> = job
            .servers
            .iter()
            .map(|s| {
                let mut v = json!({"sourceServerID": s.source, "launchStatus": s.status.as_str()});
                if let Some(r) = &s.recovery_instance {
                    v["recoveryInstanceID"] = json!(r);
                }
                v
            })
            .collect();
        let mut v = json!({
            "jobID": job.id,
            "arn": self.arn(&format!("job/{}", job.id)),
            "type": kind,
            "initiatedBy": initiated_by,
            "creationDateTime": iso(job.created),
            "status": job.status.as_str(),
            "participatingServers": servers,
            "tags": job.tags,
        });
        if let Some(ended) = job.ended {
            v["endDateTime"] = json!(iso(ended));
        }
        v
    }
}

fn finish_if_done(job: &mut Job, now: SimMillis) {
    if job.status == JobStatus::Started && job.servers.iter().all(|s| s.status.is_final()) {
        job.status = JobStatus::Completed;
        job.ended = Some(now);
        job.log.push(LogItem {
            at: now,
            event: "JOB_END",
            source: None,
            target: None,
        });
    }
}

impl World {
    /// Test support: `n` launch jobs of another account user, each holding one of DRS's
    /// concurrent job slots and making no progress until [`World::release`].
    pub fn hold_slots(&mut self, n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                let source = format!("s-held{:012x}", i);
                let mut tags = IndexMap::new();
                tags.insert("heldBy".to_owned(), "another team".to_owned());
                let id = self
                    .new_job(JobKind::Launch { drill: true }, vec![(source, None)], tags)
                    .id
                    .clone();
                if let Some(job) = self.jobs.iter_mut().find(|j| j.id == id) {
                    for server in &mut job.servers {
                        server.fault = Some(LaunchFault::Stuck);
                    }
                }
                id
            })
            .collect()
    }

    /// Ends held jobs (their launches fail): the slots are free again.
    pub fn release(&mut self, job_ids: &[String]) {
        let now = self.clock.now();
        for job in self.jobs.iter_mut().filter(|j| job_ids.contains(&j.id)) {
            for server in &mut job.servers {
                server.status = LaunchStatus::Failed;
            }
            job.status = JobStatus::Started;
            finish_if_done(job, now);
        }
    }
}

/// A stable number in [0, 1) from a server ID, so jitter repeats run to run.
fn spread(id: &str) -> f64 {
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % 10_000) as f64 / 10_000.0
}
