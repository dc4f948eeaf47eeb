//! The TCP/HTTP health-check probe in AWS Lambda. A malformed request, or a target that
//! is not a private address, fails with the error type `Probe.BadRequest`, which the
//! compiled machines catch by name. `PROBE_ALLOW_LOOPBACK=true` also lets it reach
//! 127.0.0.1, for the offline smoke test only; the deployed template never sets it.

use lambda_runtime::{Diagnostic, Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use tasks::probe::{self, Direct, ProbeRequest, ProbeResult, Reach};

async fn handle(event: LambdaEvent<Value>, reach: Reach) -> Result<ProbeResult, Diagnostic> {
    let bad = |message: String| Diagnostic {
        error_type: probe::BAD_REQUEST.into(),
        error_message: message,
    };
    let request: ProbeRequest = serde_json::from_value(event.payload)
        .map_err(|e| bad(format!("probe request is malformed: {e}")))?;
    probe::run(&request, &Direct, reach)
        .await
        .map_err(|e| bad(e.to_string()))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let reach = Reach::from_env_value(std::env::var(probe::ALLOW_LOOPBACK_ENV).ok().as_deref());
    run(service_fn(move |event| handle(event, reach))).await
}
