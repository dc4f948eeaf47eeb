//! DRS's EventBridge events, as DRS sends them: one "DRS Source Server Launch Result" per
//! source server of a recovery job once its launch ends, on the account's default bus,
//! with `source: aws.drs`, the source server's ARN as the only resource and
//! `detail: {state, job-id}`. The simulator puts them on moto's EventBridge (PutEvents),
//! whose rules deliver them as AWS's would. Delivery is best effort on AWS, so faults can
//! drop or duplicate a server's event.

use serde::{Deserialize, Serialize};
use serde_json::json;

pub const SOURCE: &str = "aws.drs";
pub const LAUNCH_RESULT: &str = "DRS Source Server Launch Result";

/// A launch result waiting to be put on the bus.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchResult {
    pub job: String,
    pub source_server: String,
    pub launched: bool,
}

/// What happens to a source server's launch result event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EventFault {
    /// Never delivered.
    Drop,
    /// Delivered twice.
    Duplicate,
}

impl LaunchResult {
    /// The PutEvents entry, for `region` and `account`.
    pub fn entry(&self, region: &str, account: &str) -> serde_json::Value {
        let state = if self.launched {
            "LAUNCH_SUCCEEDED"
        } else {
            "LAUNCH_FAILED"
        };
        json!({
            "Source": SOURCE,
            "DetailType": LAUNCH_RESULT,
            "Resources": [format!("arn:aws:drs:{region}:{account}:source-server/{}", self.source_server)],
            "Detail": json!({"state": state, "job-id": self.job}).to_string(),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("EventBridge emulator at {url} did not answer: {source}")]
    Unreachable { url: String, source: reqwest::Error },
    #[error("EventBridge emulator refused {action}: HTTP {status}: {body}")]
    Refused {
        action: String,
        status: u16,
        body: String,
    },
}

/// One EventBridge call (JSON 1.1) to the emulator at `url`.
pub async fn call(
    client: &reqwest::Client,
    url: &str,
    region: &str,
    action: &str,
    body: &serde_json::Value,
) -> Result<serde_json::Value, EventsError> {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=drssim/20250101/{region}/events/aws4_request, SignedHeaders=host, Signature=0"
    );
    let response = client
        .post(format!("{}/", url.trim_end_matches('/')))
        .header("Authorization", auth)
        .header("X-Amz-Target", format!("AWSEvents.{action}"))
        .header("Content-Type", "application/x-amz-json-1.1")
        .body(body.to_string())
        .send()
        .await
        .map_err(|source| EventsError::Unreachable {
            url: url.to_owned(),
            source,
        })?;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    if status >= 300 {
        return Err(EventsError::Refused {
            action: action.to_owned(),
            status,
            body: text,
        });
    }
    Ok(serde_json::from_str(&text).unwrap_or_default())
}

/// Puts entries on moto's default event bus (at most 10 per call, as PutEvents allows).
pub async fn put(
    client: &reqwest::Client,
    url: &str,
    region: &str,
    entries: &[serde_json::Value],
) -> Result<(), EventsError> {
    for chunk in entries.chunks(10) {
        call(client, url, region, "PutEvents", &json!({"Entries": chunk})).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_carry_what_drs_documents() {
        let event = LaunchResult {
            job: "drsjob-1".into(),
            source_server: "s-1".into(),
            launched: true,
        };
        let entry = event.entry("us-east-1", "123456789012");
        assert_eq!(entry["Source"], "aws.drs");
        assert_eq!(entry["DetailType"], "DRS Source Server Launch Result");
        assert_eq!(
            entry["Resources"][0],
            "arn:aws:drs:us-east-1:123456789012:source-server/s-1"
        );
        let detail: serde_json::Value =
            serde_json::from_str(entry["Detail"].as_str().unwrap_or("")).unwrap_or_default();
        assert_eq!(detail["job-id"], "drsjob-1");
    }
}
