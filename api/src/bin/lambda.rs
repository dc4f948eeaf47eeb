//! The API in AWS Lambda: API Gateway (REST) events in, the same axum Router as locally;
//! and the runbook's internal events (an IAM-authorized invoke, no token), which take the
//! same start path. The function runs with `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH=true`, so
//! routes are the paths CloudFront forwards (`/api/...`), without the stage.

use api::runbook::FunctionEvent;
use lambda_http::tower::ServiceExt;
use lambda_http::{Adapter, Error, LambdaEvent, service_fn, tracing};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let config = api::config::Config::from_env()?;
    let state = Arc::new(config.state().await);
    let adapter = Adapter::from(api::router_shared(state.clone()));
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<FunctionEvent>| {
        let state = state.clone();
        let adapter = adapter.clone();
        async move {
            match event.payload {
                // A refusal is the function's error: the runbook's step fails with it.
                FunctionEvent::Internal(internal) => api::runbook::handle(state, internal)
                    .await
                    .map_err(|e| Error::from(format!("{}: {}", e.status.as_u16(), e.message))),
                FunctionEvent::Http(request) => {
                    let response = adapter
                        .oneshot(LambdaEvent::new(*request, event.context))
                        .await?;
                    Ok(serde_json::to_value(response)?)
                }
            }
        }
    }))
    .await
}
