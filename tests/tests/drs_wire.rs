//! The DRS simulator through the real `aws-sdk-drs` client: operations, pagination,
//! filters, quotas and their error shapes, faults, tags and the call log.

use aws_sdk_drs::types::{
    DescribeRecoveryInstancesRequestFilters, DescribeSourceServersRequestFilters,
    StartRecoveryRequestSourceServer,
};
use system_tests::{Env, Setup};

fn server(id: &str) -> StartRecoveryRequestSourceServer {
    StartRecoveryRequestSourceServer::builder()
        .source_server_id(id)
        .build()
        .unwrap()
}

fn ids(n: u64) -> Vec<String> {
    (1..=n).map(aslgen::synth::server_id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_servers_page_and_filter() {
    let env = Env::start(Setup::default()).await;
    let mut seen = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = env
            .drs
            .describe_source_servers()
            .max_results(7)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        pages += 1;
        for s in page.items() {
            seen.push(s.source_server_id().unwrap().to_owned());
        }
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!((seen.len(), pages), (30, 5));
    let one = env
        .drs
        .describe_source_servers()
        .filters(
            DescribeSourceServersRequestFilters::builder()
                .source_server_ids("s-0a1b2c3d4e5f6000d")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let item = &one.items()[0];
    assert_eq!(
        item.source_properties()
            .unwrap()
            .identification_hints()
            .unwrap()
            .hostname(),
        Some("crm-db-02")
    );
    let replication = item.data_replication_info().unwrap();
    assert_eq!(replication.lag_duration(), Some("PT1800S"));
    assert_eq!(item.tags().unwrap()["Application"], "crm");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_launches_instances_in_ec2_and_terminates_them() {
    let env = Env::start(Setup::default()).await;
    let started = env
        .drs
        .start_recovery()
        .source_servers(server("s-0a1b2c3d4e5f60001"))
        .source_servers(server("s-0a1b2c3d4e5f60002"))
        .is_drill(true)
        .tags("purpose", "wire-test")
        .send()
        .await
        .unwrap();
    let job = started.job().unwrap();
    assert_eq!(job.status().unwrap().as_str(), "PENDING");
    let job_id = job.job_id().to_owned();

    let finished = env.wait_for_job(&job_id).await;
    let statuses: Vec<&str> = finished
        .participating_servers()
        .iter()
        .map(|s| s.launch_status().unwrap().as_str())
        .collect();
    assert_eq!(statuses, ["LAUNCHED", "LAUNCHED"]);
    assert_eq!(finished.initiated_by().unwrap().as_str(), "START_DRILL");
    assert_eq!(finished.tags().unwrap()["purpose"], "wire-test");

    let log = env
        .drs
        .describe_job_log_items()
        .job_id(&job_id)
        .send()
        .await
        .unwrap();
    let events: Vec<&str> = log
        .items()
        .iter()
        .map(|i| i.event().unwrap().as_str())
        .collect();
    assert_eq!(events.first(), Some(&"JOB_START"));
    assert_eq!(events.last(), Some(&"JOB_END"));
    assert_eq!(events.iter().filter(|e| **e == "LAUNCH_START").count(), 2);

    let instances = env
        .drs
        .describe_recovery_instances()
        .filters(
            DescribeRecoveryInstancesRequestFilters::builder()
                .source_server_ids("s-0a1b2c3d4e5f60001")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let instance = &instances.items()[0];
    assert_eq!(instance.is_drill(), Some(true));
    assert_eq!(instance.job_id(), Some(job_id.as_str()));
    let ec2_id = instance.ec2_instance_id().unwrap().to_owned();
    assert!(ec2_id.starts_with("i-"), "{ec2_id}");

    // The source server's life cycle names the launch (used to adopt a job after an
    // ambiguous StartRecovery failure).
    let source = env
        .drs
        .describe_source_servers()
        .filters(
            DescribeSourceServersRequestFilters::builder()
                .source_server_ids("s-0a1b2c3d4e5f60001")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let initiated = source.items()[0]
        .life_cycle()
        .unwrap()
        .last_launch()
        .unwrap()
        .initiated()
        .unwrap();
    assert_eq!(initiated.job_id(), Some(job_id.as_str()));

    // Tags and launch configuration.
    let arn = instance.arn().unwrap().to_owned();
    env.drs
        .tag_resource()
        .resource_arn(&arn)
        .tags("owner", "dr-team")
        .send()
        .await
        .unwrap();
    let tags = env
        .drs
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().unwrap()["owner"], "dr-team");
    let config = env
        .drs
        .get_launch_configuration()
        .source_server_id("s-0a1b2c3d4e5f60001")
        .send()
        .await
        .unwrap();
    assert_eq!(config.name(), Some("shop-db-01"));
    // Launch settings change through the SDK's own request shapes; a bad value is a
    // ValidationException that names it, and changes nothing.
    let updated = env
        .drs
        .update_launch_configuration()
        .source_server_id("s-0a1b2c3d4e5f60001")
        .copy_private_ip(true)
        .launch_disposition(aws_sdk_drs::types::LaunchDisposition::Stopped)
        .licensing(
            aws_sdk_drs::types::Licensing::builder()
                .os_byol(false)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            updated.copy_private_ip(),
            updated.launch_disposition().map(|d| d.as_str()),
            updated.licensing().and_then(|l| l.os_byol()),
            updated.ec2_launch_template_id(),
        ),
        (
            Some(true),
            Some("STOPPED"),
            Some(false),
            config.ec2_launch_template_id()
        )
    );
    let refused = env
        .drs
        .update_launch_configuration()
        .source_server_id("s-0a1b2c3d4e5f60001")
        .copy_tags(false)
        .target_instance_type_right_sizing_method(
            aws_sdk_drs::types::TargetInstanceTypeRightSizingMethod::from("HUGE"),
        )
        .send()
        .await
        .map_err(|e| e.into_service_error());
    match refused {
        Err(aws_sdk_drs::operation::update_launch_configuration::UpdateLaunchConfigurationError::ValidationException(e)) => {
            assert!(e.message().unwrap_or_default().contains("HUGE"), "{e:?}");
        }
        other => panic!("expected a ValidationException, got {other:?}"),
    }
    let read = env
        .drs
        .get_launch_configuration()
        .source_server_id("s-0a1b2c3d4e5f60001")
        .send()
        .await
        .unwrap();
    assert_eq!(
        read.copy_tags(),
        config.copy_tags(),
        "the refused update changed nothing"
    );
    assert_ne!(
        read.ec2_launch_template_id(),
        env.drs
            .get_launch_configuration()
            .source_server_id("s-0a1b2c3d4e5f60002")
            .send()
            .await
            .unwrap()
            .ec2_launch_template_id(),
        "each server has its own launch template"
    );

    // A drill instance cannot be reversed; terminating removes it from DRS.
    let reverse = env
        .drs
        .reverse_replication()
        .recovery_instance_id(&ec2_id)
        .send()
        .await;
    assert!(reverse.is_err());
    let terminate = env
        .drs
        .terminate_recovery_instances()
        .recovery_instance_ids(&ec2_id)
        .send()
        .await
        .unwrap();
    let terminate_id = terminate.job().unwrap().job_id().to_owned();
    let done = env.wait_for_job(&terminate_id).await;
    assert_eq!(done.r#type().unwrap().as_str(), "TERMINATE");
    let left = env
        .drs
        .describe_recovery_instances()
        .filters(
            DescribeRecoveryInstancesRequestFilters::builder()
                .recovery_instance_ids(&ec2_id)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(left.items().is_empty());

    // The call log saw it all, in order.
    let operations: Vec<String> = env
        .sim()
        .calls()
        .into_iter()
        .filter(|c| c.service == "drs")
        .map(|c| c.operation)
        .collect();
    assert_eq!(
        operations.first().map(String::as_str),
        Some("StartRecovery")
    );
    assert!(operations.contains(&"TerminateRecoveryInstances".to_owned()));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_are_enforced_with_drs_error_shapes() {
    let env = Env::start(Setup {
        inventory: aslgen::synth::inventory(620),
        speed: 1.0,
        ..Setup::default()
    })
    .await;
    let all = ids(620);
    let start = |servers: &[String]| {
        let mut call = env.drs.start_recovery().is_drill(true);
        for id in servers {
            call = call.source_servers(server(id));
        }
        call.send()
    };

    // 101 servers in one job.
    let err = start(&all[..101]).await.unwrap_err();
    let service = err.as_service_error().unwrap();
    assert!(service.is_service_quota_exceeded_exception(), "{service:?}");

    // 500 servers in active jobs, then one more.
    for chunk in all[..500].chunks(100) {
        start(chunk).await.unwrap();
    }
    let err = start(&all[500..501]).await.unwrap_err();
    assert!(
        err.as_service_error()
            .unwrap()
            .is_service_quota_exceeded_exception()
    );

    // A server already in an active job.
    let err = start(&all[..1]).await.unwrap_err();
    assert!(
        err.as_service_error().unwrap().is_conflict_exception(),
        "{err:?}"
    );
    env.stop().await;

    // 20 concurrent jobs.
    let env = Env::start(Setup {
        inventory: aslgen::synth::inventory(21),
        speed: 1.0,
        ..Setup::default()
    })
    .await;
    for id in &all[..20] {
        env.drs
            .start_recovery()
            .source_servers(server(id))
            .send()
            .await
            .unwrap();
    }
    let err = env
        .drs
        .start_recovery()
        .source_servers(server(&all[20]))
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .unwrap()
            .is_service_quota_exceeded_exception()
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_from_the_admin_endpoint() {
    let env = Env::start(Setup::default()).await;
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{}/_sim/faults", env.sim().url()))
        .body(r#"{"operations": {"DescribeJobs": {"throttle": 1, "serverError": 1}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    // The SDK retries throttling and 5xx itself; the call log shows both refusals.
    env.drs.describe_jobs().send().await.unwrap();
    let statuses: Vec<u16> = env
        .sim()
        .calls()
        .into_iter()
        .filter(|c| c.operation == "DescribeJobs")
        .map(|c| c.status)
        .collect();
    assert_eq!(statuses, [429, 500, 200]);
    let bad = http
        .post(format!("{}/_sim/faults", env.sim().url()))
        .body(r#"{"operation": {}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    let calls = http
        .get(format!("{}/_sim/calls", env.sim().url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let calls: serde_json::Value = serde_json::from_str(&calls).unwrap();
    assert!(calls.as_array().unwrap().len() >= 3);
    env.stop().await;
}
