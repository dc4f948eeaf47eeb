//! The DRS operations, over the simulated world. Requests and responses are DRS's
//! restJson1 documents (camelCase members), exactly as the SDKs send and read them.

use crate::clock::{iso, parse_iso};
use crate::error::DrsError;
use crate::world::{JobKind, JobStatus, World};
use crate::{launch_actions, launch_config};
use indexmap::IndexMap;
use serde_json::{Value, json};

/// DRS quotas the simulator enforces.
pub const MAX_SERVERS_PER_JOB: usize = 100;
pub const MAX_CONCURRENT_JOBS: usize = 20;
pub const MAX_SERVERS_IN_ACTIVE_JOBS: usize = 500;

pub const OPERATIONS: [&str; 15] = [
    "DescribeSourceServers",
    "StartRecovery",
    "DescribeJobs",
    "DescribeJobLogItems",
    "DescribeRecoveryInstances",
    "TerminateRecoveryInstances",
    "ReverseReplication",
    "StartFailbackLaunch",
    "TagResource",
    "ListTagsForResource",
    "GetLaunchConfiguration",
    "UpdateLaunchConfiguration",
    "PutLaunchAction",
    "ListLaunchActions",
    "DeleteLaunchAction",
];

/// Answers one operation. `resource_arn` is the URI label of the tag operations.
pub fn handle(
    world: &mut World,
    operation: &str,
    body: &Value,
    resource_arn: Option<&str>,
) -> Result<Value, DrsError> {
    match operation {
        "DescribeSourceServers" => describe_source_servers(world, body),
        "StartRecovery" => start_recovery(world, body),
        "DescribeJobs" => describe_jobs(world, body),
        "DescribeJobLogItems" => describe_job_log_items(world, body),
        "DescribeRecoveryInstances" => describe_recovery_instances(world, body),
        "TerminateRecoveryInstances" => terminate_recovery_instances(world, body),
        "ReverseReplication" => reverse_replication(world, body),
        "StartFailbackLaunch" => start_failback_launch(world, body),
        "TagResource" => tag_resource(world, resource_arn.unwrap_or_default(), body),
        "ListTagsForResource" => list_tags(world, resource_arn.unwrap_or_default()),
        "GetLaunchConfiguration" => launch_config::get(world, body),
        "UpdateLaunchConfiguration" => launch_config::update(world, body),
        "PutLaunchAction" => launch_actions::put(world, body),
        "ListLaunchActions" => launch_actions::list(world, body),
        "DeleteLaunchAction" => launch_actions::delete(world, body),
        other => Err(DrsError::Validation(format!("unknown operation `{other}`"))),
    }
}

fn strings(body: &Value, path: &[&str]) -> Result<Option<Vec<String>>, DrsError> {
    let mut value = body;
    for key in path {
        match value.get(key) {
            Some(v) => value = v,
            None => return Ok(None),
        }
    }
    let name = path.join(".");
    let items = value
        .as_array()
        .ok_or_else(|| DrsError::Validation(format!("`{name}` must be a list of strings")))?;
    items
        .iter()
        .map(|v| {
            v.as_str().map(str::to_owned).ok_or_else(|| {
                DrsError::Validation(format!("`{name}` must be a list of strings, not {v}"))
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn string<'a>(body: &'a Value, key: &str) -> Result<&'a str, DrsError> {
    body.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| DrsError::Validation(format!("`{key}` is required and must be a string")))
}

fn tags(body: &Value) -> Result<IndexMap<String, String>, DrsError> {
    match body.get("tags") {
        None | Some(Value::Null) => Ok(IndexMap::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v.as_str() {
                Some(s) => Ok((k.clone(), s.to_owned())),
                None => Err(DrsError::Validation(format!(
                    "tag `{k}` must have a string value, not {v}"
                ))),
            })
            .collect(),
        Some(other) => Err(DrsError::Validation(format!(
            "`tags` must be a map of strings, not {other}"
        ))),
    }
}

/// One page of `items` after `nextToken` (an offset), at most `maxResults` long.
fn page(items: Vec<Value>, body: &Value) -> Result<Value, DrsError> {
    let start = match body.get("nextToken").and_then(Value::as_str) {
        None | Some("") => 0,
        Some(token) => token
            .parse::<usize>()
            .map_err(|_| DrsError::Validation(format!("invalid nextToken `{token}`")))?,
    };
    let size = match body.get("maxResults") {
        None | Some(Value::Null) => 1_000,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=1_000).contains(&n) => n as usize,
            _ => {
                return Err(DrsError::Validation(format!(
                    "maxResults `{v}` must be from 1 to 1000"
                )));
            }
        },
    };
    let total = items.len();
    let items: Vec<Value> = items.into_iter().skip(start).take(size).collect();
    let mut out = json!({ "items": items });
    if start + size < total {
        out["nextToken"] = json!((start + size).to_string());
    }
    Ok(out)
}

fn describe_source_servers(world: &World, body: &Value) -> Result<Value, DrsError> {
    let ids = strings(body, &["filters", "sourceServerIDs"])?;
    let items = world
        .servers
        .values()
        .filter(|s| ids.as_ref().is_none_or(|ids| ids.contains(&s.id)))
        .map(|s| {
            let mut item = json!({
                "sourceServerID": s.id,
                "arn": world.arn(&format!("source-server/{}", s.id)),
                "tags": s.tags,
                "dataReplicationInfo": {
                    "dataReplicationState": s.replication_state,
                    "lagDuration": format!("PT{}S", s.lag_seconds),
                },
                "sourceProperties": {"identificationHints": {"hostname": s.hostname}},
                "replicationDirection": "FAILOVER",
                "lifeCycle": {"addedToServiceDateTime": iso(0)},
            });
            if let Some(last) = &s.last_launch {
                let status = world
                    .jobs
                    .iter()
                    .find(|j| j.id == last.job)
                    .and_then(|j| j.servers.iter().find(|x| x.source == s.id))
                    .map(|x| x.status.as_str())
                    .unwrap_or("PENDING");
                item["lifeCycle"]["lastLaunch"] = json!({
                    "initiated": {
                        "apiCallDateTime": iso(last.at),
                        "jobID": last.job,
                        "type": if last.drill { "DRILL" } else { "RECOVERY" },
                    },
                    "status": status,
                });
            }
            if let Some(r) = &s.recovery_instance {
                item["recoveryInstanceId"] = json!(r);
            }
            item
        })
        .collect();
    page(items, body)
}

fn start_recovery(world: &mut World, body: &Value) -> Result<Value, DrsError> {
    let requested = body
        .get("sourceServers")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            DrsError::Validation("`sourceServers` is required and must be a list".into())
        })?;
    if requested.is_empty() {
        return Err(DrsError::Validation(
            "`sourceServers` must not be empty".into(),
        ));
    }
    let mut ids: Vec<String> = Vec::new();
    for entry in requested {
        let id = entry
            .get("sourceServerID")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                DrsError::Validation(format!(
                    "each source server needs a `sourceServerID`, got {entry}"
                ))
            })?;
        if !world.servers.contains_key(id) {
            return Err(DrsError::Validation(format!(
                "source server `{id}` does not exist"
            )));
        }
        if ids.iter().any(|x| x == id) {
            return Err(DrsError::Validation(format!(
                "source server `{id}` is listed twice"
            )));
        }
        ids.push(id.to_owned());
    }
    if ids.len() > MAX_SERVERS_PER_JOB {
        return Err(DrsError::QuotaExceeded {
            message: format!(
                "{} source servers in one job; the quota is {MAX_SERVERS_PER_JOB}",
                ids.len()
            ),
            quota_code: "L-SERVERS-PER-JOB",
        });
    }
    let active: Vec<_> = world.jobs.iter().filter(|j| j.is_active()).collect();
    for job in &active {
        if let Some(server) = job.servers.iter().find(|s| ids.contains(&s.source)) {
            return Err(DrsError::Conflict {
                message: format!(
                    "source server `{}` is already in active job `{}`",
                    server.source, job.id
                ),
                resource_id: server.source.clone(),
            });
        }
    }
    if active.len() >= MAX_CONCURRENT_JOBS {
        return Err(DrsError::QuotaExceeded {
            message: format!(
                "{} jobs are active; the quota is {MAX_CONCURRENT_JOBS}",
                active.len()
            ),
            quota_code: "L-CONCURRENT-JOBS",
        });
    }
    let busy: usize = active.iter().map(|j| j.servers.len()).sum();
    if busy + ids.len() > MAX_SERVERS_IN_ACTIVE_JOBS {
        return Err(DrsError::QuotaExceeded {
            message: format!(
                "{busy} source servers are in active jobs; {} more would pass the quota of {MAX_SERVERS_IN_ACTIVE_JOBS}",
                ids.len()
            ),
            quota_code: "L-SERVERS-IN-ACTIVE-JOBS",
        });
    }
    let drill = body
        .get("isDrill")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let tags = tags(body)?;
    let sources = ids.into_iter().map(|id| (id, None)).collect();
    let job = world
        .new_job(JobKind::Launch { drill }, sources, tags)
        .clone();
    Ok(json!({ "job": world.job_json(&job) }))
}

fn describe_jobs(world: &World, body: &Value) -> Result<Value, DrsError> {
    let ids = strings(body, &["filters", "jobIDs"])?;
    let date = |key: &str| -> Result<Option<i64>, DrsError> {
        match body.get("filters").and_then(|f| f.get(key)) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => parse_iso(s).map(Some).ok_or_else(|| {
                DrsError::Validation(format!("filters.{key} `{s}` is not an ISO 8601 date"))
            }),
            Some(other) => Err(DrsError::Validation(format!(
                "filters.{key} must be a string, not {other}"
            ))),
        }
    };
    let (from, to) = (date("fromDate")?, date("toDate")?);
    let items = world
        .jobs
        .iter()
        .filter(|j| ids.as_ref().is_none_or(|ids| ids.contains(&j.id)))
        .filter(|j| from.is_none_or(|f| j.created >= f) && to.is_none_or(|t| j.created <= t))
        .map(|j| world.job_json(j))
        .collect();
    page(items, body)
}

fn describe_job_log_items(world: &World, body: &Value) -> Result<Value, DrsError> {
    let id = string(body, "jobID")?;
    let job = world
        .jobs
        .iter()
        .find(|j| j.id == id)
        .ok_or_else(|| DrsError::Validation(format!("job `{id}` does not exist")))?;
    let items = job
        .log
        .iter()
        .map(|item| {
            let mut data = json!({});
            if let Some(s) = &item.source {
                data["sourceServerID"] = json!(s);
            }
            if let Some(t) = &item.target {
                data["targetInstanceID"] = json!(t);
            }
            json!({"logDateTime": iso(item.at), "event": item.event, "eventData": data})
        })
        .collect();
    page(items, body)
}

fn describe_recovery_instances(world: &World, body: &Value) -> Result<Value, DrsError> {
    let ids = strings(body, &["filters", "recoveryInstanceIDs"])?;
    let sources = strings(body, &["filters", "sourceServerIDs"])?;
    let items = world
        .instances
        .values()
        .filter(|r| ids.as_ref().is_none_or(|ids| ids.contains(&r.id)))
        .filter(|r| sources.as_ref().is_none_or(|s| s.contains(&r.source)))
        .map(|r| {
            let hostname = world
                .servers
                .get(&r.source)
                .map(|s| s.hostname.as_str())
                .unwrap_or("");
            json!({
                "recoveryInstanceID": r.id,
                "ec2InstanceID": r.id,
                "ec2InstanceState": if r.terminating { "SHUTTING-DOWN" } else { "RUNNING" },
                "jobID": r.job,
                "sourceServerID": r.source,
                "arn": world.arn(&format!("recovery-instance/{}", r.id)),
                "tags": r.tags,
                "isDrill": r.drill,
                "recoveryInstanceProperties": {
                    "identificationHints": {"hostname": hostname},
                    "networkInterfaces": [{"ips": [r.private_ip], "isPrimary": true}],
                },
            })
        })
        .collect();
    page(items, body)
}

fn terminate_recovery_instances(world: &mut World, body: &Value) -> Result<Value, DrsError> {
    let ids = strings(body, &["recoveryInstanceIDs"])?
        .ok_or_else(|| DrsError::Validation("`recoveryInstanceIDs` is required".into()))?;
    if ids.is_empty() || ids.len() > 200 {
        return Err(DrsError::Validation(format!(
            "`recoveryInstanceIDs` must hold 1 to 200 IDs, not {}",
            ids.len()
        )));
    }
    // Terminations are jobs too, and count against the account's concurrent jobs.
    let active = world.jobs.iter().filter(|j| j.is_active()).count();
    if active >= MAX_CONCURRENT_JOBS {
        return Err(DrsError::QuotaExceeded {
            message: format!("{active} jobs are active; the quota is {MAX_CONCURRENT_JOBS}"),
            quota_code: "L-CONCURRENT-JOBS",
        });
    }
    let mut sources = Vec::new();
    for id in &ids {
        let instance = world.instances.get_mut(id).ok_or_else(|| {
            DrsError::Validation(format!("recovery instance `{id}` does not exist"))
        })?;
        if instance.terminating {
            return Err(DrsError::Conflict {
                message: format!("recovery instance `{id}` is already being terminated"),
                resource_id: id.clone(),
            });
        }
        instance.terminating = true;
        sources.push((instance.source.clone(), Some(id.clone())));
    }
    let job = world
        .new_job(JobKind::Terminate, sources, IndexMap::new())
        .clone();
    Ok(json!({ "job": world.job_json(&job) }))
}

fn reverse_replication(world: &World, body: &Value) -> Result<Value, DrsError> {
    let id = string(body, "recoveryInstanceID")?;
    let instance = world
        .instances
        .get(id)
        .ok_or_else(|| DrsError::NotFound(format!("recovery instance `{id}` does not exist")))?;
    if instance.drill {
        return Err(DrsError::Validation(format!(
            "recovery instance `{id}` is a drill instance; only a recovery can be reversed"
        )));
    }
    Ok(json!({
        "reversedDirectionSourceServerArn": world.arn(&format!("source-server/{}", instance.source))
    }))
}

fn start_failback_launch(world: &mut World, body: &Value) -> Result<Value, DrsError> {
    let ids = strings(body, &["recoveryInstanceIDs"])?
        .ok_or_else(|| DrsError::Validation("`recoveryInstanceIDs` is required".into()))?;
    let mut sources = Vec::new();
    for id in &ids {
        let instance = world.instances.get(id).ok_or_else(|| {
            DrsError::Validation(format!("recovery instance `{id}` does not exist"))
        })?;
        sources.push((instance.source.clone(), None));
    }
    let tags = tags(body)?;
    let job = world.new_job(JobKind::Failback, sources, tags).clone();
    Ok(json!({ "job": world.job_json(&job) }))
}

/// Tags live on jobs, recovery instances and source servers, named by ARN.
fn tag_target<'a>(
    world: &'a mut World,
    arn: &str,
) -> Result<&'a mut IndexMap<String, String>, DrsError> {
    let id = arn.rsplit('/').next().unwrap_or_default().to_owned();
    if arn.contains(":job/") {
        if let Some(job) = world.jobs.iter_mut().find(|j| j.id == id) {
            return Ok(&mut job.tags);
        }
    } else if arn.contains(":recovery-instance/") {
        if let Some(r) = world.instances.get_mut(&id) {
            return Ok(&mut r.tags);
        }
    } else if arn.contains(":source-server/")
        && let Some(s) = world.servers.get_mut(&id)
    {
        return Ok(&mut s.tags);
    }
    Err(DrsError::NotFound(format!(
        "resource `{arn}` does not exist"
    )))
}

fn tag_resource(world: &mut World, arn: &str, body: &Value) -> Result<Value, DrsError> {
    let new = tags(body)?;
    if new.is_empty() {
        return Err(DrsError::Validation("`tags` is required".into()));
    }
    tag_target(world, arn)?.extend(new);
    Ok(json!({}))
}

fn list_tags(world: &mut World, arn: &str) -> Result<Value, DrsError> {
    Ok(json!({ "tags": tag_target(world, arn)?.clone() }))
}

/// Whether any job is active (for the ticker to keep working).
pub fn any_active(world: &World) -> bool {
    world.jobs.iter().any(|j| j.status != JobStatus::Completed)
}
