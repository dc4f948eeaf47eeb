//! DynamoDB items as JSON for clients, never including task tokens or keys.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

const HIDDEN: [&str; 5] = ["pk", "sk", "taskToken", "lockToken", "pauseToken"];

pub fn value(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => json!(s),
        AttributeValue::N(n) => n
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| n.parse::<f64>().map(Value::from))
            .unwrap_or_else(|_| json!(n)),
        AttributeValue::Bool(b) => json!(b),
        AttributeValue::Ss(items) => json!(items),
        AttributeValue::Ns(items) => json!(items),
        AttributeValue::L(items) => Value::Array(items.iter().map(value).collect()),
        AttributeValue::M(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), value(v))).collect())
        }
        _ => Value::Null,
    }
}

pub fn item(item: &HashMap<String, AttributeValue>) -> Value {
    let mut out: Map<String, Value> = item
        .iter()
        .filter(|(k, _)| !HIDDEN.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), value(v)))
        .collect();
    out.sort_keys();
    Value::Object(out)
}

pub use crate::store::{number, text};
