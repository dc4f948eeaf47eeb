//! The CloudFormation custom resources, each run as CloudFormation would run it: an event
//! in, a response PUT to a presigned-style URL (a local receiver), with S3 in moto and DRS
//! in the simulator, over the real wire.

use axum::{Router, body::Bytes, extract::State, http::StatusCode, routing::put};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use system_tests::{Env, Setup};
use tasks::custom_resource::{self, Services, action_id};

type Received = Arc<Mutex<Vec<Value>>>;

/// Stands where CloudFormation's presigned S3 URL would: records each response body.
async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let app = Router::new()
        .route(
            "/{*path}",
            put(|State(r): State<Received>, body: Bytes| async move {
                let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                r.lock().expect("lock").push(value);
                StatusCode::OK
            }),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/response", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

struct Fixture {
    env: Env,
    services: Services,
    s3: aws_sdk_s3::Client,
    url: String,
    received: Received,
}

async fn fixture() -> Fixture {
    let env = Env::start(Setup::default()).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&env.aws)
            .force_path_style(true)
            .build(),
    );
    let (url, received) = receiver().await;
    let services = Services {
        objects: Box::new(s3.clone()),
        launch_actions: Box::new(env.drs.clone()),
        http: reqwest::Client::new(),
    };
    Fixture {
        env,
        services,
        s3,
        url,
        received,
    }
}

const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/drs/1";

fn event(kind: &str, resource_type: &str, url: &str, props: Value, old: Option<Value>) -> Value {
    let mut event = json!({
        "RequestType": kind,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:cr",
        "ResponseURL": url,
        "StackId": STACK,
        "RequestId": format!("req-{kind}"),
        "ResourceType": resource_type,
        "LogicalResourceId": "Thing",
        "ResourceProperties": props,
    });
    if kind != "Create" {
        event["PhysicalResourceId"] = json!("physical-1");
    }
    if let Some(old) = old {
        event["OldResourceProperties"] = old;
    }
    event
}

impl Fixture {
    /// Runs one event; returns what CloudFormation received.
    async fn run(&self, event: Value) -> Value {
        custom_resource::handle(&self.services, event)
            .await
            .expect("response delivered");
        self.received
            .lock()
            .expect("lock")
            .pop()
            .expect("a response was PUT")
    }

    async fn keys(&self, bucket: &str) -> Vec<String> {
        let listed = self
            .s3
            .list_object_versions()
            .bucket(bucket)
            .send()
            .await
            .expect("list versions");
        let mut keys: Vec<String> = listed
            .versions()
            .iter()
            .filter_map(|v| v.key().map(str::to_owned))
            .chain(
                listed
                    .delete_markers()
                    .iter()
                    .filter_map(|m| m.key().map(|k| format!("{k} (marker)"))),
            )
            .collect();
        keys.sort();
        keys
    }

    async fn bucket(&self, name: &str, versioned: bool) {
        self.s3
            .create_bucket()
            .bucket(name)
            .send()
            .await
            .expect("bucket");
        if versioned {
            self.s3
                .put_bucket_versioning()
                .bucket(name)
                .versioning_configuration(
                    aws_sdk_s3::types::VersioningConfiguration::builder()
                        .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                        .build(),
                )
                .send()
                .await
                .expect("versioning");
        }
    }
}

#[tokio::test]
async fn spa_config_is_written_updated_and_deleted() {
    let f = fixture().await;
    f.bucket("site", false).await;
    let props = |pool: &str| {
        json!({"ServiceToken": "x", "BucketName": "site",
               "Config": {"userPoolId": pool, "clientId": "abc", "region": "us-east-1", "apiBase": "/api"}})
    };
    let created = f
        .run(event(
            "Create",
            "Custom::SpaConfig",
            &f.url,
            props("pool-1"),
            None,
        ))
        .await;
    assert_eq!(created["Status"], "SUCCESS", "{created}");
    assert_eq!(created["PhysicalResourceId"], "s3://site/config.json");
    assert_eq!(created["RequestId"], "req-Create");
    assert_eq!(created["LogicalResourceId"], "Thing");
    assert_eq!(created["StackId"], STACK);
    let read = async || {
        let object =
            f.s3.get_object()
                .bucket("site")
                .key("config.json")
                .send()
                .await
                .expect("config.json exists");
        assert_eq!(object.content_type(), Some("application/json"));
        let bytes = object.body.collect().await.expect("body").into_bytes();
        serde_json::from_slice::<Value>(&bytes).expect("JSON")
    };
    assert_eq!(read().await["userPoolId"], "pool-1");

    let updated = f
        .run(event(
            "Update",
            "Custom::SpaConfig",
            &f.url,
            props("pool-2"),
            Some(props("pool-1")),
        ))
        .await;
    assert_eq!(updated["Status"], "SUCCESS", "{updated}");
    assert_eq!(read().await["userPoolId"], "pool-2");

    let deleted = f
        .run(event(
            "Delete",
            "Custom::SpaConfig",
            &f.url,
            props("pool-2"),
            None,
        ))
        .await;
    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
    assert!(f.keys("site").await.is_empty());
}

#[tokio::test]
async fn bad_properties_fail_with_a_reason_that_names_them() {
    let f = fixture().await;
    let answer = f
        .run(event(
            "Create",
            "Custom::SpaConfig",
            &f.url,
            json!({"BucketName": "site", "Config": "not an object"}),
            None,
        ))
        .await;
    assert_eq!(answer["Status"], "FAILED");
    let reason = answer["Reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("Custom::SpaConfig") && reason.contains("Config"),
        "{reason}"
    );
    assert_eq!(answer["PhysicalResourceId"], "Thing-failed");

    let unknown = f
        .run(event("Create", "Custom::Nope", &f.url, json!({}), None))
        .await;
    assert_eq!(unknown["Status"], "FAILED");
    assert!(
        unknown["Reason"]
            .as_str()
            .unwrap_or_default()
            .contains("`Custom::Nope`")
    );

    // A write to a bucket that does not exist fails the resource, with S3's word for it.
    let missing = f
        .run(event(
            "Create",
            "Custom::SpaConfig",
            &f.url,
            json!({"BucketName": "no-such-bucket", "Config": {}}),
            None,
        ))
        .await;
    assert_eq!(missing["Status"], "FAILED");
    assert!(
        missing["Reason"]
            .as_str()
            .unwrap_or_default()
            .contains("s3://no-such-bucket/config.json")
    );
}

#[tokio::test]
async fn empty_bucket_deletes_every_version_only_on_delete() {
    let f = fixture().await;
    f.bucket("spa", true).await;
    for round in 0..3 {
        for key in ["index.html", "assets/app.js", "config.json"] {
            f.s3.put_object()
                .bucket("spa")
                .key(key)
                .body(format!("v{round}").into_bytes().into())
                .send()
                .await
                .expect("put");
        }
    }
    f.s3.delete_object()
        .bucket("spa")
        .key("index.html")
        .send()
        .await
        .expect("delete marker");
    let props = json!({"BucketName": "spa"});
    let created = f
        .run(event(
            "Create",
            "Custom::EmptyBucket",
            &f.url,
            props.clone(),
            None,
        ))
        .await;
    assert_eq!(created["Status"], "SUCCESS");
    assert_eq!(
        f.keys("spa").await.len(),
        10,
        "Create leaves the bucket alone"
    );

    let deleted = f
        .run(event("Delete", "Custom::EmptyBucket", &f.url, props, None))
        .await;
    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
    assert_eq!(deleted["Data"]["Deleted"], "10");
    assert!(f.keys("spa").await.is_empty());
    // Now CloudFormation can delete the bucket.
    f.s3.delete_bucket()
        .bucket("spa")
        .send()
        .await
        .expect("an empty bucket deletes");

    // Deleting again (a retried stack deletion) finds no bucket and still succeeds.
    let again = f
        .run(event(
            "Delete",
            "Custom::EmptyBucket",
            &f.url,
            json!({"BucketName": "spa"}),
            None,
        ))
        .await;
    assert_eq!(again["Status"], "SUCCESS", "{again}");
}

#[tokio::test]
async fn launch_actions_are_registered_replaced_and_removed_in_drs() {
    let f = fixture().await;
    let template = "lct-0123456789abcdef0";
    let list = async |resource: &str| {
        let listed = f
            .env
            .drs
            .list_launch_actions()
            .resource_id(resource)
            .send()
            .await
            .expect("list launch actions");
        let mut actions: Vec<(String, String, i32)> = listed
            .items()
            .iter()
            .map(|a| {
                (
                    a.name().unwrap_or_default().to_owned(),
                    a.action_code().unwrap_or_default().to_owned(),
                    a.order().unwrap_or_default(),
                )
            })
            .collect();
        actions.sort();
        actions
    };
    let props = |names: &[&str]| {
        let actions: Vec<Value> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                json!({"Name": n, "Document": format!("drs-{n}"), "Order": (100 + i).to_string(),
                       "Optional": "true", "Parameters": {"Port": "443"}})
            })
            .collect();
        json!({"ResourceId": template, "Actions": actions})
    };

    let created = f
        .run(event(
            "Create",
            "Custom::DrsLaunchActions",
            &f.url,
            props(&["LinuxHealthCheck", "WindowsHealthCheck"]),
            None,
        ))
        .await;
    assert_eq!(created["Status"], "SUCCESS", "{created}");
    assert_eq!(
        list(template).await,
        vec![
            (
                "LinuxHealthCheck".into(),
                "drs-LinuxHealthCheck".into(),
                100
            ),
            (
                "WindowsHealthCheck".into(),
                "drs-WindowsHealthCheck".into(),
                101
            )
        ]
    );
    let listed = f
        .env
        .drs
        .list_launch_actions()
        .resource_id(template)
        .send()
        .await
        .expect("list");
    let first = &listed.items()[0];
    assert_eq!(
        first.action_id(),
        Some(action_id(STACK, "LinuxHealthCheck").as_str())
    );
    assert_eq!(first.optional(), Some(true));

    // Update: one action dropped, one added; the survivor is re-put, not duplicated.
    let updated = f
        .run(event(
            "Update",
            "Custom::DrsLaunchActions",
            &f.url,
            props(&["LinuxHealthCheck", "AppValidation"]),
            Some(props(&["LinuxHealthCheck", "WindowsHealthCheck"])),
        ))
        .await;
    assert_eq!(updated["Status"], "SUCCESS", "{updated}");
    let names: Vec<String> = list(template).await.into_iter().map(|a| a.0).collect();
    assert_eq!(names, ["AppValidation", "LinuxHealthCheck"]);

    let deleted = f
        .run(event(
            "Delete",
            "Custom::DrsLaunchActions",
            &f.url,
            props(&["LinuxHealthCheck", "AppValidation"]),
            None,
        ))
        .await;
    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
    assert!(list(template).await.is_empty());

    // DRS's own validation reaches CloudFormation as the reason.
    let bad = f
        .run(event(
            "Create",
            "Custom::DrsLaunchActions",
            &f.url,
            json!({"ResourceId": "template-1", "Actions": [{"Name": "x", "Document": "d"}]}),
            None,
        ))
        .await;
    assert_eq!(bad["Status"], "FAILED");
    assert!(
        bad["Reason"]
            .as_str()
            .unwrap_or_default()
            .contains("template-1"),
        "{bad}"
    );
    let bad_order = f
        .run(event(
            "Create",
            "Custom::DrsLaunchActions",
            &f.url,
            json!({"ResourceId": template, "Actions": [{"Name": "x", "Document": "d", "Order": "soon"}]}),
            None,
        ))
        .await;
    assert_eq!(bad_order["Status"], "FAILED");
    assert!(
        bad_order["Reason"]
            .as_str()
            .unwrap_or_default()
            .contains("`soon`"),
        "{bad_order}"
    );
}
