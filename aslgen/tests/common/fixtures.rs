//! Small, focused plans shared by the snapshot and validator tests.

pub const MINIMAL: &str = r#"
protectionGroups:
  - {id: db, name: Database, servers: [s-00000000000000001]}
plan:
  id: minimal
  name: Minimal
  waves:
    - name: Only
      groups: [{group: db}]
"#;

/// 150 servers (two StartRecovery batches), point-in-time launches, instances kept.
pub fn point_in_time() -> String {
    let servers: Vec<String> = (1..=150).map(aslgen::synth::server_id).collect();
    format!(
        r#"
protectionGroups:
  - {{id: fleet, name: Fleet, servers: [{}]}}
plan:
  id: pit
  name: Point in time
  pointInTime: true
  drill: {{cleanup: keep}}
  waves:
    - name: All
      groups:
        - group: fleet
          steps:
            - {{type: healthCheck, check: ec2Status, timeout: 5m}}
"#,
        servers.join(", ")
    )
}

pub const STEPS: &str = r#"
protectionGroups:
  - {id: app, name: App, servers: [s-00000000000000001, s-00000000000000002]}
  - {id: web, name: Web, servers: [s-00000000000000003]}
plan:
  id: steps
  name: Every step kind
  notificationTopicArn: arn:aws:sns:eu-west-1:111122223333:dr-team
  drill:
    cleanup:
      onApproval: {name: End drill, timeout: 2h}
  waves:
    - name: Apps
      before:
        - {type: wait, name: Let DNS settle, duration: 30s}
      groups:
        - group: app
          criticality: optional
          steps:
            - {type: ssm, name: Patch, kind: automation, document: AWS-UpdateLinuxAmi, timeout: 20m}
            - {type: approval, name: App looks right, approvers: [alice, Approver], onTimeout: continue, timeout: 30m}
            - type: healthCheck
              name: Web port
              check: {http: {port: 443, path: /healthz, https: true, expectStatus: 204}}
        - group: web
          dependsOn: [{server: s-00000000000000002, condition: healthy}]
"#;
