//! Validation reports every problem at once, each with its path and the bad value.

use aslgen::{Inventory, parse, validate};

fn problems(yaml: &str, inventory: Option<&Inventory>) -> Vec<(String, String)> {
    let doc = parse::plan_document(yaml, "test.yaml").unwrap_or_else(|e| panic!("{e}"));
    match validate(&doc, inventory) {
        Ok(_) => Vec::new(),
        Err(invalid) => invalid
            .problems
            .into_iter()
            .map(|p| (p.path, p.message))
            .collect(),
    }
}

fn has(problems: &[(String, String)], path: &str, needle: &str) -> bool {
    problems
        .iter()
        .any(|(p, m)| p == path && m.contains(needle))
}

const MANY_PROBLEMS: &str = r#"
protectionGroups:
  - {id: db, name: DB, servers: [s-0000000000000000a, s-123]}
  - {id: db, name: DB again, servers: [s-0000000000000000b]}
  - {id: app, name: App, servers: [s-0000000000000000a]}
  - {id: web, name: Web, servers: [s-0000000000000000c]}
  - {id: none, name: None}
  - {id: late, name: Late, servers: [s-0000000000000000d]}
plan:
  id: Bad Plan
  name: ""
  defaults: {launchTimeout: 0s}
  waves:
    - name: First
      groups:
        - group: web
          dependsOn:
            - {group: late, condition: running}
            - {group: ghost}
            - {server: s-0000000000000000f}
            - {group: db, server: s-0000000000000000a}
            - {group: db, condition: healthy}
        - group: app
          dependsOn: [{group: db, condition: running}]
        - group: db
          dependsOn: [{group: app}]
          steps:
            - {type: ssm, document: x}
    - name: First
      groups: []
    - name: Later
      before:
        - {type: healthCheck, check: ec2Status}
      groups:
        - group: late
        - group: late
"#;

#[test]
fn every_problem_is_reported_at_once_with_its_path() {
    let found = problems(MANY_PROBLEMS, None);
    let expect = [
        ("plan.id", "`Bad Plan`"),
        ("plan.name", "empty"),
        ("plan.defaults.launchTimeout", "`0s` is out of range"),
        (
            "protectionGroups[0].servers[1]",
            "`s-123` is not a DRS source server ID",
        ),
        (
            "protectionGroups[1].id",
            "`db` is already used by protectionGroups[0]",
        ),
        (
            "protectionGroups[2]",
            "server `s-0000000000000000a` is already in protection group `db`",
        ),
        ("protectionGroups[4]", "selects no servers"),
        ("plan.waves[1].name", "wave name `First` is already used"),
        ("plan.waves[1].groups", "wave `First` has no groups"),
        ("plan.waves[2].before[0]", "belongs in a group's `steps`"),
        (
            "plan.waves[2].groups[1].group",
            "`late` is already recovered",
        ),
        ("plan.waves[0].groups[0].dependsOn[0]", "later wave"),
        ("plan.waves[0].groups[0].dependsOn[1].group", "`ghost`"),
        (
            "plan.waves[0].groups[0].dependsOn[2].server",
            "`s-0000000000000000f` is not in any protection group",
        ),
        (
            "plan.waves[0].groups[0].dependsOn[3]",
            "either a `group` or a `server`",
        ),
        (
            "plan.waves[0].groups[0].dependsOn[4].condition",
            "no healthCheck step",
        ),
        (
            "plan.waves[0].groups[2].steps[0].document",
            "`x` is not an SSM document name",
        ),
        ("plan.waves[0]", "dependency cycle in wave `First`: `App"),
    ];
    for (path, needle) in expect {
        assert!(
            has(&found, path, needle),
            "missing {path}: {needle}\nall: {found:#?}"
        );
    }
}

#[test]
fn a_cycle_is_printed_in_order() {
    let yaml = r#"
protectionGroups:
  - {id: a, name: A, servers: [s-00000000000000001]}
  - {id: b, name: B, servers: [s-00000000000000002]}
  - {id: c, name: C, servers: [s-00000000000000003]}
plan:
  id: p
  name: P
  waves:
    - name: W
      groups:
        - {group: a, dependsOn: [{group: c}]}
        - {group: b, dependsOn: [{group: a}]}
        - {group: c, dependsOn: [{group: b}]}
"#;
    let found = problems(yaml, None);
    assert!(
        has(&found, "plan.waves[0]", "`A` → `B` → `C` → `A`"),
        "{found:#?}"
    );
}

#[test]
fn tag_selectors_need_and_use_an_inventory() {
    let yaml = r#"
protectionGroups:
  - {id: web, name: Web, tagSelector: {Role: web}}
  - {id: db, name: DB, tagSelector: {Role: database}}
plan: {id: p, name: P, waves: [{name: W, groups: [{group: web}, {group: db}]}]}
"#;
    let without = problems(yaml, None);
    assert!(has(
        &without,
        "protectionGroups[0].tagSelector",
        "needs an inventory"
    ));
    let inventory = parse::inventory(
        "servers:\n  - {id: s-00000000000000001, hostname: web-1, tags: {Role: web}}\n",
        "inv",
    )
    .unwrap();
    let with = problems(yaml, Some(&inventory));
    assert!(
        !has(&with, "protectionGroups[0].tagSelector", ""),
        "{with:#?}"
    );
    assert!(has(
        &with,
        "protectionGroups[1].tagSelector",
        "`Role=database` matches no source server"
    ));
}

#[test]
fn overlapping_tag_selectors_are_a_server_in_two_groups() {
    let yaml = r#"
protectionGroups:
  - {id: shop, name: Shop, tagSelector: {App: shop}}
  - {id: web, name: Web, tagSelector: {Role: web}}
plan: {id: p, name: P, waves: [{name: W, groups: [{group: shop}, {group: web}]}]}
"#;
    let inventory = parse::inventory(
        "servers:\n  - {id: s-00000000000000001, hostname: web-1, tags: {App: shop, Role: web}}\n",
        "inv",
    )
    .unwrap();
    let found = problems(yaml, Some(&inventory));
    assert!(
        has(
            &found,
            "protectionGroups[1]",
            "already in protection group `shop`"
        ),
        "{found:#?}"
    );
}

#[test]
fn server_overrides_must_belong_to_their_group() {
    let yaml = r#"
protectionGroups:
  - {id: a, name: A, servers: [s-00000000000000001]}
  - {id: b, name: B, servers: [s-00000000000000002]}
plan:
  id: p
  name: P
  waves:
    - name: W
      groups:
        - group: a
          servers: [{id: s-00000000000000002, criticality: optional}]
        - group: b
"#;
    let found = problems(yaml, None);
    assert!(has(
        &found,
        "plan.waves[0].groups[0].servers[0].id",
        "not in protection group `a`"
    ));
}

#[test]
fn valid_examples_validate() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    let inventory = parse::inventory(
        &std::fs::read_to_string(format!("{root}/fleet.yaml")).unwrap(),
        "fleet.yaml",
    )
    .unwrap();
    for name in [
        "three-tier",
        "directory",
        "tag-based",
        "non-series-parallel",
        "large-3000",
    ] {
        let found = problems(
            &std::fs::read_to_string(format!("{root}/{name}.yaml")).unwrap(),
            Some(&inventory).filter(|_| name == "tag-based"),
        );
        assert!(found.is_empty(), "{name}: {found:#?}");
    }
}

#[test]
fn execution_input_is_checked_against_the_plan() {
    let yaml = "protectionGroups: [{id: a, name: A, servers: [s-00000000000000001, s-00000000000000002]}]\nplan: {id: p, name: P, pointInTime: true, waves: [{name: W, groups: [{group: a}]}]}\n";
    let doc = parse::plan_document(yaml, "p").unwrap();
    let resolved = validate(&doc, None).unwrap();
    let input = parse::execution_input(
        r#"{"mode": "RECOVERY", "pollSeconds": 5000, "startedAtEpoch": 2147483000, "snapshots": {"s-00000000000000001": "pit-nope", "s-0000000000000000f": "pit-00000000000000001"}}"#,
        "input",
    )
    .unwrap();
    let invalid = aslgen::validate::validate_input(&resolved, &input).unwrap_err();
    let paths: Vec<&str> = invalid.problems.iter().map(|p| p.path.as_str()).collect();
    assert!(paths.contains(&"pollSeconds"));
    // Approval expiry is computed with 32-bit States.MathAdd.
    assert!(paths.contains(&"startedAtEpoch"), "{paths:?}");
    assert!(
        paths.contains(&"snapshots.s-00000000000000002"),
        "missing server: {paths:?}"
    );
    assert!(
        paths.contains(&"snapshots.s-0000000000000000f"),
        "foreign server: {paths:?}"
    );
    assert!(
        paths.contains(&"snapshots.s-00000000000000001"),
        "bad snapshot id: {paths:?}"
    );
    assert!(parse::execution_input(r#"{"mode": "PRODUCTION"}"#, "input").is_err());
}

#[test]
fn ssm_steps_cannot_choose_their_instances() {
    // The machine aims every SSM step at its group's recovered instances; a plan that names
    // instances (or targets, or another role) in a step's parameters is refused, every
    // such parameter with its path and value.
    let yaml = r#"
protectionGroups:
  - {id: app, name: App, servers: [s-00000000000000001]}
plan:
  id: p
  name: P
  waves:
    - name: W
      groups:
        - group: app
          steps:
            - type: ssm
              kind: automation
              document: AWS-RestartEC2Instance
              parameters: {InstanceId: [i-0123456789abcdef0]}
            - type: ssm
              document: AWS-RunShellScript
              parameters:
                commands: [uptime]
                InstanceIds: [i-0aaaaaaaaaaaaaaaa, i-0bbbbbbbbbbbbbbbb]
                Targets: ["Key=tag:Env,Values=prod"]
            - type: ssm
              kind: automation
              document: Contoso-Fix
              parameters:
                AutomationAssumeRole: ["arn:aws:iam::123456789012:role/admin"]
                "Note.$": ["$$.Execution.Input"]
            - type: healthCheck
              check: {ssm: {document: DRS-Check, parameters: {targetInstanceId: [i-0cccccccccccccccc]}}}
"#;
    let found = problems(yaml, None);
    let steps = "plan.waves[0].groups[0].steps";
    for (path, needle) in [
        (
            format!("{steps}[0].parameters.InstanceId"),
            "parameter `InstanceId` = `i-0123456789abcdef0` chooses instances",
        ),
        (
            format!("{steps}[1].parameters.InstanceIds"),
            "`i-0aaaaaaaaaaaaaaaa,i-0bbbbbbbbbbbbbbbb` chooses instances",
        ),
        (
            format!("{steps}[1].parameters.Targets"),
            "`Key=tag:Env,Values=prod` chooses targets",
        ),
        (
            format!("{steps}[2].parameters.AutomationAssumeRole"),
            "chooses the role the runbook runs as",
        ),
        (
            format!("{steps}[2].parameters.Note.$"),
            "parameter name `Note.$` ends in `.$`",
        ),
        (
            format!("{steps}[3].check.ssm.parameters.targetInstanceId"),
            "`i-0cccccccccccccccc` chooses instances",
        ),
    ] {
        assert!(
            has(&found, &path, needle),
            "missing {path}: {needle}\nall: {found:#?}"
        );
    }
    assert_eq!(found.len(), 6, "{found:#?}");
    assert_eq!(
        found
            .iter()
            .filter(|(_, m)| m.contains("runs only on its group's recovered instances"))
            .count(),
        5,
        "{found:#?}"
    );
}

#[test]
fn approval_quorums_and_messages_are_bounded() {
    // Two people at most, in either mode; a message's limit counts characters.
    let message = "é".repeat(2_000);
    let yaml = format!(
        r#"
protectionGroups:
  - {{id: app, name: App, servers: [s-00000000000000001]}}
plan:
  id: p
  name: P
  waves:
    - name: W
      before:
        - {{type: approval, drillQuorum: 2, recoveryQuorum: 2, message: "{message}"}}
        - {{type: approval, drillQuorum: 3, message: "{message}x"}}
      groups: [{{group: app}}]
"#
    );
    let found = problems(&yaml, None);
    assert!(
        has(
            &found,
            "plan.waves[0].before[1].drillQuorum",
            "`3` must be 1 or 2"
        ),
        "{found:?}"
    );
    assert!(
        has(
            &found,
            "plan.waves[0].before[1].message",
            "2,000 characters"
        ),
        "{found:?}"
    );
    assert_eq!(found.len(), 2, "{found:?}");
}
