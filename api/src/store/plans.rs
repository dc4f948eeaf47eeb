//! Recovery plans: the current document at `PLAN#<id>`/`PLAN`, every saved version at
//! `PLAN#<id>`/`V#<version>` (kept), with the state machine each compiled to.

use super::{Dynamo, StoreError, backend, s};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde::Serialize;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredPlan {
    pub id: String,
    pub name: String,
    /// The plan as the author wrote it (aslgen's `RecoveryPlan`, JSON).
    pub plan: serde_json::Value,
    pub version: u64,
    pub state_machine_arn: String,
    pub servers: u64,
    pub created_at: String,
    pub updated_at: String,
    pub updated_by: String,
}

#[async_trait]
pub trait PlanStore: Send + Sync {
    async fn list(&self) -> Result<Vec<StoredPlan>, StoreError>;
    async fn get(&self, id: &str) -> Result<Option<StoredPlan>, StoreError>;
    /// Saves a new version: `expected` is the version replaced (`None` to create).
    async fn save(&self, plan: &StoredPlan, expected: Option<u64>) -> Result<(), StoreError>;
    async fn versions(&self, id: &str) -> Result<Vec<StoredPlan>, StoreError>;
    /// One saved version, as it was (what an execution ran).
    async fn version(&self, id: &str, version: u64) -> Result<Option<StoredPlan>, StoreError>;
    async fn delete(&self, id: &str, expected: u64) -> Result<(), StoreError>;
}

fn item(plan: &StoredPlan, sort: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), s(&format!("PLAN#{}", plan.id))),
        ("sk".to_owned(), s(sort)),
        ("id".to_owned(), s(&plan.id)),
        ("name".to_owned(), s(&plan.name)),
        ("plan".to_owned(), s(&plan.plan.to_string())),
        (
            "version".to_owned(),
            AttributeValue::N(plan.version.to_string()),
        ),
        ("stateMachineArn".to_owned(), s(&plan.state_machine_arn)),
        (
            "servers".to_owned(),
            AttributeValue::N(plan.servers.to_string()),
        ),
        ("createdAt".to_owned(), s(&plan.created_at)),
        ("updatedAt".to_owned(), s(&plan.updated_at)),
        ("updatedBy".to_owned(), s(&plan.updated_by)),
    ])
}

fn plan_of(item: &HashMap<String, AttributeValue>) -> Result<StoredPlan, StoreError> {
    let text = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    let number = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    Ok(StoredPlan {
        id: text("id"),
        name: text("name"),
        plan: serde_json::from_str(&text("plan"))
            .map_err(|e| StoreError::Corrupt(format!("stored plan is not JSON: {e}")))?,
        version: number("version"),
        state_machine_arn: text("stateMachineArn"),
        servers: number("servers"),
        created_at: text("createdAt"),
        updated_at: text("updatedAt"),
        updated_by: text("updatedBy"),
    })
}

impl Dynamo {
    async fn plan_item(&self, id: &str, sort: &str) -> Result<Option<StoredPlan>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&format!("PLAN#{id}")))
            .key("sk", s(sort))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend(e.into_service_error()))?;
        out.item.as_ref().map(plan_of).transpose()
    }
}

#[async_trait]
impl PlanStore for Dynamo {
    async fn list(&self) -> Result<Vec<StoredPlan>, StoreError> {
        let mut out = self
            .scan_kind("PLAN")
            .await?
            .iter()
            .map(plan_of)
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn get(&self, id: &str) -> Result<Option<StoredPlan>, StoreError> {
        self.plan_item(id, "PLAN").await
    }

    async fn version(&self, id: &str, version: u64) -> Result<Option<StoredPlan>, StoreError> {
        self.plan_item(id, &format!("V#{version:06}")).await
    }

    async fn save(&self, plan: &StoredPlan, expected: Option<u64>) -> Result<(), StoreError> {
        let current = match expected {
            None => Put::builder()
                .table_name(&self.table)
                .set_item(Some(item(plan, "PLAN")))
                .condition_expression("attribute_not_exists(pk)"),
            Some(v) => Put::builder()
                .table_name(&self.table)
                .set_item(Some(item(plan, "PLAN")))
                .condition_expression("version = :v")
                .expression_attribute_values(":v", AttributeValue::N(v.to_string())),
        }
        .build()
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let version = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item(plan, &format!("V#{:06}", plan.version))))
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(current).build())
            .transact_items(TransactWriteItem::builder().put(version).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let service = e.into_service_error();
                if let aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) = &service
                    && c.cancellation_reasons().first().and_then(|r| r.code()) == Some("ConditionalCheckFailed")
                {
                    return Err(match expected {
                        None => StoreError::Exists(format!("recovery plan `{}`", plan.id)),
                        Some(v) => match PlanStore::get(self, &plan.id).await? {
                            Some(current) => StoreError::Stale { expected: v, current: current.version },
                            None => StoreError::NotFound(format!("recovery plan `{}`", plan.id)),
                        },
                    });
                }
                Err(backend(service))
            }
        }
    }

    async fn versions(&self, id: &str) -> Result<Vec<StoredPlan>, StoreError> {
        // Every page: each version holds its whole plan, so a much-edited plan passes 1 MB.
        self.query_all(&format!("PLAN#{id}"), Some("V#"))
            .await?
            .iter()
            .map(plan_of)
            .collect()
    }

    async fn delete(&self, id: &str, expected: u64) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(&format!("PLAN#{id}")))
            .key("sk", s("PLAN"))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", AttributeValue::N(expected.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let service = e.into_service_error();
                if service.is_conditional_check_failed_exception() {
                    return Err(match PlanStore::get(self, id).await? {
                        Some(current) => StoreError::Stale {
                            expected,
                            current: current.version,
                        },
                        None => StoreError::NotFound(format!("recovery plan `{id}`")),
                    });
                }
                Err(backend(service))
            }
        }
    }
}
