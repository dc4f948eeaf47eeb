//! `Custom::SpaConfig`: writes the SPA's `config.json` (user pool, app client, sign-in
//! domain) into the site bucket, so one build of the SPA serves any deployment.

use super::{Call, CustomResourceError, Kind, Outcome};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

pub const TYPE: &str = "Custom::SpaConfig";

/// The object store the custom resources write to and empty.
#[async_trait]
pub trait Objects: Send + Sync {
    async fn put_json(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), String>;
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), String>;
    /// Deletes every object version and delete marker; returns how many were deleted.
    async fn empty(&self, bucket: &str) -> Result<usize, String>;
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Properties {
    bucket_name: String,
    #[serde(default = "default_key")]
    key: String,
    /// Written as given; CloudFormation passes every scalar as a string.
    config: serde_json::Map<String, Value>,
}

fn default_key() -> String {
    "config.json".into()
}

pub async fn handle(objects: &dyn Objects, call: &Call) -> Result<Outcome, CustomResourceError> {
    let props: Properties = call.properties()?;
    let physical_id = format!("s3://{}/{}", props.bucket_name, props.key);
    match call.kind {
        Kind::Create | Kind::Update => {
            let body = serde_json::to_vec_pretty(&props.config)
                .map_err(|e| CustomResourceError::Service(e.to_string()))?;
            objects
                .put_json(&props.bucket_name, &props.key, body)
                .await
                .map_err(|e| CustomResourceError::Service(format!("writing {physical_id}: {e}")))?;
            // Moving the object: the old one goes when CloudFormation deletes the old
            // physical id.
        }
        Kind::Delete => {
            // A bucket that is already gone has no config to delete.
            if let Err(e) = objects.delete(&props.bucket_name, &props.key).await
                && !e.contains("NoSuchBucket")
            {
                return Err(CustomResourceError::Service(format!(
                    "deleting {physical_id}: {e}"
                )));
            }
        }
    }
    Ok(Outcome {
        physical_id,
        ..Outcome::default()
    })
}

#[async_trait]
impl Objects for aws_sdk_s3::Client {
    async fn put_json(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), String> {
        self.put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/json")
            // The SPA reads it at start; a stale copy in a browser would point at an
            // old user pool.
            .cache_control("no-cache")
            .body(body.into())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| e.into_service_error().to_string())
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), String> {
        self.delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("{:?}", e.into_service_error()))
    }

    async fn empty(&self, bucket: &str) -> Result<usize, String> {
        use aws_sdk_s3::types::{Delete, ObjectIdentifier};
        let mut deleted = 0;
        loop {
            // Each round lists from the start: what was listed is deleted before the
            // next listing, so no pagination token can go stale.
            let page = self
                .list_object_versions()
                .bucket(bucket)
                .max_keys(1000)
                .send()
                .await
                .map_err(|e| format!("{:?}", e.into_service_error()))?;
            let mut ids = Vec::new();
            let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
            let markers = page
                .delete_markers()
                .iter()
                .map(|m| (m.key(), m.version_id()));
            for (key, version) in versions.chain(markers) {
                let Some(key) = key else { continue };
                let id = ObjectIdentifier::builder()
                    .key(key)
                    .set_version_id(version.map(str::to_owned))
                    .build()
                    .map_err(|e| e.to_string())?;
                ids.push(id);
            }
            if ids.is_empty() {
                return Ok(deleted);
            }
            let count = ids.len();
            let delete = Delete::builder()
                .set_objects(Some(ids))
                .quiet(true)
                .build()
                .map_err(|e| e.to_string())?;
            let result = self
                .delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| format!("{:?}", e.into_service_error()))?;
            if let Some(error) = result.errors().first() {
                return Err(format!(
                    "could not delete `{}`: {}",
                    error.key().unwrap_or("?"),
                    error.message().unwrap_or("?")
                ));
            }
            deleted += count;
        }
    }
}
