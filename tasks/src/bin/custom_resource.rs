//! CloudFormation custom resources in AWS Lambda. Every request gets a response on its
//! presigned URL, FAILED with a reason when anything goes wrong, so no stack ever waits
//! an hour for a Lambda that gave up.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use std::sync::Arc;
use tasks::custom_resource::{self, Services};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let services = Arc::new(Services::from_config(&aws));
    run(service_fn(move |event: LambdaEvent<Value>| {
        let services = services.clone();
        async move { custom_resource::handle(&services, event.payload).await }
    }))
    .await
}
