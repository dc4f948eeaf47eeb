//! The deployment templates against what the code needs: the plans' execution role in
//! `templates/orchestration.yaml` grants exactly what aslgen emits for the example plans.

use serde_yaml_ng::Value;
use std::collections::BTreeSet;
use system_tests::root;

/// The role's statements as (action, resource pattern), `!Sub` strings taken literally.
fn execution_role_grants() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(root().join("templates/orchestration.yaml"))
        .expect("orchestration.yaml");
    let template: Value = serde_yaml_ng::from_str(&text).expect("orchestration.yaml parses");
    let statements = &template["Resources"]["ExecutionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
        ["Statement"];
    let mut grants = BTreeSet::new();
    for statement in statements.as_sequence().expect("statements") {
        assert_eq!(statement["Effect"].as_str(), Some("Allow"), "{statement:?}");
        for action in strings(&statement["Action"]) {
            for resource in strings(&statement["Resource"]) {
                grants.insert((action.clone(), resource));
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

/// Every (action, resource) the example plans' machines need.
fn emitted_by_examples() -> BTreeSet<(String, String)> {
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
        for statement in &compiled.policy.statement {
            for action in &statement.action {
                for resource in &statement.resource {
                    emitted.insert((action.clone(), resource.clone()));
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

type Grant = (String, String);
type Grants = BTreeSet<Grant>;

/// (needed but not granted, granted but never needed).
fn compare(grants: &Grants, emitted: &Grants) -> (Vec<Grant>, Vec<Grant>) {
    let missing = emitted
        .iter()
        .filter(|(action, resource)| {
            !grants
                .iter()
                .any(|(a, pattern)| a == action && iam_matches(pattern, resource))
        })
        .cloned()
        .collect();
    let unused = grants
        .iter()
        .filter(|(action, pattern)| {
            !emitted
                .iter()
                .any(|(a, resource)| a == action && iam_matches(pattern, resource))
        })
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
        |set: &Grants| -> BTreeSet<String> { set.iter().map(|(a, _)| a.clone()).collect() };
    assert_eq!(actions(&grants), actions(&emitted));
}

#[test]
fn the_comparison_notices_a_missing_and_an_extra_grant() {
    let emitted = emitted_by_examples();
    let mut grants = execution_role_grants();
    grants.retain(|(action, _)| action != "drs:StartRecovery");
    grants.insert(("s3:GetObject".into(), "*".into()));
    let (missing, unused) = compare(&grants, &emitted);
    assert!(
        missing.iter().any(|(a, _)| a == "drs:StartRecovery"),
        "{missing:?}"
    );
    assert_eq!(unused, vec![("s3:GetObject".to_owned(), "*".to_owned())]);
}
