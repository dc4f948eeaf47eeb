//! The outbox: every message SNS would have emailed, captured through an HTTP subscription
//! to the notifications topic, kept in the table (so it survives restarts), printed to the
//! console and listed at `GET /api/outbox` for any signed-in user.
//!
//! Only the emulator can deliver: the subscription's endpoint is
//! `/_local/sns/<secret>`, with a secret made at start and given to no one but the
//! emulator (in the subscription). Any other POST is answered 403. Nothing in a message
//! is ever fetched: a `SubscriptionConfirmation` is acknowledged and ignored (moto
//! delivers to HTTP subscriptions without a confirmation).

use api::auth::Authenticator;
use api::error::ApiError;
use aws_sdk_dynamodb::types::AttributeValue;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

const PK: &str = "OUTBOX";

pub struct Outbox {
    pub ddb: aws_sdk_dynamodb::Client,
    pub table: String,
    pub auth: Arc<dyn Authenticator>,
    /// Print each message to the console (local mode) or not (tests).
    pub print: bool,
    /// The path segment after `/_local/sns/` that only the emulator knows.
    pub secret: String,
    /// The notifications topic: messages of any other topic are refused.
    pub topic_arn: String,
}

/// A new secret: 128 random bits from the kernel, in hex.
pub fn new_secret() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Equal, in a time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: String,
    pub sent_at: String,
    pub subject: String,
    pub message: String,
    /// Links in the message (approval links land on `/approvals/<id>`).
    pub links: Vec<String>,
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn text(item: &HashMap<String, AttributeValue>, key: &str) -> String {
    item.get(key)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

/// Every http(s) URL in the text.
pub fn links(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == '"' || c == '<' || c == '>')
        .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
        .map(|w| w.trim_end_matches(['.', ',', ')', ';']).to_owned())
        .collect()
}

impl Outbox {
    async fn store(&self, message: &Message) -> Result<(), String> {
        self.ddb
            .put_item()
            .table_name(&self.table)
            .item("pk", s(PK))
            .item("sk", s(&format!("{}#{}", message.sent_at, message.id)))
            .item("id", s(&message.id))
            .item("sentAt", s(&message.sent_at))
            .item("subject", s(&message.subject))
            .item("message", s(&message.message))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("{:?}", e.into_service_error()))
    }

    pub async fn list(&self, limit: i32) -> Result<Vec<Message>, String> {
        let out = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(PK))
            .scan_index_forward(false)
            .limit(limit)
            .send()
            .await
            .map_err(|e| format!("{:?}", e.into_service_error()))?;
        Ok(out
            .items()
            .iter()
            .map(|item| {
                let message = text(item, "message");
                Message {
                    id: text(item, "id"),
                    sent_at: text(item, "sentAt"),
                    subject: text(item, "subject"),
                    links: links(&message),
                    message,
                }
            })
            .collect())
    }
}

/// `POST /_local/sns` (no secret): refused.
pub async fn refuse() -> StatusCode {
    StatusCode::FORBIDDEN
}

/// `POST /_local/sns/<secret>`: SNS's HTTP delivery (moto posts the notification JSON).
pub async fn receive(
    State(outbox): State<Arc<Outbox>>,
    Path(secret): Path<String>,
    body: String,
) -> StatusCode {
    if !same(secret.as_bytes(), outbox.secret.as_bytes()) {
        return StatusCode::FORBIDDEN;
    }
    let Ok(note) = serde_json::from_str::<Value>(&body) else {
        tracing::warn!(body = %body.chars().take(200).collect::<String>(), "outbox: not SNS JSON");
        return StatusCode::BAD_REQUEST;
    };
    let field = |k: &str| {
        note.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    match field("Type").as_str() {
        "Notification" => {}
        // Never fetch a URL from a message: moto needs no confirmation.
        "SubscriptionConfirmation" | "UnsubscribeConfirmation" => return StatusCode::OK,
        _ => return StatusCode::BAD_REQUEST,
    }
    if field("TopicArn") != outbox.topic_arn {
        return StatusCode::FORBIDDEN;
    }
    let message = Message {
        id: field("MessageId"),
        sent_at: Some(field("Timestamp"))
            .filter(|t| !t.is_empty())
            .unwrap_or_else(api::now),
        subject: field("Subject"),
        links: links(&field("Message")),
        message: field("Message"),
    };
    if outbox.print {
        println!(
            "\n📧 outbox: {}\n{}\n",
            if message.subject.is_empty() {
                "(no subject)"
            } else {
                &message.subject
            },
            message.message
        );
    }
    match outbox.store(&message).await {
        Ok(()) => StatusCode::OK,
        Err(e) => {
            tracing::error!(error = %e, "outbox: could not store the message");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

/// `GET /api/outbox`: the newest 100 messages, for any signed-in user.
pub async fn list(
    State(outbox): State<Arc<Outbox>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::unauthorized("sign in: send `Authorization: Bearer <token>`"))?;
    outbox
        .auth
        .authenticate(token)
        .await
        .map_err(|e| ApiError::unauthorized(e.to_string()))?;
    let items = outbox.list(100).await.map_err(ApiError::internal)?;
    Ok(Json(serde_json::json!({ "items": items })))
}

#[cfg(test)]
mod tests {
    use super::{links, new_secret, same};

    #[test]
    fn secrets_are_new_each_time_and_compared_whole() {
        let (a, b) = (
            new_secret().expect("urandom"),
            new_secret().expect("urandom"),
        );
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(same(a.as_bytes(), a.clone().as_bytes()));
        assert!(!same(a.as_bytes(), b.as_bytes()));
        assert!(!same(a.as_bytes(), &a.as_bytes()[..31]));
        assert!(!same(b"", a.as_bytes()));
    }

    #[test]
    fn links_are_found_in_approval_emails() {
        let text = "Approve: http://127.0.0.1:8080/approvals/abc-123. Details: https://x.example/executions/e1, or not";
        assert_eq!(
            links(text),
            [
                "http://127.0.0.1:8080/approvals/abc-123",
                "https://x.example/executions/e1"
            ]
        );
        assert!(links("no links here").is_empty());
    }
}
