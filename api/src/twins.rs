//! In-memory twins of the ports the run rules use (the run store, Step Functions, DRS),
//! with the same conditions as the real adapters, so the rules in `domain` get fast tests
//! (races included) besides the over-the-wire ones.

use crate::drs::{SourceServer, SourceServers};
use crate::error::ApiError;
use crate::machines::{CallbackError, Runs};
use crate::store::{
    DecisionRecord, Item, LockError, LockHolder, RunStore, StartRecord, StoreError, text,
};
use aslgen::records::{self, attr, status};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

/// The table: (pk, sk) → item. Every method is one critical section, as each Dynamo
/// write is one conditional request.
#[derive(Default)]
pub struct MemoryStore {
    items: Mutex<BTreeMap<(String, String), Item>>,
}

impl MemoryStore {
    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<(String, String), Item>) -> T) -> T {
        let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut items)
    }

    fn execution_key(name: &str) -> (String, String) {
        (records::execution_pk(name), records::EXECUTION.to_owned())
    }

    /// Puts an item as it is (tests set up records the machines would write).
    pub fn put(&self, pk: &str, sk: &str, mut item: Item) {
        item.insert("pk".into(), s(pk));
        item.insert("sk".into(), s(sk));
        self.with(|items| items.insert((pk.to_owned(), sk.to_owned()), item));
    }

    /// Updates a run's record as a conditional write: `condition` on the current item
    /// (`None` when absent), then `change`.
    fn update_run(
        &self,
        name: &str,
        condition: impl FnOnce(Option<&Item>) -> bool,
        change: impl FnOnce(&mut Item),
    ) -> bool {
        self.with(|items| {
            let key = Self::execution_key(name);
            if !condition(items.get(&key)) {
                return false;
            }
            let item = items.entry(key.clone()).or_insert_with(|| {
                HashMap::from([("pk".into(), s(&key.0)), ("sk".into(), s(&key.1))])
            });
            change(item);
            true
        })
    }
}

#[async_trait]
impl RunStore for MemoryStore {
    async fn lock(&self, keys: &[String], holder: &LockHolder) -> Result<(), LockError> {
        self.with(|items| {
            for key in keys {
                if let Some(item) = items.get(&(format!("LOCK#{key}"), "LOCK".to_owned())) {
                    return Err(LockError::Held {
                        key: key.clone(),
                        holder: LockHolder {
                            execution: text(item, "execution"),
                            token: text(item, "token"),
                            taken_at: crate::store::number(item, "takenAt") as i64,
                        },
                    });
                }
            }
            for key in keys {
                let item = HashMap::from([
                    ("execution".into(), s(&holder.execution)),
                    ("token".into(), s(&holder.token)),
                    (
                        "takenAt".into(),
                        AttributeValue::N(holder.taken_at.to_string()),
                    ),
                ]);
                items.insert((format!("LOCK#{key}"), "LOCK".to_owned()), item);
            }
            Ok(())
        })
    }

    async fn unlock(&self, keys: &[String], token: &str) -> Result<(), StoreError> {
        self.with(|items| {
            for key in keys {
                let k = (format!("LOCK#{key}"), "LOCK".to_owned());
                if items.get(&k).is_some_and(|i| text(i, "token") == token) {
                    items.remove(&k);
                }
            }
        });
        Ok(())
    }

    async fn record_start(&self, start: &StartRecord<'_>) -> Result<(), StoreError> {
        self.update_run(
            start.name,
            |_| true,
            |item| {
                item.entry(attr::STATUS.into())
                    .or_insert_with(|| s(status::RUNNING));
                for (k, v) in [
                    ("planId", start.plan_id),
                    ("planName", start.plan_name),
                    ("mode", start.mode),
                    ("stateMachineArn", start.state_machine_arn),
                    (attr::STATE_MACHINE_VERSION_ARN, start.version_arn),
                    (attr::STARTED_BY, start.started_by),
                    ("lockToken", start.lock_token),
                    ("startedAt", "2026-12-01T00:00:00.000Z"),
                ] {
                    item.insert(k.into(), s(v));
                }
                item.insert(
                    attr::POLL_SECONDS.into(),
                    AttributeValue::N(start.poll_seconds.to_string()),
                );
                if let Some(earlier) = start.rerun_of {
                    item.insert(attr::RERUN_OF.into(), s(earlier));
                }
            },
        );
        let servers = HashMap::from([(
            "servers".into(),
            AttributeValue::L(start.servers.iter().map(|i| s(i)).collect()),
        )]);
        self.put(&records::servers_pk(start.name), records::SERVERS, servers);
        Ok(())
    }

    async fn forget_start(&self, name: &str) -> Result<(), StoreError> {
        self.with(|items| items.remove(&Self::execution_key(name)));
        Ok(())
    }

    async fn executions(&self) -> Result<Vec<Item>, StoreError> {
        Ok(self.with(|items| {
            items
                .iter()
                .filter(|((_, sk), _)| sk == records::EXECUTION)
                .map(|(_, i)| i.clone())
                .collect()
        }))
    }

    async fn run_servers(&self, name: &str) -> Result<Option<Vec<String>>, StoreError> {
        Ok(self.with(|items| {
            items
                .get(&(records::servers_pk(name), records::SERVERS.to_owned()))
                .and_then(|i| i.get("servers"))
                .and_then(|v| v.as_l().ok())
                .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
        }))
    }

    async fn execution_record(&self, name: &str) -> Result<Option<Item>, StoreError> {
        Ok(self.with(|items| items.get(&Self::execution_key(name)).cloned()))
    }

    async fn execution(&self, name: &str) -> Result<Vec<Item>, StoreError> {
        let pk = records::execution_pk(name);
        Ok(self.with(|items| {
            items
                .iter()
                .filter(|((p, _), _)| *p == pk)
                .map(|(_, i)| i.clone())
                .collect()
        }))
    }

    async fn set_execution_status(&self, name: &str, to: &str, by: &str) -> Result<(), StoreError> {
        self.update_run(
            name,
            |_| true,
            |item| {
                item.insert(attr::STATUS.into(), s(to));
                item.insert("stoppedBy".into(), s(by));
            },
        );
        Ok(())
    }

    async fn begin_cleanup(
        &self,
        name: &str,
        execution: &str,
        stale: Option<&str>,
    ) -> Result<bool, StoreError> {
        Ok(self.update_run(
            name,
            |item| {
                item.is_some_and(|i| {
                    text(i, attr::CLEANUP) != records::cleanup::RUNNING
                        || stale.is_some_and(|st| text(i, attr::CLEANUP_EXECUTION) == st)
                })
            },
            |item| {
                item.insert(attr::CLEANUP.into(), s(records::cleanup::RUNNING));
                item.insert(attr::CLEANUP_EXECUTION.into(), s(execution));
                item.insert("cleanupStartedAt".into(), s(&crate::now()));
            },
        ))
    }

    async fn request_pause(&self, name: &str, by: &str) -> Result<bool, StoreError> {
        Ok(self.update_run(
            name,
            |item| {
                item.is_some_and(|i| {
                    text(i, attr::STATUS) == status::RUNNING
                        && !i.contains_key(attr::PAUSE_REQUESTED)
                })
            },
            |item| {
                item.insert(attr::PAUSE_REQUESTED.into(), s("now"));
                item.insert("pauseRequestedBy".into(), s(by));
            },
        ))
    }

    async fn end_pause(
        &self,
        name: &str,
        by: &str,
        token: Option<&str>,
    ) -> Result<bool, StoreError> {
        Ok(self.update_run(
            name,
            |item| {
                item.is_some_and(|i| match token {
                    Some(t) => text(i, attr::PAUSE_TOKEN) == t,
                    None => {
                        i.contains_key(attr::PAUSE_REQUESTED) && !i.contains_key(attr::PAUSE_TOKEN)
                    }
                })
            },
            |item| {
                item.remove(attr::PAUSE_REQUESTED);
                if token.is_some() {
                    item.remove(attr::PAUSE_TOKEN);
                    item.insert(attr::STATUS.into(), s(status::RUNNING));
                }
                item.insert("resumedBy".into(), s(by));
            },
        ))
    }

    async fn restore_pause(&self, name: &str, token: &str) -> Result<bool, StoreError> {
        Ok(self.update_run(
            name,
            |item| {
                item.is_some_and(|i| {
                    !i.contains_key(attr::PAUSE_TOKEN) && text(i, attr::STATUS) == status::RUNNING
                })
            },
            |item| {
                item.insert(attr::STATUS.into(), s(status::PAUSED));
                item.insert(attr::PAUSE_TOKEN.into(), s(token));
                item.insert(attr::PAUSE_REQUESTED.into(), s("now"));
            },
        ))
    }

    async fn approvals(&self) -> Result<Vec<Item>, StoreError> {
        Ok(self.with(|items| {
            items
                .iter()
                .filter(|((_, sk), _)| sk == records::APPROVAL)
                .map(|(_, i)| i.clone())
                .collect()
        }))
    }

    async fn approval(&self, id: &str) -> Result<Option<Item>, StoreError> {
        Ok(self.with(|items| {
            items
                .get(&(records::approval_pk(id), records::APPROVAL.to_owned()))
                .cloned()
        }))
    }

    async fn vote(&self, id: &str, user: &str, _comment: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.with(|items| {
            let item = items.get_mut(&(records::approval_pk(id), records::APPROVAL.to_owned()))?;
            let mut voters: BTreeSet<String> = item
                .get("voters")
                .and_then(|v| v.as_ss().ok())
                .map(|v| v.iter().cloned().collect())
                .unwrap_or_default();
            if text(item, attr::STATUS) != status::PENDING || voters.contains(user) {
                return None;
            }
            voters.insert(user.to_owned());
            let count = voters.len() as u64;
            item.insert(
                "voters".into(),
                AttributeValue::Ss(voters.into_iter().collect()),
            );
            Some(count)
        }))
    }

    async fn decide(&self, decision: &DecisionRecord<'_>) -> Result<bool, StoreError> {
        Ok(self.with(|items| {
            let Some(item) = items.get_mut(&(
                records::approval_pk(decision.id),
                records::APPROVAL.to_owned(),
            )) else {
                return false;
            };
            let voters = item
                .get("voters")
                .and_then(|v| v.as_ss().ok())
                .map_or(0, |v| v.len() as u64);
            if text(item, attr::STATUS) != status::PENDING
                || decision.quorum.is_some_and(|q| voters < q)
            {
                return false;
            }
            item.insert(attr::STATUS.into(), s(decision.status));
            item.insert("decidedBy".into(), s(decision.user));
            item.insert("comment".into(), s(decision.comment));
            true
        }))
    }

    async fn set_approval_status(
        &self,
        id: &str,
        from: &str,
        to: &str,
        note: &str,
    ) -> Result<bool, StoreError> {
        Ok(self.with(|items| {
            let Some(item) =
                items.get_mut(&(records::approval_pk(id), records::APPROVAL.to_owned()))
            else {
                return false;
            };
            if text(item, attr::STATUS) != from {
                return false;
            }
            item.insert(attr::STATUS.into(), s(to));
            item.insert("note".into(), s(note));
            true
        }))
    }
}

/// Step Functions: executions by ARN with their status; a task token answers once (a
/// second answer finds the task gone, as in AWS).
#[derive(Default)]
pub struct MemoryRuns {
    pub statuses: Mutex<HashMap<String, String>>,
    pub started: Mutex<Vec<(String, String, String)>>,
    pub answered: Mutex<BTreeSet<String>>,
}

impl MemoryRuns {
    pub fn set(&self, arn: &str, status: &str) {
        self.statuses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(arn.to_owned(), status.to_owned());
    }

    fn answer(&self, token: &str) -> Result<(), CallbackError> {
        if self
            .answered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(token.to_owned())
        {
            Ok(())
        } else {
            Err(CallbackError::Gone("TaskTimedOut".into()))
        }
    }
}

#[async_trait]
impl Runs for MemoryRuns {
    async fn start(&self, machine_arn: &str, name: &str, input: &str) -> Result<String, ApiError> {
        self.started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((machine_arn.to_owned(), name.to_owned(), input.to_owned()));
        // As Step Functions names it: a version's executions belong to its machine.
        let parts: Vec<&str> = machine_arn.split(':').collect();
        let machine = if parts.len() == 8 {
            parts[..7].join(":")
        } else {
            machine_arn.to_owned()
        };
        let arn = format!(
            "{}:{name}",
            machine.replace(":stateMachine:", ":execution:")
        );
        self.set(&arn, "RUNNING");
        Ok(arn)
    }

    async fn stop(&self, execution_arn: &str, _cause: &str) -> Result<(), ApiError> {
        self.set(execution_arn, "ABORTED");
        Ok(())
    }

    async fn status(&self, execution_arn: &str) -> Result<Option<String>, ApiError> {
        Ok(self
            .statuses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(execution_arn)
            .cloned())
    }

    async fn approve(&self, token: &str, _output: &str) -> Result<(), CallbackError> {
        self.answer(token)
    }

    async fn reject(&self, token: &str, _error: &str, _cause: &str) -> Result<(), CallbackError> {
        self.answer(token)
    }
}

/// DRS: jobs of runs, and which of a job's launched instances still exist.
#[derive(Default)]
pub struct MemoryDrs {
    /// execution name → its job IDs.
    pub jobs: HashMap<String, Vec<String>>,
    /// job ID → (launched, alive).
    pub instances: HashMap<String, (usize, usize)>,
}

#[async_trait]
impl SourceServers for MemoryDrs {
    async fn list(&self) -> Result<Vec<SourceServer>, ApiError> {
        Ok(Vec::new())
    }
    async fn terminate(&self, _instances: &[String]) -> Result<Vec<String>, ApiError> {
        Ok(Vec::new())
    }
    async fn run_drill_instances(
        &self,
        _execution: &str,
        _since: &str,
        _recorded_jobs: &[String],
    ) -> Result<Vec<String>, ApiError> {
        Ok(Vec::new())
    }
    async fn run_jobs(
        &self,
        execution: &str,
        _since: &str,
        recorded_jobs: &[String],
    ) -> Result<Vec<String>, ApiError> {
        let mut jobs: BTreeSet<String> = recorded_jobs.iter().cloned().collect();
        jobs.extend(self.jobs.get(execution).into_iter().flatten().cloned());
        Ok(jobs.into_iter().collect())
    }
    async fn launched_alive(&self, job_ids: &[String]) -> Result<(usize, usize), ApiError> {
        Ok(job_ids
            .iter()
            .filter_map(|j| self.instances.get(j))
            .fold((0, 0), |(l, a), (jl, ja)| (l + jl, a + ja)))
    }
    async fn active_load(&self) -> Result<(usize, usize), ApiError> {
        Ok((0, 0))
    }
    async fn job_log(&self, _job_id: &str) -> Result<Vec<serde_json::Value>, ApiError> {
        Ok(Vec::new())
    }
    async fn recovery_instances(
        &self,
        _servers: &[String],
    ) -> Result<Vec<serde_json::Value>, ApiError> {
        Ok(Vec::new())
    }
}
