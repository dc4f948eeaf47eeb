//! Local data across restarts: the table (groups, plans, execution records, approvals,
//! audit, outbox) is written to `<data>/table.json` and read back into a fresh emulator.
//! Step Functions executions and DRS/EC2 state do not survive; records of executions that
//! were running are marked aborted, and their pending approvals cancelled.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::path::Path;

pub type Item = HashMap<String, AttributeValue>;

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("reading the table in the emulator: {0}")]
    Scan(String),
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a table snapshot: {message} (start with --reset to discard it)")]
    Corrupt { path: String, message: String },
    #[error("restoring an item: {0}")]
    Put(String),
}

/// DynamoDB's own JSON form of an attribute value.
pub fn to_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(_) => json!({"NULL": true}),
        AttributeValue::Ss(v) => json!({"SS": v}),
        AttributeValue::Ns(v) => json!({"NS": v}),
        AttributeValue::L(v) => json!({"L": v.iter().map(to_json).collect::<Vec<_>>()}),
        AttributeValue::M(m) => {
            let map: Map<String, Value> = m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect();
            json!({"M": map})
        }
        // Binary values are not used by this product.
        _ => json!({"NULL": true}),
    }
}

pub fn from_json(value: &Value) -> Result<AttributeValue, String> {
    let (kind, inner) = value
        .as_object()
        .and_then(|o| o.iter().next())
        .ok_or_else(|| format!("`{value}` is not an attribute value"))?;
    let strings = |v: &Value| -> Result<Vec<String>, String> {
        v.as_array()
            .ok_or_else(|| format!("`{v}` is not a list"))?
            .iter()
            .map(|s| {
                s.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("`{s}` is not a string"))
            })
            .collect()
    };
    let text = |v: &Value| {
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("`{v}` is not a string"))
    };
    Ok(match kind.as_str() {
        "S" => AttributeValue::S(text(inner)?),
        "N" => AttributeValue::N(text(inner)?),
        "BOOL" => AttributeValue::Bool(
            inner
                .as_bool()
                .ok_or_else(|| format!("`{inner}` is not a boolean"))?,
        ),
        "NULL" => AttributeValue::Null(true),
        "SS" => AttributeValue::Ss(strings(inner)?),
        "NS" => AttributeValue::Ns(strings(inner)?),
        "L" => AttributeValue::L(
            inner
                .as_array()
                .ok_or_else(|| format!("`{inner}` is not a list"))?
                .iter()
                .map(from_json)
                .collect::<Result<_, _>>()?,
        ),
        "M" => AttributeValue::M(
            inner
                .as_object()
                .ok_or_else(|| format!("`{inner}` is not a map"))?
                .iter()
                .map(|(k, v)| Ok((k.clone(), from_json(v)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => return Err(format!("attribute type `{other}` is not supported")),
    })
}

pub async fn scan(ddb: &aws_sdk_dynamodb::Client, table: &str) -> Result<Vec<Item>, PersistError> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = ddb
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| PersistError::Scan(format!("{:?}", e.into_service_error())))?;
        items.extend(page.items.unwrap_or_default());
        start = page.last_evaluated_key;
        if start.is_none() {
            return Ok(items);
        }
    }
}

/// The snapshot document: items sorted by key, so an unchanged table writes the same text.
pub fn document(items: &[Item]) -> Value {
    let mut rows: Vec<Value> = items
        .iter()
        .map(|item| {
            let map: Map<String, Value> =
                item.iter().map(|(k, v)| (k.clone(), to_json(v))).collect();
            Value::Object(map)
        })
        .collect();
    rows.sort_by_key(|row| format!("{}\u{0}{}", row["pk"], row["sk"]));
    json!({"format": "drs-orchestrator-local/1", "items": rows})
}

/// Writes the snapshot atomically (temporary file, then rename).
pub fn write(path: &Path, document: &Value) -> Result<(), PersistError> {
    let write_err = |source| PersistError::Write {
        path: path.display().to_string(),
        source,
    };
    let tmp = path.with_extension("json.tmp");
    let text =
        serde_json::to_vec_pretty(document).map_err(|e| write_err(std::io::Error::other(e)))?;
    std::fs::write(&tmp, text).map_err(write_err)?;
    std::fs::rename(&tmp, path).map_err(write_err)
}

pub fn read(path: &Path) -> Result<Vec<Item>, PersistError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| PersistError::Read {
        path: name.clone(),
        source,
    })?;
    let corrupt = |message: String| PersistError::Corrupt {
        path: name.clone(),
        message,
    };
    let doc: Value = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
    if doc["format"] != "drs-orchestrator-local/1" {
        return Err(corrupt(format!(
            "format `{}` is not drs-orchestrator-local/1",
            doc["format"]
        )));
    }
    doc["items"]
        .as_array()
        .ok_or_else(|| corrupt("`items` is not a list".into()))?
        .iter()
        .enumerate()
        .map(|(i, row)| {
            row.as_object()
                .ok_or_else(|| corrupt(format!("items[{i}] is not an object")))?
                .iter()
                .map(|(k, v)| {
                    Ok((
                        k.clone(),
                        from_json(v).map_err(|e| corrupt(format!("items[{i}].{k}: {e}")))?,
                    ))
                })
                .collect()
        })
        .collect()
}

/// What a restart means for records of work that was in flight.
pub fn settle(mut item: Item) -> Item {
    let get = |item: &Item, k: &str| {
        item.get(k)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    let (pk, sk, status) = (get(&item, "pk"), get(&item, "sk"), get(&item, "status"));
    if pk.starts_with("EXEC#") && sk == "EXECUTION" && status == "RUNNING" {
        item.insert("status".into(), AttributeValue::S("ABORTED".into()));
        item.insert(
            "errorName".into(),
            AttributeValue::S("Local.Restarted".into()),
        );
        item.insert(
            "errorCause".into(),
            AttributeValue::S("local mode stopped while the execution ran".into()),
        );
    }
    if pk.starts_with("APPROVAL#") && status == "PENDING" {
        item.insert("status".into(), AttributeValue::S("CANCELLED".into()));
    }
    item
}

pub async fn restore(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    items: Vec<Item>,
) -> Result<usize, PersistError> {
    let count = items.len();
    for item in items {
        ddb.put_item()
            .table_name(table)
            .set_item(Some(settle(item)))
            .send()
            .await
            .map_err(|e| PersistError::Put(format!("{:?}", e.into_service_error())))?;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_values_round_trip() {
        let value = AttributeValue::M(HashMap::from([
            ("s".into(), AttributeValue::S("x".into())),
            ("n".into(), AttributeValue::N("4".into())),
            ("b".into(), AttributeValue::Bool(true)),
            (
                "l".into(),
                AttributeValue::L(vec![AttributeValue::Null(true)]),
            ),
            (
                "ss".into(),
                AttributeValue::Ss(vec!["a".into(), "b".into()]),
            ),
        ]));
        assert_eq!(from_json(&to_json(&value)), Ok(value));
        assert!(from_json(&json!({"B": "AAAA"})).is_err());
        assert!(from_json(&json!("S")).is_err());
    }

    #[test]
    fn a_running_execution_and_its_pending_approval_are_settled() {
        let exec = Item::from([
            ("pk".into(), AttributeValue::S("EXEC#e1".into())),
            ("sk".into(), AttributeValue::S("EXECUTION".into())),
            ("status".into(), AttributeValue::S("RUNNING".into())),
        ]);
        let settled = settle(exec);
        assert_eq!(settled["status"], AttributeValue::S("ABORTED".into()));
        let approval = Item::from([
            ("pk".into(), AttributeValue::S("APPROVAL#a1".into())),
            ("sk".into(), AttributeValue::S("APPROVAL".into())),
            ("status".into(), AttributeValue::S("PENDING".into())),
        ]);
        assert_eq!(
            settle(approval)["status"],
            AttributeValue::S("CANCELLED".into())
        );
        let done = Item::from([
            ("pk".into(), AttributeValue::S("EXEC#e2".into())),
            ("sk".into(), AttributeValue::S("EXECUTION".into())),
            ("status".into(), AttributeValue::S("SUCCEEDED".into())),
        ]);
        assert_eq!(settle(done.clone()), done);
    }

    #[test]
    fn a_corrupt_snapshot_is_named() {
        let dir = std::env::temp_dir().join(format!("drs-local-persist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("table.json");
        std::fs::write(&path, "{\"format\": \"other\"}").expect("write");
        let err = read(&path).expect_err("refused").to_string();
        assert!(
            err.contains("table.json") && err.contains("--reset"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
