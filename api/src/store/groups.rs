//! Protection groups at `GROUP#<id>`/`GROUP`, and the owner record of each server they
//! claim at `SERVER#<id>`/`OWNER`: a server is owned once. Claims carry the writing
//! request's token, so an undo only ever gives back its own.

use super::{Dynamo, StoreError, backend, s};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// DynamoDB takes at most 100 actions per transaction.
const TRANSACTION_LIMIT: usize = 100;

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

#[async_trait]
pub trait GroupStore: Send + Sync {
    async fn list(&self) -> Result<Vec<StoredGroup>, StoreError>;
    async fn get(&self, id: &str) -> Result<Option<StoredGroup>, StoreError>;
    /// The groups of these ids that exist, read in batches a few at a time.
    async fn get_many(&self, ids: &[String]) -> Result<Vec<StoredGroup>, StoreError>;
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
            |k: &str| text(k).ok_or_else(|| StoreError::Corrupt(format!("group item lacks `{k}`")));
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
    /// Claims an unowned server, marked with this write's `claim` token. A server owned
    /// already — by another group, or by this group through another request — is a
    /// conflict, so two writers never both believe they claimed it.
    fn claim(&self, server: &str, group: &str, claim: &str) -> TransactWriteItem {
        let mut item = owner_key(server);
        item.insert("groupId".into(), s(group));
        item.insert("serverId".into(), s(server));
        item.insert("claim".into(), s(claim));
        TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(pk)")
                    .build()
                    .expect("table, item set"),
            )
            .build()
    }

    /// Gives back what one write claimed: only owner records carrying its token, so an
    /// undo never removes a claim another writer made.
    async fn unclaim(&self, servers: &[String], claim: &str) {
        use futures::StreamExt;
        let deletes = servers.iter().map(|server| async move {
            let result = self
                .client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(owner_key(server)))
                .condition_expression("claim = :c")
                .expression_attribute_values(":c", s(claim))
                .send()
                .await;
            if let Err(e) = result {
                let e = e.into_service_error();
                if !e.is_conditional_check_failed_exception() {
                    tracing::warn!(server = %server, error = %e, "claim not given back");
                }
            }
        });
        futures::stream::iter(deletes.collect::<Vec<_>>())
            .buffer_unordered(16)
            .collect::<Vec<()>>()
            .await;
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
                let failed = match &service {
                    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(cancelled) => cancelled
                        .cancellation_reasons()
                        .iter()
                        .position(|r| r.code() == Some("ConditionalCheckFailed")),
                    _ => None,
                };
                return Err((failed.map(|i| offset + i), backend(service)));
            }
            offset += len;
        }
        Ok(())
    }

    /// One BatchGetItem of up to 100 groups, with its unprocessed keys read again.
    async fn batch_get_groups(&self, ids: &[String]) -> Result<Vec<StoredGroup>, StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut keys: Vec<HashMap<String, AttributeValue>> =
            ids.iter().map(|id| group_key(id)).collect();
        let mut out = Vec::new();
        for attempt in 0..8u32 {
            if keys.is_empty() {
                return Ok(out);
            }
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt.min(5))).await;
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut keys)))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let page = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| backend(e.into_service_error()))?;
            if let Some(items) = page.responses.as_ref().and_then(|r| r.get(&self.table)) {
                for item in items {
                    out.push(StoredGroup::try_from(item)?);
                }
            }
            keys = page
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .map(|k| k.keys)
                .unwrap_or_default();
        }
        if keys.is_empty() {
            Ok(out)
        } else {
            Err(StoreError::Backend(format!(
                "BatchGetItem left {} keys unprocessed",
                keys.len()
            )))
        }
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

    /// Claims servers for a group, chunk by chunk, with the token `claim`; on a conflict,
    /// gives back what this call claimed and names the server and its owner.
    async fn claim_all(
        &self,
        group: &str,
        servers: &[String],
        claim: &str,
    ) -> Result<(), StoreError> {
        let actions = servers
            .iter()
            .map(|srv| self.claim(srv, group, claim))
            .collect();
        match self.transact(actions).await {
            Ok(()) => Ok(()),
            Err((failed, error)) => {
                let done = failed.map(|i| i - i % TRANSACTION_LIMIT).unwrap_or(0);
                self.unclaim(&servers[..done], claim).await;
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

    async fn get_many(&self, ids: &[String]) -> Result<Vec<StoredGroup>, StoreError> {
        use futures::StreamExt;
        // BatchGetItem reads at most 100 keys; four batches in flight.
        let batches = ids.chunks(100).map(|chunk| self.batch_get_groups(chunk));
        let results: Vec<Result<Vec<StoredGroup>, StoreError>> =
            futures::stream::iter(batches.collect::<Vec<_>>())
                .buffer_unordered(4)
                .collect()
                .await;
        let mut out = Vec::with_capacity(ids.len());
        for batch in results {
            out.extend(batch?);
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    async fn create(&self, group: &StoredGroup) -> Result<(), StoreError> {
        let claim = uuid::Uuid::new_v4().simple().to_string();
        self.claim_all(&group.id, &group.resolved_servers, &claim)
            .await?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(group.into()))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        if let Err(e) = put {
            self.unclaim(&group.resolved_servers, &claim).await;
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
        let claim = uuid::Uuid::new_v4().simple().to_string();
        self.claim_all(&group.id, &added, &claim).await?;
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
            // The loser of two concurrent updates gives back only its own claims.
            self.unclaim(&added, &claim).await;
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
