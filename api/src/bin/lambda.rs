//! The API in AWS Lambda: API Gateway (REST) events in, the same axum Router as locally.
//! The function runs with `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH=true`, so routes are the
//! paths CloudFront forwards (`/api/...`), without the stage.

use lambda_http::{Error, run, tracing};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let config = api::config::Config::from_env()?;
    run(api::router(config.state().await)).await
}
