//! The TCP/HTTP health-check probe in AWS Lambda. A malformed request fails with the
//! error type `Probe.BadRequest`, which the compiled machines catch by name.

use lambda_runtime::{Diagnostic, Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use tasks::probe::{self, Direct, ProbeRequest, ProbeResult};

async fn handle(event: LambdaEvent<Value>) -> Result<ProbeResult, Diagnostic> {
    let bad = |message: String| Diagnostic {
        error_type: probe::BAD_REQUEST.into(),
        error_message: message,
    };
    let request: ProbeRequest = serde_json::from_value(event.payload)
        .map_err(|e| bad(format!("probe request is malformed: {e}")))?;
    probe::run(&request, &Direct)
        .await
        .map_err(|e| bad(e.to_string()))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    run(service_fn(handle)).await
}
