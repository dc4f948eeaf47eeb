//! Persistence behind small traits; the DynamoDB adapter maps items to and from the
//! domain types, which know nothing of attribute values.
//!
//! One table (the one the state machines write progress to), keyed `pk`/`sk`:
//! `GROUP#<id>`/`GROUP` for a protection group, `SERVER#<id>`/`OWNER` for the group that
//! owns a source server (written in the same transactions as the group, so a server is
//! owned once), `AUDIT#<day>`/`<time>#<id>` for the audit trail.

mod plans;
mod runs;

pub use plans::{PlanStore, StoredPlan};
pub use runs::{Item, LockError, RunStore, StartRecord};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// A protection group as stored: the definition, the servers it resolved to, and its
/// version for optimistic locking.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredGroup {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Explicit server IDs (empty for a tag-selected group).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_selector: Option<BTreeMap<String, String>>,
    /// The servers the group owns: the explicit list, or what the selector matched.
    pub resolved_servers: Vec<String>,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
    pub updated_by: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    #[error("server `{server}` already belongs to protection group `{owner}`")]
    Owned { server: String, owner: String },
    #[error("{0} already exists")]
    Exists(String),
    #[error("version {expected} is stale; the current version is {current}")]
    Stale { expected: u64, current: u64 },
    #[error("{0} does not exist")]
    NotFound(String),
    #[error("DynamoDB: {0}")]
    Backend(String),
}

#[async_trait]
pub trait GroupStore: Send + Sync {
    async fn list(&self) -> Result<Vec<StoredGroup>, StoreError>;
    async fn get(&self, id: &str) -> Result<Option<StoredGroup>, StoreError>;
    /// Creates the group and claims its servers, all or nothing.
    async fn create(&self, group: &StoredGroup) -> Result<(), StoreError>;
    /// Replaces the group if it is still at `expected` version; claims new servers and
    /// releases dropped ones.
    async fn update(
        &self,
        group: &StoredGroup,
        expected: u64,
        previous: &[String],
    ) -> Result<(), StoreError>;
    async fn delete(&self, id: &str, expected: u64) -> Result<(), StoreError>;
    /// Server ID → owning group ID.
    async fn owners(&self) -> Result<HashMap<String, String>, StoreError>;
}

#[async_trait]
pub trait AuditLog: Send + Sync {
    async fn record(&self, entry: AuditEntry) -> Result<(), StoreError>;
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub at: String,
    pub user: String,
    pub action: String,
    pub target: String,
    pub status: u16,
    pub request_id: String,
}

pub struct Dynamo {
    pub client: Client,
    pub table: String,
}

/// DynamoDB takes at most 100 actions per transaction.
const TRANSACTION_LIMIT: usize = 100;

pub(crate) fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

pub(crate) fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn group_key(id: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".into(), s(&format!("GROUP#{id}"))),
        ("sk".into(), s("GROUP")),
    ])
}

fn owner_key(server: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".into(), s(&format!("SERVER#{server}"))),
        ("sk".into(), s("OWNER")),
    ])
}

impl From<&StoredGroup> for HashMap<String, AttributeValue> {
    fn from(g: &StoredGroup) -> Self {
        let list = |items: &[String]| AttributeValue::L(items.iter().map(|i| s(i)).collect());
        let mut item = group_key(&g.id);
        item.insert("id".into(), s(&g.id));
        item.insert("name".into(), s(&g.name));
        if let Some(d) = &g.description {
            item.insert("description".into(), s(d));
        }
        item.insert("servers".into(), list(&g.servers));
        if let Some(selector) = &g.tag_selector {
            item.insert(
                "tagSelector".into(),
                AttributeValue::M(selector.iter().map(|(k, v)| (k.clone(), s(v))).collect()),
            );
        }
        item.insert("resolvedServers".into(), list(&g.resolved_servers));
        item.insert("version".into(), AttributeValue::N(g.version.to_string()));
        item.insert("createdAt".into(), s(&g.created_at));
        item.insert("updatedAt".into(), s(&g.updated_at));
        item.insert("updatedBy".into(), s(&g.updated_by));
        item
    }
}

impl TryFrom<&HashMap<String, AttributeValue>> for StoredGroup {
    type Error = StoreError;

    fn try_from(item: &HashMap<String, AttributeValue>) -> Result<Self, StoreError> {
        let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
        let need =
            |k: &str| text(k).ok_or_else(|| StoreError::Backend(format!("group item lacks `{k}`")));
        let list = |k: &str| -> Vec<String> {
            item.get(k)
                .and_then(|v| v.as_l().ok())
                .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
                .unwrap_or_default()
        };
        Ok(StoredGroup {
            id: need("id")?,
            name: need("name")?,
            description: text("description"),
            servers: list("servers"),
            tag_selector: item
                .get("tagSelector")
                .and_then(|v| v.as_m().ok())
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_s().ok()?.clone())))
                        .collect()
                }),
            resolved_servers: list("resolvedServers"),
            version: item
                .get("version")
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
            created_at: text("createdAt").unwrap_or_default(),
            updated_at: text("updatedAt").unwrap_or_default(),
            updated_by: text("updatedBy").unwrap_or_default(),
        })
    }
}

impl Dynamo {
    /// Every item of one kind (sort key), all pages.
    pub(crate) async fn scan_kind(
        &self,
        sort: &str,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("sk = :k")
                .expression_attribute_values(":k", s(sort))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| backend(e.into_service_error()))?;
            out.extend(page.items().iter().cloned());
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(out);
            }
        }
    }

    /// Every item under partition key `pk` (whose sort key starts with `prefix`, if given),
    /// all pages; consistent, so a record just written is read.
    pub(crate) async fn query_all(
        &self,
        pk: &str,
        prefix: Option<&str>,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .expression_attribute_values(":pk", s(pk))
                .consistent_read(true)
                .set_exclusive_start_key(start);
            query = match prefix {
                Some(prefix) => query
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":prefix", s(prefix)),
                None => query.key_condition_expression("pk = :pk"),
            };
            let page = query
                .send()
                .await
                .map_err(|e| backend(e.into_service_error()))?;
            out.extend(page.items().iter().cloned());
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(out);
            }
        }
    }

    fn claim(&self, server: &str, group: &str) -> TransactWriteItem {
        let mut item = owner_key(server);
        item.insert("groupId".into(), s(group));
        item.insert("serverId".into(), s(server));
        TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(pk) OR groupId = :g")
                    .expression_attribute_values(":g", s(group))
                    .build()
                    .expect("table, item set"),
            )
            .build()
    }

    fn release(&self, server: &str, group: &str) -> TransactWriteItem {
        TransactWriteItem::builder()
            .delete(
                Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(owner_key(server)))
                    .condition_expression("attribute_not_exists(pk) OR groupId = :g")
                    .expression_attribute_values(":g", s(group))
                    .build()
                    .expect("table, key set"),
            )
            .build()
    }

    /// Runs actions in transactions of at most 100. On a conditional failure, returns the
    /// index (into `actions`) of the action whose condition failed.
    async fn transact(
        &self,
        actions: Vec<TransactWriteItem>,
    ) -> Result<(), (Option<usize>, StoreError)> {
        let mut offset = 0;
        let chunks: Vec<Vec<TransactWriteItem>> = actions
            .chunks(TRANSACTION_LIMIT)
            .map(<[TransactWriteItem]>::to_vec)
            .collect();
        for chunk in chunks {
            let len = chunk.len();
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(chunk))
                .send()
                .await;
            if let Err(e) = result {
                let service = e.into_service_error();
                if let aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(cancelled) = &service {
                    let failed = cancelled
                        .cancellation_reasons()
                        .iter()
                        .position(|r| r.code() == Some("ConditionalCheckFailed"));
                    return Err((failed.map(|i| offset + i), backend(&service)));
                }
                return Err((None, backend(&service)));
            }
            offset += len;
        }
        Ok(())
    }

    async fn owner_of(&self, server: &str) -> Option<String> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(owner_key(server)))
            .consistent_read(true)
            .send()
            .await
            .ok()?;
        out.item?.get("groupId")?.as_s().ok().cloned()
    }

    /// Claims servers for a group, chunk by chunk; on a conflict, releases what this call
    /// claimed and names the server and its owner.
    async fn claim_all(&self, group: &str, servers: &[String]) -> Result<(), StoreError> {
        let actions = servers.iter().map(|srv| self.claim(srv, group)).collect();
        match self.transact(actions).await {
            Ok(()) => Ok(()),
            Err((failed, error)) => {
                let done = failed.map(|i| i - i % TRANSACTION_LIMIT).unwrap_or(0);
                let undo = servers[..done]
                    .iter()
                    .map(|srv| self.release(srv, group))
                    .collect();
                let _ = self.transact(undo).await;
                match failed {
                    Some(i) => {
                        let server = servers[i].clone();
                        let owner = self.owner_of(&server).await.unwrap_or_else(|| "?".into());
                        Err(StoreError::Owned { server, owner })
                    }
                    None => Err(error),
                }
            }
        }
    }
}

#[async_trait]
impl GroupStore for Dynamo {
    async fn list(&self) -> Result<Vec<StoredGroup>, StoreError> {
        let mut groups = self
            .scan_kind("GROUP")
            .await?
            .iter()
            .map(StoredGroup::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(groups)
    }

    async fn get(&self, id: &str) -> Result<Option<StoredGroup>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(group_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend(e.into_service_error()))?;
        out.item.as_ref().map(StoredGroup::try_from).transpose()
    }

    async fn create(&self, group: &StoredGroup) -> Result<(), StoreError> {
        self.claim_all(&group.id, &group.resolved_servers).await?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(group.into()))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        if let Err(e) = put {
            let undo = group
                .resolved_servers
                .iter()
                .map(|srv| self.release(srv, &group.id))
                .collect();
            let _ = self.transact(undo).await;
            let service = e.into_service_error();
            return Err(if service.is_conditional_check_failed_exception() {
                StoreError::Exists(format!("protection group `{}`", group.id))
            } else {
                backend(service)
            });
        }
        Ok(())
    }

    async fn update(
        &self,
        group: &StoredGroup,
        expected: u64,
        previous: &[String],
    ) -> Result<(), StoreError> {
        let added: Vec<String> = group
            .resolved_servers
            .iter()
            .filter(|s| !previous.contains(s))
            .cloned()
            .collect();
        self.claim_all(&group.id, &added).await?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(group.into()))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", AttributeValue::N(expected.to_string()))
            .send()
            .await;
        if let Err(e) = put {
            let undo = added
                .iter()
                .map(|srv| self.release(srv, &group.id))
                .collect();
            let _ = self.transact(undo).await;
            let service = e.into_service_error();
            if service.is_conditional_check_failed_exception() {
                let current = GroupStore::get(self, &group.id).await?.map(|g| g.version);
                return Err(match current {
                    Some(current) => StoreError::Stale { expected, current },
                    None => StoreError::NotFound(format!("protection group `{}`", group.id)),
                });
            }
            return Err(backend(service));
        }
        let dropped = previous
            .iter()
            .filter(|s| !group.resolved_servers.contains(s))
            .map(|srv| self.release(srv, &group.id))
            .collect();
        self.transact(dropped).await.map_err(|(_, e)| e)
    }

    async fn delete(&self, id: &str, expected: u64) -> Result<(), StoreError> {
        let Some(group) = GroupStore::get(self, id).await? else {
            return Err(StoreError::NotFound(format!("protection group `{id}`")));
        };
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(group_key(id)))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", AttributeValue::N(expected.to_string()))
            .send()
            .await;
        if let Err(e) = deleted {
            let service = e.into_service_error();
            return Err(if service.is_conditional_check_failed_exception() {
                StoreError::Stale {
                    expected,
                    current: group.version,
                }
            } else {
                backend(service)
            });
        }
        let releases = group
            .resolved_servers
            .iter()
            .map(|srv| self.release(srv, id))
            .collect();
        self.transact(releases).await.map_err(|(_, e)| e)
    }

    async fn owners(&self) -> Result<HashMap<String, String>, StoreError> {
        Ok(self
            .scan_kind("OWNER")
            .await?
            .iter()
            .filter_map(|item| {
                Some((
                    item.get("serverId")?.as_s().ok()?.clone(),
                    item.get("groupId")?.as_s().ok()?.clone(),
                ))
            })
            .collect())
    }
}

#[async_trait]
impl AuditLog for Dynamo {
    async fn record(&self, entry: AuditEntry) -> Result<(), StoreError> {
        let day = entry.at.get(..10).unwrap_or("unknown").to_owned();
        let item = HashMap::from([
            ("pk".to_owned(), s(&format!("AUDIT#{day}"))),
            (
                "sk".to_owned(),
                s(&format!("{}#{}", entry.at, entry.request_id)),
            ),
            ("user".to_owned(), s(&entry.user)),
            ("action".to_owned(), s(&entry.action)),
            ("target".to_owned(), s(&entry.target)),
            (
                "status".to_owned(),
                AttributeValue::N(entry.status.to_string()),
            ),
            ("at".to_owned(), s(&entry.at)),
        ]);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| backend(e.into_service_error()))
    }
}
