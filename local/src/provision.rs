//! The AWS resources a deployment's stacks would create, made in the emulator: the table,
//! the notifications topic, and the fake application listeners health checks reach.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, KeySchemaElement, KeyType, ScalarAttributeType, TimeToLiveSpecification,
};

pub const TABLE: &str = "drs-orchestrator";
pub const TOPIC: &str = "drs-orchestrator-notifications";
pub const ROLE: &str = "arn:aws:iam::123456789012:role/drs-orchestrator-plans";
/// The runbook document (the templates' default `DocumentPrefix`).
pub const RUNBOOK_DOCUMENT: &str = "DRS-Orchestrator-RunRecoveryPlan";

#[derive(Debug, thiserror::Error)]
#[error("creating {what} in the emulator: {message}")]
pub struct ProvisionError {
    what: String,
    message: String,
}

fn fail<E: std::fmt::Debug>(what: &str) -> impl FnOnce(E) -> ProvisionError + '_ {
    move |e| ProvisionError {
        what: what.to_owned(),
        message: format!("{e:?}"),
    }
}

/// The table as `templates/data.yaml` defines it (keys, on-demand, TTL on `expiresAt`).
pub async fn table(ddb: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), ProvisionError> {
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(fail("table"))
    };
    let key = |n: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .map_err(fail("table"))
    };
    ddb.create_table()
        .table_name(name)
        .attribute_definitions(attr("pk")?)
        .attribute_definitions(attr("sk")?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(fail("table"))?;
    ddb.update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expiresAt")
                .enabled(true)
                .build()
                .map_err(fail("table TTL"))?,
        )
        .send()
        .await
        .map_err(fail("table TTL"))?;
    Ok(())
}

/// Creates the notifications topic; returns its ARN.
pub async fn topic(sns: &aws_sdk_sns::Client, name: &str) -> Result<String, ProvisionError> {
    sns.create_topic()
        .name(name)
        .send()
        .await
        .map_err(fail("topic"))?
        .topic_arn
        .ok_or_else(|| fail("topic")("no ARN"))
}

/// Name of the launch events machine and of the rule that starts it (the templates').
pub const LAUNCH_EVENTS: &str = "drs-orchestrator-launch-events";

/// The launch events machine (Express) and the EventBridge rule that starts it for every
/// DRS launch result, as `templates/orchestration.yaml` makes them; returns the machine's
/// ARN. moto's EventBridge evaluates the rule and starts the machine (a moto correction).
pub async fn launch_events(
    sfn: &aws_sdk_sfn::Client,
    endpoint: &str,
    region: &str,
) -> Result<String, ProvisionError> {
    let deployment = aslgen::Deployment {
        table: TABLE.into(),
        ..aslgen::Deployment::default()
    };
    let machine = aslgen::events::launch_events_machine(&deployment);
    let arn = sfn
        .create_state_machine()
        .name(LAUNCH_EVENTS)
        .r#type(aws_sdk_sfn::types::StateMachineType::Express)
        .definition(serde_json::to_string(&machine).map_err(fail("launch events machine"))?)
        .role_arn(ROLE)
        .send()
        .await
        .map_err(fail("launch events machine"))?
        .state_machine_arn;
    let http = reqwest::Client::new();
    let call = |action: &'static str, body: serde_json::Value| {
        let http = http.clone();
        async move {
            drs_sim::events::call(&http, endpoint, region, action, &body)
                .await
                .map_err(fail("launch events rule"))
        }
    };
    call(
        "PutRule",
        serde_json::json!({
            "Name": LAUNCH_EVENTS,
            "EventPattern": aslgen::events::event_pattern().to_string(),
            "State": "ENABLED",
        }),
    )
    .await?;
    let (paths, template) = aslgen::events::input_transformer();
    call(
        "PutTargets",
        serde_json::json!({
            "Rule": LAUNCH_EVENTS,
            "Targets": [{
                "Id": "launch-events",
                "Arn": arn,
                "RoleArn": ROLE,
                "InputTransformer": {"InputPathsMap": paths, "InputTemplate": template},
            }],
        }),
    )
    .await?;
    Ok(arn)
}

/// A listener that stands for a recovered application: accepts TCP and answers any HTTP
/// request 200, so TCP and HTTP health checks of recovered instances pass.
pub async fn application_listener() -> std::io::Result<(u16, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let task = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = socket.read(&mut buf).await;
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    Ok((port, task))
}

/// Stand-ins for what the shop demo plan (`examples/three-tier.yaml`) health-checks on
/// its recovered instances: Postgres on 5432 (TCP) and the application's HTTP 8080.
/// Returns the simulator's probe port map and the listeners.
pub async fn shop_applications() -> std::io::Result<(
    std::collections::HashMap<u16, u16>,
    Vec<tokio::task::JoinHandle<()>>,
)> {
    let (db_port, db) = application_listener().await?;
    let (app_port, app) = application_listener().await?;
    Ok(([(5432, db_port), (8080, app_port)].into(), vec![db, app]))
}
