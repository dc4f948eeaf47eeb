//! Execution records (written by the machines), the locks that keep one execution per
//! plan and per server, and approvals (written by the machines, decided here).

use super::{Dynamo, StoreError, backend, s};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use std::collections::HashMap;

pub type Item = HashMap<String, AttributeValue>;

#[async_trait]
pub trait RunStore: Send + Sync {
    /// Takes the locks for an execution, all or nothing. On a conflict returns the lock
    /// key and the execution holding it.
    async fn lock(&self, keys: &[String], execution: &str) -> Result<(), LockError>;
    async fn unlock(&self, keys: &[String], execution: &str) -> Result<(), StoreError>;
    /// Removes a lock still held by `execution` (which has ended).
    async fn break_lock(&self, key: &str, execution: &str) -> Result<(), StoreError>;
    /// Writes the execution's record before its machine starts, so the run is listed and
    /// its dashboard opens at once (the machine's own first write keeps these values) and
    /// the record names who started it.
    async fn record_start(&self, start: &StartRecord<'_>) -> Result<(), StoreError>;
    /// Removes the record of a start the engine refused.
    async fn forget_start(&self, name: &str) -> Result<(), StoreError>;
    async fn executions(&self) -> Result<Vec<Item>, StoreError>;
    /// The `EXECUTION` item and every `STEP#…` item of one execution.
    async fn execution(&self, name: &str) -> Result<Vec<Item>, StoreError>;
    async fn set_execution_status(
        &self,
        name: &str,
        status: &str,
        by: &str,
    ) -> Result<(), StoreError>;
    async fn approvals(&self) -> Result<Vec<Item>, StoreError>;
    async fn approval(&self, id: &str) -> Result<Option<Item>, StoreError>;
    /// Records `user`'s vote if the approval is still pending and `user` has not voted.
    async fn vote(&self, id: &str, user: &str, comment: &str) -> Result<bool, StoreError>;
    /// Decides a pending approval once; false when it was already decided.
    async fn decide(
        &self,
        id: &str,
        status: &str,
        user: &str,
        comment: &str,
    ) -> Result<bool, StoreError>;
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
    pub started_by: &'a str,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LockError {
    #[error("`{key}` is held by execution `{holder}`")]
    Held { key: String, holder: String },
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
        ("pk".into(), s(&format!("APPROVAL#{id}"))),
        ("sk".into(), s("APPROVAL")),
    ])
}

fn conditional_failed<E: std::fmt::Debug>(e: &aws_sdk_dynamodb::error::SdkError<E>) -> bool {
    format!("{e:?}").contains("ConditionalCheckFailed")
}

#[async_trait]
impl RunStore for Dynamo {
    async fn lock(&self, keys: &[String], execution: &str) -> Result<(), LockError> {
        for (n, chunk) in keys.chunks(100).enumerate() {
            let items: Vec<TransactWriteItem> = chunk
                .iter()
                .map(|key| {
                    let mut item = lock_key(key);
                    item.insert("execution".into(), s(execution));
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
                let _ = self.unlock(&keys[..n * 100], execution).await;
                if let aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) = &service
                    && let Some(i) = c.cancellation_reasons().iter().position(|r| r.code() == Some("ConditionalCheckFailed"))
                {
                    let key = chunk[i].clone();
                    let holder = self
                        .client
                        .get_item()
                        .table_name(&self.table)
                        .set_key(Some(lock_key(&key)))
                        .consistent_read(true)
                        .send()
                        .await
                        .ok()
                        .and_then(|o| o.item)
                        .and_then(|i| i.get("execution").and_then(|v| v.as_s().ok()).cloned())
                        .unwrap_or_default();
                    return Err(LockError::Held { key, holder });
                }
                return Err(LockError::Store(backend(service)));
            }
        }
        Ok(())
    }

    async fn unlock(&self, keys: &[String], execution: &str) -> Result<(), StoreError> {
        for key in keys {
            self.break_lock(key, execution).await?;
        }
        Ok(())
    }

    async fn break_lock(&self, key: &str, execution: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(lock_key(key)))
            .condition_expression("attribute_not_exists(pk) OR execution = :e")
            .expression_attribute_values(":e", s(execution))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if conditional_failed(&e) => Ok(()),
            Err(e) => Err(backend(e.into_service_error())),
        }
    }

    async fn record_start(&self, start: &StartRecord<'_>) -> Result<(), StoreError> {
        let now = crate::now();
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&format!("EXEC#{}", start.name)))
            .key("sk", s("EXECUTION"))
            .update_expression(
                "SET #s = if_not_exists(#s, :s), startedAt = if_not_exists(startedAt, :t), \
                 updatedAt = if_not_exists(updatedAt, :t), planId = :p, planName = :n, \
                 #m = :m, stateMachineArn = :a, startedBy = :b, planVersion = :v",
            )
            .expression_attribute_names("#s", "status")
            .expression_attribute_names("#m", "mode")
            .expression_attribute_values(":s", s("RUNNING"))
            .expression_attribute_values(":t", s(&now))
            .expression_attribute_values(":p", s(start.plan_id))
            .expression_attribute_values(":n", s(start.plan_name))
            .expression_attribute_values(":m", s(start.mode))
            .expression_attribute_values(":a", s(start.state_machine_arn))
            .expression_attribute_values(":b", s(start.started_by))
            .expression_attribute_values(":v", AttributeValue::N(start.plan_version.to_string()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| backend(e.into_service_error()))
    }

    async fn forget_start(&self, name: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(&format!("EXEC#{name}")))
            .key("sk", s("EXECUTION"))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| backend(e.into_service_error()))
    }

    async fn executions(&self) -> Result<Vec<Item>, StoreError> {
        self.scan_kind("EXECUTION").await
    }

    async fn execution(&self, name: &str) -> Result<Vec<Item>, StoreError> {
        // Every page: a large plan's progress records can pass a query's 1 MB.
        self.query_all(&format!("EXEC#{name}"), None).await
    }

    async fn set_execution_status(
        &self,
        name: &str,
        status: &str,
        by: &str,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&format!("EXEC#{name}")))
            .key("sk", s("EXECUTION"))
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

    async fn vote(&self, id: &str, user: &str, comment: &str) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(approval_key(id)))
            .update_expression("SET votes = list_append(if_not_exists(votes, :empty), :vote)")
            .condition_expression("#s = :pending AND NOT contains(voters, :u)")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":pending", s("PENDING"))
            .expression_attribute_values(":u", s(user))
            .expression_attribute_values(":empty", AttributeValue::L(vec![]))
            .expression_attribute_values(
                ":vote",
                AttributeValue::L(vec![AttributeValue::M(HashMap::from([
                    ("by".to_owned(), s(user)),
                    ("comment".to_owned(), s(comment)),
                    ("at".to_owned(), s(&crate::now())),
                ]))]),
            )
            .send()
            .await;
        match result {
            Ok(_) => {
                // `voters` is a string set for the condition above.
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(approval_key(id)))
                    .update_expression("ADD voters :u")
                    .expression_attribute_values(":u", AttributeValue::Ss(vec![user.to_owned()]))
                    .send()
                    .await
                    .map_err(|e| backend(e.into_service_error()))?;
                Ok(true)
            }
            Err(e) if conditional_failed(&e) => Ok(false),
            Err(e) => Err(backend(e.into_service_error())),
        }
    }

    async fn decide(
        &self,
        id: &str,
        status: &str,
        user: &str,
        comment: &str,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(approval_key(id)))
            .update_expression("SET #s = :s, decidedBy = :u, decisionComment = :c, decidedAt = :t")
            .condition_expression("#s = :pending")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":s", s(status))
            .expression_attribute_values(":u", s(user))
            .expression_attribute_values(":c", s(comment))
            .expression_attribute_values(":t", s(&crate::now()))
            .expression_attribute_values(":pending", s("PENDING"))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if conditional_failed(&e) => Ok(false),
            Err(e) => Err(backend(e.into_service_error())),
        }
    }
}
