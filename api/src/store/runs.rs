//! Execution records (written by the machines), the locks that keep one execution per
//! plan and per server, and approvals (written by the machines, decided here).

use super::{Dynamo, StoreError, backend, s};
use aslgen::records;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use std::collections::HashMap;

pub type Item = HashMap<String, AttributeValue>;

#[async_trait]
pub trait RunStore: Send + Sync {
    /// Takes the locks for a start, all or nothing, each written with the start's token.
    /// On a conflict returns the lock key and who holds it.
    async fn lock(&self, keys: &[String], holder: &LockHolder) -> Result<(), LockError>;
    /// Gives back the locks that the start with `token` took (a lock another start holds
    /// is left alone: every delete is conditional on the token).
    async fn unlock(&self, keys: &[String], token: &str) -> Result<(), StoreError>;
    /// Writes the execution's record before its machine starts, so the run is listed and
    /// its dashboard opens at once (the machine's own first write keeps these values) and
    /// the record names who started it.
    async fn record_start(&self, start: &StartRecord<'_>) -> Result<(), StoreError>;
    /// Removes the record of a start the engine refused.
    async fn forget_start(&self, name: &str) -> Result<(), StoreError>;
    async fn executions(&self) -> Result<Vec<Item>, StoreError>;
    /// The servers a run's start resolved, kept apart from its record (`EXEC#<name>#SERVERS`)
    /// so the dashboard's poll never reads thousands of ids; `None` for a run that did not
    /// record them.
    async fn run_servers(&self, name: &str) -> Result<Option<Vec<String>>, StoreError>;
    /// The `EXECUTION` item alone (one GetItem, whatever the plan's size).
    async fn execution_record(&self, name: &str) -> Result<Option<Item>, StoreError>;
    /// The `EXECUTION` item and every `STEP#…` item of one execution.
    async fn execution(&self, name: &str) -> Result<Vec<Item>, StoreError>;
    async fn set_execution_status(
        &self,
        name: &str,
        status: &str,
        by: &str,
    ) -> Result<(), StoreError>;
    /// Marks a drill's clean-up started by `execution`, in one conditional write: only
    /// when none is running, or the one recorded as running is `stale` (it ended without
    /// recording). False when another clean-up holds it.
    async fn begin_cleanup(
        &self,
        name: &str,
        execution: &str,
        stale: Option<&str>,
    ) -> Result<bool, StoreError>;
    /// Asks a running run to pause at its next wave boundary, in one conditional write;
    /// false when it is not running or a pause is already asked.
    async fn request_pause(&self, name: &str, by: &str) -> Result<bool, StoreError>;
    /// Ends a pause, in one conditional write: with `token`, only while the run waits at a
    /// boundary with that token; without, only while it has not reached one. False when
    /// the condition failed.
    async fn end_pause(
        &self,
        name: &str,
        by: &str,
        token: Option<&str>,
    ) -> Result<bool, StoreError>;
    /// Puts back a pause whose resume Step Functions did not take.
    async fn restore_pause(&self, name: &str, token: &str) -> Result<bool, StoreError>;
    async fn approvals(&self) -> Result<Vec<Item>, StoreError>;
    async fn approval(&self, id: &str) -> Result<Option<Item>, StoreError>;
    /// Records `user`'s vote, in one conditional write, if the approval is still pending
    /// and `user` has not voted; returns how many distinct people have voted, `None` when
    /// the condition failed.
    async fn vote(&self, id: &str, user: &str, comment: &str) -> Result<Option<u64>, StoreError>;
    /// Decides a pending approval once (and, with `quorum`, only when that many distinct
    /// people have voted); false when the condition failed.
    async fn decide(&self, decision: &DecisionRecord<'_>) -> Result<bool, StoreError>;
    /// Moves an approval from `from` to `to` (conditional on `from`), with a note: voids
    /// the approvals of ended runs, reopens a decision the engine did not take.
    async fn set_approval_status(
        &self,
        id: &str,
        from: &str,
        to: &str,
        note: &str,
    ) -> Result<bool, StoreError>;
}

/// A decision as recorded on the approval item.
pub struct DecisionRecord<'a> {
    pub id: &'a str,
    pub status: &'a str,
    pub user: &'a str,
    pub comment: &'a str,
    /// With a quorum: the decision is taken only when this many people have voted.
    pub quorum: Option<u64>,
}

/// Who holds a lock: the execution a start is about to run and the start's own token.
#[derive(Debug, Clone, PartialEq)]
pub struct LockHolder {
    pub execution: String,
    pub token: String,
    /// Unix seconds when the lock was taken.
    pub taken_at: i64,
}

/// What the API knows of an execution as it starts it.
pub struct StartRecord<'a> {
    pub name: &'a str,
    pub plan_id: &'a str,
    pub plan_name: &'a str,
    /// The plan version the machine was compiled from (its report reads that version).
    pub plan_version: u64,
    pub mode: &'a str,
    pub state_machine_arn: &'a str,
    /// The published version the run executes (compiled at this start).
    pub version_arn: &'a str,
    /// The servers the start resolved: what the pre-flight checked, the locks hold and
    /// the machine launches.
    pub servers: &'a [String],
    pub started_by: &'a str,
    /// The token the start's locks carry (cancel gives them back with it).
    pub lock_token: &'a str,
    /// The run's poll interval; its clean-up execution polls at the same pace.
    pub poll_seconds: u32,
    /// The earlier run a re-run continues.
    pub rerun_of: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LockError {
    #[error("`{key}` is held by execution `{}`", holder.execution)]
    Held { key: String, holder: LockHolder },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn lock_key(key: &str) -> Item {
    HashMap::from([
        ("pk".into(), s(&format!("LOCK#{key}"))),
        ("sk".into(), s("LOCK")),
    ])
}

fn approval_key(id: &str) -> Item {
    HashMap::from([
        ("pk".into(), s(&records::approval_pk(id))),
        ("sk".into(), s("APPROVAL")),
    ])
}

fn conditional_failed<E: std::fmt::Debug>(e: &aws_sdk_dynamodb::error::SdkError<E>) -> bool {
    format!("{e:?}").contains("ConditionalCheckFailed")
}

impl Dynamo {
    /// An UpdateItem of one run's own record (`EXEC#<name>` / `EXECUTION`).
    fn update_run(
        &self,
        name: &str,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&records::execution_pk(name)))
            .key("sk", s(records::EXECUTION))
    }
}

#[async_trait]
impl RunStore for Dynamo {
    async fn lock(&self, keys: &[String], holder: &LockHolder) -> Result<(), LockError> {
        for (n, chunk) in keys.chunks(100).enumerate() {
            let items: Vec<TransactWriteItem> = chunk
                .iter()
                .map(|key| {
                    let mut item = lock_key(key);
                    item.insert("execution".into(), s(&holder.execution));
                    item.insert("token".into(), s(&holder.token));
                    item.insert(
                        "takenAt".into(),
                        AttributeValue::N(holder.taken_at.to_string()),
                    );
                    item.insert("key".into(), s(key));
                    TransactWriteItem::builder()
                        .put(
                            Put::builder()
                                .table_name(&self.table)
                                .set_item(Some(item))
                                .condition_expression("attribute_not_exists(pk)")
                                .build()
                                .expect("table and item set"),
                        )
                        .build()
                })
                .collect();
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            if let Err(e) = result {
                let service = e.into_service_error();
                // Give back what this call took before failing.
                let _ = self.unlock(&keys[..n * 100], &holder.token).await;
                if let aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) = &service
                    && let Some(i) = c.cancellation_reasons().iter().position(|r| r.code() == Some("ConditionalCheckFailed"))
                {
                    let key = chunk[i].clone();
                    let holder = self.lock_holder(&key).await?;
                    return Err(LockError::Held { key, holder });
                }
                return Err(LockError::Store(backend(service)));
            }
        }
        Ok(())
    }

    async fn unlock(&self, keys: &[String], token: &str) -> Result<(), StoreError> {
        use futures::StreamExt;
        let deletes = keys.iter().map(|key| async move {
            let result = self
                .client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(lock_key(key)))
                .condition_expression("attribute_not_exists(pk) OR #t = :t")
                .expression_attribute_names("#t", "token")
                .expression_attribute_values(":t", s(token))
                .send()
                .await;
            match result {
                Ok(_) => Ok(()),
                Err(e) if conditional_failed(&e) => Ok(()),
                Err(e) => Err(backend(e.into_service_error())),
            }
        });
        // Many servers: a bounded number of deletes in flight, not one by one.
        let results: Vec<Result<(), StoreError>> =
            futures::stream::iter(deletes.collect::<Vec<_>>())
                .buffer_unordered(16)
                .collect()
                .await;
        results.into_iter().collect()
    }

    async fn record_start(&self, start: &StartRecord<'_>) -> Result<(), StoreError> {
        let now = crate::now();
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(&records::servers_pk(start.name)))
            .item("sk", s(records::SERVERS))
            .item(
                "servers",
                AttributeValue::L(start.servers.iter().map(|id| s(id)).collect()),
            )
            .send()
            .await
            .map_err(|e| backend(e.into_service_error()))?;
        self.update_run(start.name)
            .update_expression(
                "SET #s = if_not_exists(#s, :s), startedAt = if_not_exists(startedAt, :t), \
                 updatedAt = if_not_exists(updatedAt, :t), planId = :p, planName = :n, \
                 #m = :m, stateMachineArn = :a, startedBy = :b, planVersion = :v, lockToken = :k, \
                 stateMachineVersionArn = :va, serverCount = :sc, pollSeconds = :ps",
            )
            .expression_attribute_names("#s", "status")
            .expression_attribute_names("#m", "mode")
            .expression_attribute_values(":s", s(records::status::RUNNING))
            .expression_attribute_values(":t", s(&now))
            .expression_attribute_values(":p", s(start.plan_id))
            .expression_attribute_values(":n", s(start.plan_name))
            .expression_attribute_values(":m", s(start.mode))
            .expression_attribute_values(":a", s(start.state_machine_arn))
            .expression_attribute_values(":b", s(start.started_by))
            .expression_attribute_values(":v", AttributeValue::N(start.plan_version.to_string()))
            .expression_attribute_values(":k", s(start.lock_token))
            .expression_attribute_values(":va", s(start.version_arn))
            .expression_attribute_values(":sc", AttributeValue::N(start.servers.len().to_string()))
            .expression_attribute_values(":ps", AttributeValue::N(start.poll_seconds.to_string()))
            .send()
            .await
            .map_err(|e| backend(e.into_service_error()))?;
        let Some(earlier) = start.rerun_of else {
            return Ok(());
        };
        // The two runs name each other, for history and the report.
        for (name, attribute, value) in [
            (start.name, "rerunOf", earlier),
            (earlier, "rerunBy", start.name),
        ] {
            self.update_run(name)
                .update_expression("SET #a = :v")
                .expression_attribute_names("#a", attribute)
                .expression_attribute_values(":v", s(value))
                .send()
                .await
                .map_err(|e| backend(e.into_service_error()))?;
        }
        Ok(())
    }

    async fn forget_start(&self, name: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(&records::execution_pk(name)))
            .key("sk", s(records::EXECUTION))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| backend(e.into_service_error()))
    }

    async fn executions(&self) -> Result<Vec<Item>, StoreError> {
        self.scan_kind(records::EXECUTION).await
    }

    async fn run_servers(&self, name: &str) -> Result<Option<Vec<String>>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&records::servers_pk(name)))
            .key("sk", s(records::SERVERS))
            .send()
            .await
            .map_err(|e| backend(e.into_service_error()))?;
        Ok(out.item.and_then(|item| {
            item.get("servers")
                .and_then(|v| v.as_l().ok())
                .map(|list| list.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
        }))
    }

    async fn execution_record(&self, name: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&records::execution_pk(name)))
            .key("sk", s(records::EXECUTION))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend(e.into_service_error()))?;
        Ok(out.item)
    }

    async fn execution(&self, name: &str) -> Result<Vec<Item>, StoreError> {
        // Every page: a large plan's progress records can pass a query's 1 MB.
        self.query_all(&records::execution_pk(name), None).await
    }

    async fn set_execution_status(
        &self,
        name: &str,
        status: &str,
        by: &str,
    ) -> Result<(), StoreError> {
        self.update_run(name)
            .update_expression("SET #s = :s, endedAt = if_not_exists(endedAt, :t), stoppedBy = :b")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":s", s(status))
            .expression_attribute_values(":t", s(&crate::now()))
            .expression_attribute_values(":b", s(by))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| backend(e.into_service_error()))
    }

    async fn begin_cleanup(
        &self,
        name: &str,
        execution: &str,
        stale: Option<&str>,
    ) -> Result<bool, StoreError> {
        let free = "attribute_not_exists(cleanup) OR cleanup <> :running";
        let condition = match stale {
            None => format!("attribute_exists(pk) AND ({free})"),
            Some(_) => format!("attribute_exists(pk) AND ({free} OR cleanupExecution = :stale)"),
        };
        let mut request = self.update_run(name)
            .update_expression(
                "SET cleanup = :running, cleanupExecution = :e, cleanupStartedAt = :t REMOVE cleanedAt",
            )
            .expression_attribute_values(":running", s(records::status::RUNNING))
            .expression_attribute_values(":e", s(execution))
            .expression_attribute_values(":t", s(&crate::now()));
        if let Some(stale) = stale {
            request = request.expression_attribute_values(":stale", s(stale));
        }
        conditional(request.condition_expression(condition).send().await)
    }

    async fn request_pause(&self, name: &str, by: &str) -> Result<bool, StoreError> {
        let out = self
            .update_run(name)
            .update_expression("SET pauseRequested = :t, pauseRequestedBy = :b")
            .condition_expression("#s = :running AND attribute_not_exists(pauseRequested)")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":running", s(records::status::RUNNING))
            .expression_attribute_values(":t", s(&crate::now()))
            .expression_attribute_values(":b", s(by))
            .send()
            .await;
        conditional(out)
    }

    async fn end_pause(
        &self,
        name: &str,
        by: &str,
        token: Option<&str>,
    ) -> Result<bool, StoreError> {
        let request = self
            .update_run(name)
            .expression_attribute_values(":b", s(by))
            .expression_attribute_values(":t", s(&crate::now()));
        let request = match token {
            Some(token) => request
                .update_expression(
                    "SET #s = :running, resumedBy = :b, resumedAt = :t REMOVE pauseRequested, pauseToken",
                )
                .condition_expression("pauseToken = :token")
                .expression_attribute_names("#s", "status")
                .expression_attribute_values(":running", s(records::status::RUNNING))
                .expression_attribute_values(":token", s(token)),
            None => request
                .update_expression("SET resumedBy = :b, resumedAt = :t REMOVE pauseRequested")
                .condition_expression(
                    "attribute_exists(pauseRequested) AND attribute_not_exists(pauseToken)",
                ),
        };
        conditional(request.send().await)
    }

    async fn restore_pause(&self, name: &str, token: &str) -> Result<bool, StoreError> {
        let out = self.update_run(name)
            .update_expression(
                "SET #s = :paused, pauseToken = :token, pauseRequested = :t REMOVE resumedBy, resumedAt",
            )
            .condition_expression("attribute_not_exists(pauseToken) AND #s = :running")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":paused", s(records::status::PAUSED))
            .expression_attribute_values(":running", s(records::status::RUNNING))
            .expression_attribute_values(":token", s(token))
            .expression_attribute_values(":t", s(&crate::now()))
            .send()
            .await;
        conditional(out)
    }

    async fn approvals(&self) -> Result<Vec<Item>, StoreError> {
        self.scan_kind("APPROVAL").await
    }

    async fn approval(&self, id: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(approval_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend(e.into_service_error()))?;
        Ok(out.item)
    }

    async fn vote(&self, id: &str, user: &str, comment: &str) -> Result<Option<u64>, StoreError> {
        // One write: the condition, the vote and the voter set move together, so twenty
        // votes by one person at once count once.
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(approval_key(id)))
            .update_expression(
                "SET votes = list_append(if_not_exists(votes, :empty), :vote) ADD voters :us",
            )
            .condition_expression("#s = :pending AND NOT contains(voters, :u)")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":pending", s(records::status::PENDING))
            .expression_attribute_values(":u", s(user))
            .expression_attribute_values(":us", AttributeValue::Ss(vec![user.to_owned()]))
            .expression_attribute_values(":empty", AttributeValue::L(vec![]))
            .expression_attribute_values(
                ":vote",
                AttributeValue::L(vec![AttributeValue::M(HashMap::from([
                    ("by".to_owned(), s(user)),
                    ("comment".to_owned(), s(comment)),
                    ("at".to_owned(), s(&crate::now())),
                ]))]),
            )
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Some(
                out.attributes
                    .and_then(|a| a.get("voters").and_then(|v| v.as_ss().ok()).map(Vec::len))
                    .unwrap_or(1) as u64,
            )),
            Err(e) if conditional_failed(&e) => Ok(None),
            Err(e) => Err(backend(e.into_service_error())),
        }
    }

    async fn decide(&self, d: &DecisionRecord<'_>) -> Result<bool, StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(approval_key(d.id)))
            .update_expression("SET #s = :s, decidedBy = :u, decisionComment = :c, decidedAt = :t")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":s", s(d.status))
            .expression_attribute_values(":u", s(d.user))
            .expression_attribute_values(":c", s(d.comment))
            .expression_attribute_values(":t", s(&crate::now()))
            .expression_attribute_values(":pending", s(records::status::PENDING));
        update = match d.quorum {
            Some(q) => update
                .condition_expression("#s = :pending AND size(voters) >= :q")
                .expression_attribute_values(":q", AttributeValue::N(q.to_string())),
            None => update.condition_expression("#s = :pending"),
        };
        match update.send().await {
            Ok(_) => Ok(true),
            Err(e) if conditional_failed(&e) => Ok(false),
            Err(e) => Err(backend(e.into_service_error())),
        }
    }

    async fn set_approval_status(
        &self,
        id: &str,
        from: &str,
        to: &str,
        note: &str,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(approval_key(id)))
            .update_expression("SET #s = :to, statusNote = :n, statusAt = :t")
            .condition_expression("#s = :from")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":to", s(to))
            .expression_attribute_values(":from", s(from))
            .expression_attribute_values(":n", s(note))
            .expression_attribute_values(":t", s(&crate::now()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if conditional_failed(&e) => Ok(false),
            Err(e) => Err(backend(e.into_service_error())),
        }
    }
}

impl Dynamo {
    /// Who holds the lock `key` now (read consistently after a failed take).
    async fn lock_holder(&self, key: &str) -> Result<LockHolder, LockError> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(lock_key(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| LockError::Store(backend(e.into_service_error())))?
            .item
            .unwrap_or_default();
        let text = |k: &str| {
            item.get(k)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        Ok(LockHolder {
            execution: text("execution"),
            token: text("token"),
            taken_at: item
                .get("takenAt")
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
        })
    }
}

/// A conditional write's outcome: false when its condition failed.
fn conditional<T>(
    out: Result<
        T,
        aws_sdk_dynamodb::error::SdkError<
            aws_sdk_dynamodb::operation::update_item::UpdateItemError,
        >,
    >,
) -> Result<bool, StoreError> {
    match out {
        Ok(_) => Ok(true),
        Err(e) => {
            let e = e.into_service_error();
            if e.is_conditional_check_failed_exception() {
                Ok(false)
            } else {
                Err(backend(e))
            }
        }
    }
}
