//! `Custom::EmptyBucket`: on stack deletion, deletes every object version in a bucket so
//! CloudFormation can delete the bucket itself. Create and Update do nothing.

use super::{Call, CustomResourceError, Kind, Objects, Outcome};
use serde::Deserialize;

pub const TYPE: &str = "Custom::EmptyBucket";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Properties {
    bucket_name: String,
}

pub async fn handle(objects: &dyn Objects, call: &Call) -> Result<Outcome, CustomResourceError> {
    let props: Properties = call.properties()?;
    let mut outcome = Outcome {
        physical_id: format!("empty-on-delete:{}", props.bucket_name),
        ..Outcome::default()
    };
    if call.kind == Kind::Delete {
        match objects.empty(&props.bucket_name).await {
            Ok(count) => {
                outcome.data.insert("Deleted".into(), count.to_string());
            }
            Err(e) if e.contains("NoSuchBucket") => {}
            Err(e) => {
                return Err(CustomResourceError::Service(format!(
                    "emptying bucket `{}`: {e}",
                    props.bucket_name
                )));
            }
        }
    }
    Ok(outcome)
}
