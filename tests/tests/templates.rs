//! The deployment templates against what the code needs: the plans' execution role in
//! `templates/orchestration.yaml` grants exactly what aslgen emits for the example plans.

use serde_yaml_ng::Value;
use std::collections::BTreeSet;
use system_tests::root;

/// The role's statements as (action, resource pattern, condition), `!Sub` strings taken
/// literally, the condition as compact JSON (empty for none).
fn execution_role_grants() -> BTreeSet<Grant> {
    let text = std::fs::read_to_string(root().join("templates/orchestration.yaml"))
        .expect("orchestration.yaml");
    let template: Value = serde_yaml_ng::from_str(&text).expect("orchestration.yaml parses");
    let statements = &template["Resources"]["ExecutionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
        ["Statement"];
    let mut grants = BTreeSet::new();
    for statement in statements.as_sequence().expect("statements") {
        assert_eq!(statement["Effect"].as_str(), Some("Allow"), "{statement:?}");
        let condition = match statement.get("Condition") {
            None => String::new(),
            Some(c) => serde_json::to_string(
                &serde_json::to_value(c).expect("the condition is plain YAML"),
            )
            .expect("JSON"),
        };
        for action in strings(&statement["Action"]) {
            for resource in strings(&statement["Resource"]) {
                grants.insert((action.clone(), resource, condition.clone()));
            }
        }
    }
    grants
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items.iter().flat_map(strings).collect(),
        Value::Tagged(tagged) if tagged.tag == "Sub" => strings(&tagged.value),
        other => panic!("unexpected IAM value {other:?}"),
    }
}

/// The deployment as the template names things, so ARNs come out as its `!Sub` strings.
fn symbolic_deployment() -> aslgen::Deployment {
    aslgen::Deployment {
        partition: "${AWS::Partition}".into(),
        region: "${AWS::Region}".into(),
        account: "${AWS::AccountId}".into(),
        table: "${Prefix}-orchestrator".into(),
        topic: "${Prefix}-notifications".into(),
        probe_function: "${Prefix}-health-probe".into(),
        machine_prefix: "${Prefix}-plan".into(),
        log_group_arn: Some("${MachineLogGroup.Arn}".into()),
        ..aslgen::Deployment::default()
    }
}

/// Every (action, resource, condition) the example plans' machines need.
fn emitted_by_examples() -> BTreeSet<Grant> {
    let fleet = system_tests::fleet();
    let mut emitted = BTreeSet::new();
    let mut plans = 0;
    for entry in std::fs::read_dir(root().join("examples")).expect("examples/") {
        let path = entry.expect("entry").path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml")
            || matches!(name.as_str(), "fleet" | "broken")
        {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("example");
        let doc = aslgen::parse::plan_document(&text, &name).expect("example parses");
        let inventory = (name != "large-3000").then_some(&fleet);
        let resolved = aslgen::validate(&doc, inventory).expect("example is valid");
        let compiled = aslgen::compile(&resolved, &symbolic_deployment()).expect("compiles");
        // The same plan split per wave: the parent starts, follows and stops children.
        let split = aslgen::compile_split(&resolved, &symbolic_deployment()).expect("splits");
        for statement in compiled
            .policy
            .statement
            .iter()
            .chain(&split.policy.statement)
        {
            let condition = statement
                .condition
                .as_ref()
                .map(|c| serde_json::to_string(c).expect("JSON"))
                .unwrap_or_default();
            for action in &statement.action {
                for resource in &statement.resource {
                    emitted.insert((action.clone(), resource.clone(), condition.clone()));
                }
            }
        }
        plans += 1;
    }
    assert!(plans >= 5, "only {plans} example plans found");
    emitted
}

/// IAM's wildcard match: `*` any run of characters, `?` one character.
fn iam_matches(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    let mut dp = vec![vec![false; v.len() + 1]; p.len() + 1];
    dp[0][0] = true;
    for i in 1..=p.len() {
        dp[i][0] = dp[i - 1][0] && p[i - 1] == '*';
        for j in 1..=v.len() {
            dp[i][j] = match p[i - 1] {
                '*' => dp[i - 1][j] || dp[i][j - 1],
                '?' => dp[i - 1][j - 1],
                c => dp[i - 1][j - 1] && c == v[j - 1],
            };
        }
    }
    dp[p.len()][v.len()]
}

#[test]
fn iam_wildcards_match_as_iam_does() {
    assert!(iam_matches("arn:x:document/*", "arn:x:document/DRS-Check"));
    assert!(iam_matches("*", "anything"));
    assert!(!iam_matches(
        "arn:x:document/AWS-*",
        "arn:x:document/Contoso-Doc"
    ));
    assert!(!iam_matches("arn:x:job/*", "arn:y:job/1"));
    assert!(iam_matches("a?c", "abc") && !iam_matches("a?c", "ac"));
}

/// (action, resource or pattern, condition as compact JSON or empty).
type Grant = (String, String, String);
type Grants = BTreeSet<Grant>;

/// (needed but not granted, granted but never needed). A grant covers a need when the
/// actions are equal, the pattern matches the resource and the conditions are the same:
/// a grant with a condition is narrower than the need without, and one without is wider.
fn compare(grants: &Grants, emitted: &Grants) -> (Vec<Grant>, Vec<Grant>) {
    let covers = |(a, pattern, c): &Grant, (action, resource, condition): &Grant| {
        a == action && c == condition && iam_matches(pattern, resource)
    };
    let missing = emitted
        .iter()
        .filter(|need| !grants.iter().any(|grant| covers(grant, need)))
        .cloned()
        .collect();
    let unused = grants
        .iter()
        .filter(|grant| !emitted.iter().any(|need| covers(grant, need)))
        .cloned()
        .collect();
    (missing, unused)
}

#[test]
fn execution_role_grants_exactly_what_the_compiler_emits() {
    let grants = execution_role_grants();
    let emitted = emitted_by_examples();
    let (missing, unused) = compare(&grants, &emitted);
    assert!(missing.is_empty(), "the execution role lacks {missing:#?}");
    assert!(
        unused.is_empty(),
        "the execution role grants more than any plan needs: {unused:#?}"
    );
    let actions =
        |set: &Grants| -> BTreeSet<String> { set.iter().map(|(a, ..)| a.clone()).collect() };
    assert_eq!(actions(&grants), actions(&emitted));
}

#[test]
fn the_comparison_notices_a_missing_and_an_extra_grant() {
    let emitted = emitted_by_examples();
    let mut grants = execution_role_grants();
    grants.retain(|(action, ..)| action != "drs:StartRecovery");
    grants.insert(("s3:GetObject".into(), "*".into(), String::new()));
    let (missing, unused) = compare(&grants, &emitted);
    assert!(
        missing.iter().any(|(a, ..)| a == "drs:StartRecovery"),
        "{missing:?}"
    );
    assert_eq!(
        unused,
        vec![("s3:GetObject".to_owned(), "*".to_owned(), String::new())]
    );
}

#[test]
fn commands_reach_recovery_instances_only() {
    // The role sends commands to no instance without DRS's tag: every SendCommand grant on
    // instances carries the condition aslgen emits, and dropping it is noticed.
    let grants = execution_role_grants();
    let on_instances: Vec<&Grant> = grants
        .iter()
        .filter(|(a, r, _)| a == "ssm:SendCommand" && r.contains(":instance/"))
        .collect();
    assert!(!on_instances.is_empty());
    let tagged = r#"{"Null":{"ssm:resourceTag/AWSElasticDisasterRecoveryManaged":"false"}}"#;
    for (_, _, condition) in &on_instances {
        assert_eq!(condition, tagged);
    }
    let widened: Grants = grants
        .iter()
        .map(|(a, r, c)| {
            let c = if r.contains(":instance/") { "" } else { c };
            (a.clone(), r.clone(), c.to_owned())
        })
        .collect();
    let (missing, unused) = compare(&widened, &emitted_by_examples());
    assert!(
        missing
            .iter()
            .any(|(a, r, c)| a == "ssm:SendCommand" && r.contains(":instance/") && c == tagged),
        "{missing:?}"
    );
    assert!(
        unused
            .iter()
            .any(|(a, r, c)| a == "ssm:SendCommand" && r.contains(":instance/") && c.is_empty()),
        "{unused:?}"
    );
}

#[test]
fn the_deployed_probe_never_reaches_loopback() {
    // `PROBE_ALLOW_LOOPBACK=true` is for the offline smoke test (its listener is on
    // 127.0.0.1); in Lambda, loopback is the Runtime API. No template or deploy step sets it.
    let env = tasks::probe::ALLOW_LOOPBACK_ENV;
    let mut read = 0;
    for entry in std::fs::read_dir(root().join("templates")).expect("templates/") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) == Some("yaml") {
            let text = std::fs::read_to_string(&path).expect("template");
            assert!(!text.contains(env), "{} sets {env}", path.display());
            read += 1;
        }
    }
    assert!(read >= 7, "only {read} templates found");
    let deploy = std::fs::read_to_string(root().join("deploy.sh")).expect("deploy.sh");
    assert!(!deploy.contains(env), "deploy.sh sets {env}");
}
