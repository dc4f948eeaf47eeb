//! Plans too large for one definition compile into a parent machine and a child machine
//! per wave (or part of a wave), each within Step Functions' 1 MB; small plans stay one
//! machine.

use aslgen::{Deployment, compile, synth, validate};
use serde_json::Value;

const LIMIT: usize = 1_048_576;

fn starts(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if map.get("Resource").and_then(Value::as_str)
                == Some("arn:aws:states:::states:startExecution.sync:2")
                && let Some(arn) = map["Parameters"]["StateMachineArn"].as_str()
            {
                out.push(arn.to_owned());
            }
            map.values().for_each(|v| starts(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| starts(v, out)),
        _ => {}
    }
}

#[test]
fn ten_thousand_servers_in_500_groups_compile_into_machines_under_1_mb() {
    let doc = synth::wide_plan(10_000, 100, 5);
    let resolved = validate(&doc, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resolved.units.len(), 500);
    let compiled = compile(&resolved, &Deployment::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(compiled.children.len(), 100, "one child per wave");
    let parent = compiled.definition_minified();
    let mut sizes = vec![parent.len()];
    sizes.extend(
        compiled
            .children
            .iter()
            .map(|c| c.definition_minified().len()),
    );
    let largest = sizes.iter().max().copied().unwrap_or(0);
    println!(
        "10,000 servers, 100 waves, 500 groups: parent {} bytes, children {}–{} bytes",
        parent.len(),
        sizes[1..].iter().min().unwrap_or(&0),
        sizes[1..].iter().max().unwrap_or(&0)
    );
    assert!(largest < LIMIT, "a definition is {largest} bytes");
    // The parent starts every child, in wave order, by its ARN.
    let mut started = Vec::new();
    starts(
        &serde_json::from_str(&parent).unwrap_or_default(),
        &mut started,
    );
    let expected: Vec<String> = compiled
        .children
        .iter()
        .map(|c| Deployment::default().arn("states", &format!("stateMachine:{}", c.name)))
        .collect();
    assert!(
        started == expected,
        "the parent starts {} children out of wave order",
        started.len()
    );
    // The one role may start, follow and stop them.
    let actions: Vec<&str> = compiled
        .policy
        .statement
        .iter()
        .flat_map(|s| s.action.iter().map(String::as_str))
        .collect();
    for needed in [
        "states:StartExecution",
        "states:DescribeExecution",
        "states:StopExecution",
        "events:PutRule",
        "drs:StartRecovery",
    ] {
        assert!(actions.contains(&needed), "{needed} missing: {actions:?}");
    }
    // Children record and tag as the parent run, never as themselves.
    for child in &compiled.children {
        let text = child.definition_minified();
        assert!(
            !text.contains("$$.Execution.Name"),
            "{} uses its own name",
            child.name
        );
        assert!(
            text.contains("$$.Execution.Input.execution"),
            "{}",
            child.name
        );
    }
}

#[test]
fn a_wave_too_large_for_one_child_is_split_into_parts() {
    // One wave of 120 groups: more than one child can hold.
    let doc = synth::wide_plan(2_400, 1, 120);
    let compiled = compile(
        &validate(&doc, None).unwrap_or_else(|e| panic!("{e}")),
        &Deployment::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        compiled.children.len() >= 2,
        "{} children",
        compiled.children.len()
    );
    for child in &compiled.children {
        assert!(child.definition_minified().len() < LIMIT, "{}", child.name);
        assert!(child.name.contains("_w1p"), "{}", child.name);
    }
}

#[test]
fn a_plan_that_fits_stays_one_machine() {
    let doc = synth::large_plan(3_000, 30);
    let compiled = compile(
        &validate(&doc, None).unwrap_or_else(|e| panic!("{e}")),
        &Deployment::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(compiled.children.is_empty());
}
