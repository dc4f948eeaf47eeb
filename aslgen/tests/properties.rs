//! Property tests: random valid plans compile into machines that are well formed and
//! honour every dependency; random invalid input is refused, never panics.

mod common;

use aslgen::{Deployment, compile, parse, validate};
use common::plans;
use proptest::prelude::*;
use serde_json::Value;

fn compile_json(doc: &aslgen::PlanDocument) -> (aslgen::Resolved, Value) {
    let resolved = match validate(doc, None) {
        Ok(r) => r,
        Err(e) => panic!(
            "generated plan should be valid:\n{e}\n{}",
            serde_yaml_ng::to_string(doc).unwrap()
        ),
    };
    let compiled = compile(&resolved, &Deployment::default()).expect("compiles");
    let json: Value = serde_json::from_str(&compiled.definition()).expect("definition is JSON");
    (resolved, json)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn valid_plans_compile_to_well_formed_machines(seed in any::<u64>()) {
        let doc = plans::valid_plan(seed);
        let (_, json) = compile_json(&doc);
        let analysis = common::analyse(&json);
        prop_assert!(analysis.problems.is_empty(), "seed {seed}: {:?}", analysis.problems);
    }

    #[test]
    fn ssm_steps_run_only_on_the_recovered_instances(seed in any::<u64>()) {
        let doc = plans::valid_plan(seed);
        let (_, json) = compile_json(&doc);
        let problems = common::ssm_target_problems(&json);
        prop_assert!(problems.is_empty(), "seed {seed}: {problems:?}");
    }

    #[test]
    fn every_dependency_precedes_its_dependent(seed in any::<u64>()) {
        let doc = plans::valid_plan(seed);
        let (resolved, json) = compile_json(&doc);
        let violations = common::dependency_violations(&resolved, &json);
        prop_assert!(violations.is_empty(), "seed {seed}: {violations:?}");
        // Every unit launches somewhere.
        let launches = common::analyse(&json).launches();
        for unit in &resolved.units {
            prop_assert!(launches.contains_key(&unit.key), "seed {seed}: `{}` never launches", unit.key);
        }
    }

    #[test]
    fn invalid_plans_are_refused_with_paths(seed in any::<u64>()) {
        let (doc, what) = plans::invalid_plan(seed);
        match validate(&doc, None) {
            Ok(_) => prop_assert!(false, "seed {seed}: `{what}` was accepted"),
            Err(invalid) => {
                prop_assert!(!invalid.problems.is_empty());
                for problem in &invalid.problems {
                    prop_assert!(!problem.path.is_empty() && !problem.message.is_empty());
                }
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        if let Ok(doc) = parse::plan_document(&text, "fuzz") {
            if let Ok(resolved) = validate(&doc, None) {
                let _ = compile(&resolved, &Deployment::default());
            }
        }
    }

    #[test]
    fn mutated_documents_never_panic(seed in any::<u64>(), pick in any::<u64>(), replacement in prop_oneof![
        Just(Value::Null), Just(Value::Bool(true)), any::<i64>().prop_map(Value::from),
        ".{0,20}".prop_map(Value::from), Just(serde_json::json!([])), Just(serde_json::json!({})),
        Just(Value::from("0s")), Just(Value::from("s-0000000000000000z")),
    ]) {
        let doc = plans::valid_plan(seed);
        let mut value = serde_json::to_value(&doc).unwrap();
        let mut nodes = 0usize;
        count(&value, &mut nodes);
        let mut target = (pick % nodes.max(1) as u64) as usize;
        replace(&mut value, &mut target, replacement);
        let text = value.to_string();
        if let Ok(doc) = parse::plan_document(&text, "mutant") {
            if let Ok(resolved) = validate(&doc, None) {
                let _ = compile(&resolved, &Deployment::default());
            }
        }
    }
}

fn count(value: &Value, n: &mut usize) {
    *n += 1;
    match value {
        Value::Array(items) => items.iter().for_each(|v| count(v, n)),
        Value::Object(map) => map.values().for_each(|v| count(v, n)),
        _ => {}
    }
}

fn replace(value: &mut Value, target: &mut usize, with: Value) -> bool {
    if *target == 0 {
        *value = with;
        return true;
    }
    *target -= 1;
    match value {
        Value::Array(items) => items.iter_mut().any(|v| replace(v, target, with.clone())),
        Value::Object(map) => map.values_mut().any(|v| replace(v, target, with.clone())),
        _ => false,
    }
}

/// The checkers themselves must be able to fail: a reversed edge and a dangling
/// transition are both reported.
#[test]
fn checkers_catch_violations() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/three-tier.yaml"
    ))
    .unwrap();
    let doc = parse::plan_document(&text, "three-tier").unwrap();
    let (mut resolved, mut json) = compile_json(&doc);
    assert!(common::dependency_violations(&resolved, &json).is_empty());
    for edge in &mut resolved.all_edges {
        std::mem::swap(&mut edge.from, &mut edge.to);
    }
    let violations = common::dependency_violations(&resolved, &json);
    assert_eq!(violations.len(), resolved.all_edges.len(), "{violations:?}");

    json["States"]["Read input"]["Next"] = Value::from("Nowhere");
    let analysis = common::analyse(&json);
    assert!(
        analysis.problems.iter().any(|p| p.contains("Nowhere")),
        "{:?}",
        analysis.problems
    );
}

/// The SSM target check fails on a machine whose commands or runbooks aim elsewhere.
#[test]
fn ssm_target_check_catches_steps_aimed_elsewhere() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/directory.yaml"
    ))
    .unwrap();
    let doc = parse::plan_document(&text, "directory").unwrap();
    let (_, json) = compile_json(&doc);
    assert!(common::ssm_target_problems(&json).is_empty());
    let text = serde_json::to_string(&json).unwrap();
    assert!(text.contains(":ssm:sendCommand") && text.contains(":ssm:startAutomationExecution"));
    let aimed = text
        .replace(
            r#""InstanceIds.$":"$.instances.ids""#,
            r#""InstanceIds":["i-0123456789abcdef0"]"#,
        )
        .replace(
            r#""InstanceId.$":"States.Array($.instanceId)""#,
            r#""InstanceId":["i-0123456789abcdef0"]"#,
        );
    let problems = common::ssm_target_problems(&serde_json::from_str(&aimed).unwrap());
    assert!(
        problems.iter().any(|p| p.contains("sends to None")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("sets InstanceId from None")),
        "{problems:?}"
    );
}

/// Two units of one wave with no dependency run in parallel branches, so neither is
/// "before" the other.
#[test]
fn parallel_units_are_not_ordered() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/non-series-parallel.yaml"
    ))
    .unwrap();
    let doc = parse::plan_document(&text, "nsp").unwrap();
    let (resolved, json) = compile_json(&doc);
    let analysis = common::analyse(&json);
    let launches = analysis.launches();
    let markers = analysis.stage_markers();
    let hr_db = launches.keys().find(|k| k.ends_with("hr-db")).unwrap();
    let ad_done = &markers[&("w1.ad".to_owned(), "RUNNING".to_owned())][0];
    assert!(!analysis.happens_before(ad_done, launches[hr_db][0]));
    assert!(common::dependency_violations(&resolved, &json).is_empty());
}
