//! Persistence behind small traits; the DynamoDB adapter maps items to and from the
//! domain types, which know nothing of attribute values.
//!
//! One table (the one the state machines write progress to), keyed `pk`/`sk`:
//! `GROUP#<id>`/`GROUP` for a protection group, `SERVER#<id>`/`OWNER` for the group that
//! owns a source server (conditional claims, so a server is owned once: `groups`),
//! `PLAN#…` (`plans`), `EXEC#…`, `LOCK#…`, `APPROVAL#…` (`runs`), and
//! `AUDIT#<day>`/`<time>#<request id>` for the audit trail.

mod groups;
mod plans;
mod runs;

pub use groups::{GroupStore, StoredGroup};
pub use plans::{PlanStore, StoredPlan};
pub use runs::{DecisionRecord, Item, LockError, LockHolder, RunStore, StartRecord};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use std::collections::HashMap;

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
    /// The write is larger than DynamoDB keeps in an item (bad input, not an outage).
    #[error("{0} is too large to store")]
    TooLarge(String),
    /// An item that does not read as what it should be (a bug or a hand edit).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// DynamoDB did not answer (outage, throttling, network).
    #[error("DynamoDB: {0}")]
    Backend(String),
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
    /// The server's own id for the request: unique, part of the record's key.
    pub request_id: String,
    /// What the client or API Gateway called the request, kept for tracing only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_request_id: Option<String>,
}

pub struct Dynamo {
    pub client: Client,
    pub table: String,
}

/// A string attribute of an item, empty when absent.
pub fn text(item: &HashMap<String, AttributeValue>, key: &str) -> String {
    item.get(key)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

/// A number attribute of an item, 0 when absent or not a whole number.
pub fn number(item: &HashMap<String, AttributeValue>, key: &str) -> u64 {
    item.get(key)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

pub(crate) fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

/// Classifies a DynamoDB error by its code: an item too large is the caller's input; a
/// validation error is ours; anything else is the service not answering.
pub(crate) fn backend<E>(e: E) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::fmt::Display,
{
    let code = e.code().unwrap_or_default().to_owned();
    let message = e.message().unwrap_or_default().to_owned();
    let detail = format!("{e} ({code}: {message})");
    // A transaction refused for an item's size says so in its cancellation reasons.
    let invalid = code == "ValidationException"
        || (code == "TransactionCanceledException" && message.contains("ValidationError"));
    if invalid && message.contains("size") {
        StoreError::TooLarge(format!("the item ({message})"))
    } else if invalid {
        StoreError::Corrupt(detail)
    } else {
        StoreError::Backend(detail)
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
}

#[async_trait]
impl AuditLog for Dynamo {
    async fn record(&self, entry: AuditEntry) -> Result<(), StoreError> {
        let day = entry.at.get(..10).unwrap_or("unknown").to_owned();
        let mut item = HashMap::from([
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
            ("requestId".to_owned(), s(&entry.request_id)),
        ]);
        if let Some(client) = &entry.client_request_id {
            item.insert("clientRequestId".to_owned(), s(client));
        }
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            // The key is the server's unique id: a record is never overwritten.
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| backend(e.into_service_error()))
    }
}
