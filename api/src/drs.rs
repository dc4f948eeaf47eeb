//! DRS source servers, behind a trait: the real `aws-sdk-drs` client (every page).

use crate::error::ApiError;
use async_trait::async_trait;
use serde::Serialize;

pub type Tags = std::collections::BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceServer {
    pub id: String,
    pub hostname: String,
    pub tags: Tags,
    pub replication_state: String,
    pub lag_seconds: u64,
    /// DRS's launch status of the server's last launch, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_launch: Option<String>,
}

impl SourceServer {
    pub fn matches(&self, selector: &Tags) -> bool {
        !selector.is_empty() && selector.iter().all(|(k, v)| self.tags.get(k) == Some(v))
    }
}

#[async_trait]
pub trait SourceServers: Send + Sync {
    async fn list(&self) -> Result<Vec<SourceServer>, ApiError>;
}

pub struct Drs(pub aws_sdk_drs::Client);

/// `PT1800S`, `PT1H2M3S`, `P1DT2H` → seconds; anything else → 0.
pub fn iso_duration_seconds(text: &str) -> u64 {
    let Some(rest) = text.strip_prefix('P') else {
        return 0;
    };
    let mut total = 0u64;
    let mut number = String::new();
    let mut in_time = false;
    for c in rest.chars() {
        match c {
            'T' => in_time = true,
            '0'..='9' | '.' => number.push(c),
            unit => {
                let value = number.parse::<f64>().unwrap_or(0.0) as u64;
                number.clear();
                total += value
                    * match (unit, in_time) {
                        ('D', false) => 86_400,
                        ('W', false) => 604_800,
                        ('H', true) => 3_600,
                        ('M', true) => 60,
                        ('S', true) => 1,
                        _ => 0,
                    };
            }
        }
    }
    total
}

#[async_trait]
impl SourceServers for Drs {
    async fn list(&self) -> Result<Vec<SourceServer>, ApiError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .0
                .describe_source_servers()
                .max_results(1_000)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| {
                    ApiError::unavailable(format!("DRS DescribeSourceServers failed: {e}"))
                })?;
            for s in page.items() {
                let Some(id) = s.source_server_id() else {
                    continue;
                };
                let replication = s.data_replication_info();
                out.push(SourceServer {
                    id: id.to_owned(),
                    hostname: s
                        .source_properties()
                        .and_then(|p| p.identification_hints())
                        .and_then(|h| h.hostname())
                        .unwrap_or_default()
                        .to_owned(),
                    tags: s
                        .tags()
                        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default(),
                    replication_state: replication
                        .and_then(|r| r.data_replication_state())
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                    lag_seconds: replication
                        .and_then(|r| r.lag_duration())
                        .map(iso_duration_seconds)
                        .unwrap_or(0),
                    last_launch: s
                        .life_cycle()
                        .and_then(|l| l.last_launch())
                        .and_then(|l| l.status())
                        .map(|s| s.as_str().to_owned()),
                });
            }
            token = page.next_token;
            if token.is_none() {
                return Ok(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_durations() {
        assert_eq!(iso_duration_seconds("PT1800S"), 1_800);
        assert_eq!(iso_duration_seconds("P1DT1H1M1S"), 90_061);
        assert_eq!(iso_duration_seconds("garbage"), 0);
    }
}
