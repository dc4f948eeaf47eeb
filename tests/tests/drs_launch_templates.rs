//! DRS launches each recovery instance from its source server's EC2 launch template —
//! the template's *default* version — so a drill's network is set by the template
//! (issue 15). Over the wire: aws-sdk-drs to the simulator, EC2's query protocol to moto.

use aws_sdk_drs::types::StartRecoveryRequestSourceServer;
use system_tests::{Env, Setup};

const MOVED: &str = "s-0a1b2c3d4e5f60001";
const UNTOUCHED: &str = "s-0a1b2c3d4e5f60002";

/// One EC2 query-protocol call through the emulator; the XML answer.
async fn ec2(env: &Env, action: &str, params: &[(&str, &str)]) -> String {
    let mut form = vec![("Action", action), ("Version", "2016-11-15")];
    form.extend_from_slice(params);
    let response = reqwest::Client::new()
        .post(format!("{}/", env.emulator.endpoint()))
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0",
        )
        .form(&form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{action}: {e}"));
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert!(status.is_success(), "{action}: {status}: {body}");
    body
}

/// The first `<tag>…</tag>` text in `xml`.
fn first(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    xml.split(&open)
        .nth(1)
        .and_then(|rest| rest.split(&format!("</{tag}>")).next())
        .unwrap_or_else(|| panic!("no <{tag}> in {xml}"))
        .trim()
        .to_owned()
}

async fn launch_drill(env: &Env, servers: &[&str]) -> aws_sdk_drs::types::Job {
    let mut start = env.drs.start_recovery().is_drill(true);
    for id in servers {
        start = start.source_servers(
            StartRecoveryRequestSourceServer::builder()
                .source_server_id(*id)
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
        );
    }
    let started = start.send().await.unwrap_or_else(|e| panic!("{e:?}"));
    let job_id = started
        .job()
        .map(|j| j.job_id().to_owned())
        .unwrap_or_default();
    env.wait_for_job(&job_id).await
}

/// Where each launched instance landed: (source server, subnet, security groups XML).
async fn landed(env: &Env, job: &aws_sdk_drs::types::Job) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for server in job.participating_servers() {
        let instance = server.recovery_instance_id().unwrap_or_default();
        let xml = ec2(env, "DescribeInstances", &[("InstanceId.1", instance)]).await;
        out.push((
            server.source_server_id().unwrap_or_default().to_owned(),
            first(&xml, "subnetId"),
            first(&xml, "groupSet"),
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_launches_into_the_network_of_the_templates_default_version() {
    let env = Env::start(Setup {
        speed: 600.0,
        ..Setup::default()
    })
    .await;
    // A drill network: its own VPC, subnet and security group.
    let vpc = first(
        &ec2(&env, "CreateVpc", &[("CidrBlock", "10.77.0.0/16")]).await,
        "vpcId",
    );
    let subnet = first(
        &ec2(
            &env,
            "CreateSubnet",
            &[("VpcId", &vpc), ("CidrBlock", "10.77.1.0/24")],
        )
        .await,
        "subnetId",
    );
    let group = first(
        &ec2(
            &env,
            "CreateSecurityGroup",
            &[
                ("GroupName", "drill-only"),
                ("GroupDescription", "inside the drill network"),
                ("VpcId", &vpc),
            ],
        )
        .await,
        "groupId",
    );

    // DRS names the server's template; it exists in EC2.
    let config = env
        .drs
        .get_launch_configuration()
        .source_server_id(MOVED)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let template = config
        .ec2_launch_template_id()
        .unwrap_or_default()
        .to_owned();
    let described = ec2(
        &env,
        "DescribeLaunchTemplates",
        &[("LaunchTemplateId.1", &template)],
    )
    .await;
    assert_eq!(first(&described, "defaultVersionNumber"), "1");

    // A new version with the drill network, not yet the default: DRS ignores it.
    let created = ec2(
        &env,
        "CreateLaunchTemplateVersion",
        &[
            ("LaunchTemplateId", &template),
            ("SourceVersion", "1"),
            ("LaunchTemplateData.NetworkInterface.1.DeviceIndex", "0"),
            ("LaunchTemplateData.NetworkInterface.1.SubnetId", &subnet),
            (
                "LaunchTemplateData.NetworkInterface.1.SecurityGroupId.1",
                &group,
            ),
        ],
    )
    .await;
    let version = first(&created, "versionNumber");
    let job = launch_drill(&env, &[MOVED]).await;
    let before = landed(&env, &job).await;
    assert_ne!(before[0].1, subnet, "the latest version is not the default");

    // Made the default, it is where the next drill lands; a server whose template was
    // never changed lands where it always did.
    ec2(
        &env,
        "ModifyLaunchTemplate",
        &[
            ("LaunchTemplateId", &template),
            ("SetDefaultVersion", &version),
        ],
    )
    .await;
    let job = launch_drill(&env, &[MOVED, UNTOUCHED]).await;
    let after = landed(&env, &job).await;
    let moved = after
        .iter()
        .find(|(s, _, _)| s == MOVED)
        .cloned()
        .unwrap_or_default();
    assert_eq!(moved.1, subnet, "{after:?}");
    assert!(moved.2.contains(&group), "{after:?}");
    let untouched = after
        .iter()
        .find(|(s, _, _)| s == UNTOUCHED)
        .cloned()
        .unwrap_or_default();
    assert_ne!(untouched.1, subnet, "{after:?}");

    // Put back, the template launches as before.
    ec2(
        &env,
        "ModifyLaunchTemplate",
        &[("LaunchTemplateId", &template), ("SetDefaultVersion", "1")],
    )
    .await;
    let job = launch_drill(&env, &[MOVED]).await;
    assert_eq!(landed(&env, &job).await[0].1, before[0].1);
    env.stop().await;
}
