//! DRS source servers, behind a trait: the real `aws-sdk-drs` client (every page).

use crate::error::ApiError;
use async_trait::async_trait;
use serde::Serialize;

pub type Tags = std::collections::BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceServer {
    pub id: String,
    pub hostname: String,
    pub tags: Tags,
    pub replication_state: String,
    pub lag_seconds: u64,
    /// DRS's launch status of the server's last launch, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_launch: Option<String>,
}

impl SourceServer {
    pub fn matches(&self, selector: &Tags) -> bool {
        !selector.is_empty() && selector.iter().all(|(k, v)| self.tags.get(k) == Some(v))
    }
}

#[async_trait]
pub trait SourceServers: Send + Sync {
    async fn list(&self) -> Result<Vec<SourceServer>, ApiError>;
    /// Terminates recovery instances; returns the DRS job IDs.
    async fn terminate(&self, instances: &[String]) -> Result<Vec<String>, ApiError>;
    /// The drill recovery instances that still exist among those launched by one run's
    /// jobs: jobs tagged with the run's execution name (created since `since`, ISO 8601)
    /// and the jobs its records name. Never another run's.
    async fn run_drill_instances(
        &self,
        execution: &str,
        since: &str,
        recorded_jobs: &[String],
    ) -> Result<Vec<String>, ApiError>;
    /// The launch jobs of one run: tagged with its execution name (created since `since`,
    /// ISO 8601) or named in its records.
    async fn run_jobs(
        &self,
        execution: &str,
        since: &str,
        recorded_jobs: &[String],
    ) -> Result<Vec<String>, ApiError>;
    /// Of the recovery instances these jobs launched: how many, and how many DRS still
    /// lists and is not terminating (what a re-run may adopt).
    async fn launched_alive(&self, job_ids: &[String]) -> Result<(usize, usize), ApiError>;
    /// (active jobs, servers in active jobs), for the pre-flight quota check.
    async fn active_load(&self) -> Result<(usize, usize), ApiError>;
    /// A DRS job's log: `{at, event, sourceServerId?, targetInstanceId?}` items.
    async fn job_log(&self, job_id: &str) -> Result<Vec<serde_json::Value>, ApiError>;
    /// Recovery instances of these source servers, drills and recoveries alike.
    async fn recovery_instances(
        &self,
        servers: &[String],
    ) -> Result<Vec<serde_json::Value>, ApiError>;
}

pub struct Drs(pub aws_sdk_drs::Client);

/// `PT1800S`, `PT1H2M3S`, `P1DT2H` → seconds; anything else → 0.
pub fn iso_duration_seconds(text: &str) -> u64 {
    let Some(rest) = text.strip_prefix('P') else {
        return 0;
    };
    let mut total = 0u64;
    let mut number = String::new();
    let mut in_time = false;
    for c in rest.chars() {
        match c {
            'T' => in_time = true,
            '0'..='9' | '.' => number.push(c),
            unit => {
                let value = number.parse::<f64>().unwrap_or(0.0) as u64;
                number.clear();
                total += value
                    * match (unit, in_time) {
                        ('D', false) => 86_400,
                        ('W', false) => 604_800,
                        ('H', true) => 3_600,
                        ('M', true) => 60,
                        ('S', true) => 1,
                        _ => 0,
                    };
            }
        }
    }
    total
}

#[async_trait]
impl SourceServers for Drs {
    async fn list(&self) -> Result<Vec<SourceServer>, ApiError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .0
                .describe_source_servers()
                .max_results(1_000)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| {
                    ApiError::unavailable("DRS", format!("DescribeSourceServers: {e:?}"))
                })?;
            for s in page.items() {
                let Some(id) = s.source_server_id() else {
                    continue;
                };
                let replication = s.data_replication_info();
                out.push(SourceServer {
                    id: id.to_owned(),
                    hostname: s
                        .source_properties()
                        .and_then(|p| p.identification_hints())
                        .and_then(|h| h.hostname())
                        .unwrap_or_default()
                        .to_owned(),
                    tags: s
                        .tags()
                        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default(),
                    replication_state: replication
                        .and_then(|r| r.data_replication_state())
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                    lag_seconds: replication
                        .and_then(|r| r.lag_duration())
                        .map(iso_duration_seconds)
                        .unwrap_or(0),
                    last_launch: s
                        .life_cycle()
                        .and_then(|l| l.last_launch())
                        .and_then(|l| l.status())
                        .map(|s| s.as_str().to_owned()),
                });
            }
            token = page.next_token;
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    async fn terminate(&self, instances: &[String]) -> Result<Vec<String>, ApiError> {
        let mut jobs = Vec::new();
        for chunk in instances.chunks(200) {
            let out = self
                .0
                .terminate_recovery_instances()
                .set_recovery_instance_ids(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| drs_error("TerminateRecoveryInstances", e.into_service_error()))?;
            jobs.extend(out.job().map(|j| j.job_id().to_owned()));
        }
        Ok(jobs)
    }

    async fn run_drill_instances(
        &self,
        execution: &str,
        since: &str,
        recorded_jobs: &[String],
    ) -> Result<Vec<String>, ApiError> {
        let launched: Vec<String> = self
            .jobs_of_run(execution, since, recorded_jobs)
            .await?
            .iter()
            .flat_map(|job| job.participating_servers())
            .filter_map(|s| s.recovery_instance_id().map(str::to_owned))
            .collect();
        self.existing_drill_instances(&launched).await
    }

    async fn run_jobs(
        &self,
        execution: &str,
        since: &str,
        recorded_jobs: &[String],
    ) -> Result<Vec<String>, ApiError> {
        Ok(self
            .jobs_of_run(execution, since, recorded_jobs)
            .await?
            .iter()
            .map(|job| job.job_id().to_owned())
            .collect())
    }

    async fn launched_alive(&self, job_ids: &[String]) -> Result<(usize, usize), ApiError> {
        use aws_sdk_drs::types::{DescribeJobsRequestFilters, LaunchStatus};
        let mut launched = Vec::new();
        for chunk in job_ids.chunks(100) {
            let filters = DescribeJobsRequestFilters::builder()
                .set_job_ids(Some(chunk.to_vec()))
                .build();
            launched.extend(
                self.all_jobs(filters)
                    .await?
                    .iter()
                    .flat_map(|job| job.participating_servers())
                    .filter(|s| s.launch_status() == Some(&LaunchStatus::Launched))
                    .filter_map(|s| s.recovery_instance_id().map(str::to_owned)),
            );
        }
        let alive = self.existing_instances(&launched, false).await?;
        Ok((launched.len(), alive.len()))
    }

    async fn job_log(&self, job_id: &str) -> Result<Vec<serde_json::Value>, ApiError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .0
                .describe_job_log_items()
                .job_id(job_id)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| drs_error("DescribeJobLogItems", e.into_service_error()))?;
            for item in page.items() {
                let data = item.event_data();
                out.push(serde_json::json!({
                    "at": item.log_date_time(),
                    "event": item.event().map(|e| e.as_str()),
                    "sourceServerId": data.and_then(|d| d.source_server_id()),
                    "targetInstanceId": data.and_then(|d| d.target_instance_id()),
                }));
            }
            token = page.next_token;
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    async fn recovery_instances(
        &self,
        servers: &[String],
    ) -> Result<Vec<serde_json::Value>, ApiError> {
        let mut out = Vec::new();
        for chunk in servers.chunks(200) {
            let page = self
                .0
                .describe_recovery_instances()
                .filters(
                    aws_sdk_drs::types::DescribeRecoveryInstancesRequestFilters::builder()
                        .set_source_server_ids(Some(chunk.to_vec()))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| drs_error("DescribeRecoveryInstances", e.into_service_error()))?;
            out.extend(page.items().iter().map(|r| {
                serde_json::json!({
                    "recoveryInstanceId": r.recovery_instance_id(),
                    "sourceServerId": r.source_server_id(),
                    "ec2InstanceId": r.ec2_instance_id(),
                    "ec2InstanceState": r.ec2_instance_state().map(|s| s.as_str()),
                    "jobId": r.job_id(),
                    "isDrill": r.is_drill(),
                })
            }));
        }
        Ok(out)
    }

    async fn active_load(&self) -> Result<(usize, usize), ApiError> {
        let mut jobs = 0;
        let mut servers = 0;
        let mut token = None;
        loop {
            let page = self
                .0
                .describe_jobs()
                .max_results(1_000)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| drs_error("DescribeJobs", e.into_service_error()))?;
            for job in page.items() {
                if job.status().map(|s| s.as_str()) != Some("COMPLETED") {
                    jobs += 1;
                    servers += job.participating_servers().len();
                }
            }
            token = page.next_token;
            if token.is_none() {
                return Ok((jobs, servers));
            }
        }
    }
}

pub(crate) fn drs_error(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::unavailable("DRS", format!("{what}: {e}"))
}

impl Drs {
    /// Every job tagged with `execution` (created since `since`) or named in
    /// `recorded_jobs`, in pages.
    async fn jobs_of_run(
        &self,
        execution: &str,
        since: &str,
        recorded_jobs: &[String],
    ) -> Result<Vec<aws_sdk_drs::types::Job>, ApiError> {
        use aws_sdk_drs::types::DescribeJobsRequestFilters;
        let tag = aslgen::compile::TAG_EXECUTION;
        let jobs = self
            .all_jobs(
                DescribeJobsRequestFilters::builder()
                    .from_date(since)
                    .build(),
            )
            .await?;
        Ok(jobs
            .into_iter()
            .filter(|job| {
                job.tags().and_then(|t| t.get(tag)).map(String::as_str) == Some(execution)
                    || recorded_jobs.iter().any(|j| j == job.job_id())
            })
            .collect())
    }

    /// Every page of DescribeJobs for one filter.
    async fn all_jobs(
        &self,
        filters: aws_sdk_drs::types::DescribeJobsRequestFilters,
    ) -> Result<Vec<aws_sdk_drs::types::Job>, ApiError> {
        let mut jobs = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .0
                .describe_jobs()
                .filters(filters.clone())
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| drs_error("DescribeJobs", e.into_service_error()))?;
            token = page.next_token.clone();
            jobs.extend(page.items.unwrap_or_default());
            if token.is_none() {
                return Ok(jobs);
            }
        }
    }

    /// Which of these recovery instances still exist as drill instances.
    async fn existing_drill_instances(&self, ids: &[String]) -> Result<Vec<String>, ApiError> {
        self.existing_instances(ids, true).await
    }

    /// Those of `ids` DRS still lists and is not terminating (drill instances only, when
    /// `drill_only`).
    async fn existing_instances(
        &self,
        ids: &[String],
        drill_only: bool,
    ) -> Result<Vec<String>, ApiError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(200) {
            let mut token = None;
            loop {
                let page = self
                    .0
                    .describe_recovery_instances()
                    .filters(
                        aws_sdk_drs::types::DescribeRecoveryInstancesRequestFilters::builder()
                            .set_recovery_instance_ids(Some(chunk.to_vec()))
                            .build(),
                    )
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(|e| drs_error("DescribeRecoveryInstances", e.into_service_error()))?;
                out.extend(
                    page.items()
                        .iter()
                        .filter(|r| !drill_only || r.is_drill() == Some(true))
                        .filter(|r| {
                            !matches!(
                                r.ec2_instance_state().map(|s| s.as_str()),
                                Some("SHUTTING-DOWN" | "TERMINATED" | "NOT_FOUND")
                            )
                        })
                        .filter_map(|r| r.recovery_instance_id().map(str::to_owned)),
                );
                token = page.next_token;
                if token.is_none() {
                    break;
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_durations() {
        assert_eq!(iso_duration_seconds("PT1800S"), 1_800);
        assert_eq!(iso_duration_seconds("P1DT1H1M1S"), 90_061);
        assert_eq!(iso_duration_seconds("garbage"), 0);
    }
}
