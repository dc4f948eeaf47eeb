//! Whole-document snapshots (insta) of machines compiled from small, focused plans.
//! Review changes with `cargo insta review`, or `INSTA_UPDATE=always` to accept.

mod common;

use aslgen::{Deployment, compile, parse, validate};
use common::fixtures::{MINIMAL, STEPS, point_in_time};

fn compiled(text: &str) -> aslgen::Compiled {
    let doc = parse::plan_document(text, "snapshot").unwrap();
    let resolved = validate(&doc, None).unwrap_or_else(|e| panic!("{e}"));
    compile(&resolved, &Deployment::default()).unwrap()
}

#[test]
fn minimal_machine() {
    insta::assert_json_snapshot!("minimal", compiled(MINIMAL).machine);
}

#[test]
fn point_in_time_machine() {
    insta::assert_json_snapshot!("point_in_time", compiled(&point_in_time()).machine);
}

#[test]
fn every_step_kind_machine_policy_and_step_map() {
    let c = compiled(STEPS);
    insta::assert_json_snapshot!("steps", c.machine);
    insta::assert_json_snapshot!("steps_policy", c.policy);
    insta::assert_json_snapshot!("steps_step_map", c.step_map);
}

/// Run Command reaches only instances DRS launched: the instance grant carries the DRS tag
/// condition, the document grant (which no instance tag could satisfy) does not.
#[test]
fn commands_are_granted_on_recovery_instances_only() {
    let c = compiled(include_str!("../../examples/three-tier.yaml"));
    let policy = serde_json::to_value(&c.policy).unwrap();
    let send: Vec<&serde_json::Value> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["Action"]
                .as_array()
                .unwrap()
                .contains(&"ssm:SendCommand".into())
        })
        .collect();
    assert_eq!(send.len(), 2, "{send:#?}");
    for statement in send {
        let resources = statement["Resource"].as_array().unwrap();
        let on_instances = resources
            .iter()
            .any(|r| r.as_str().unwrap().contains(":instance/"));
        if on_instances {
            assert_eq!(resources.len(), 1, "{statement:#?}");
            assert_eq!(
                statement["Condition"],
                serde_json::json!({"Null": {"ssm:resourceTag/AWSElasticDisasterRecoveryManaged": "false"}}),
            );
            assert_eq!(statement["Sid"], "SsmSendCommandOnRecoveryInstances");
        } else {
            assert!(statement.get("Condition").is_none(), "{statement:#?}");
            assert!(
                resources
                    .iter()
                    .all(|r| r.as_str().unwrap().contains(":document/")),
                "{statement:#?}"
            );
        }
    }
    let sids: std::collections::BTreeSet<&str> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Sid"].as_str().unwrap())
        .collect();
    assert_eq!(
        sids.len(),
        policy["Statement"].as_array().unwrap().len(),
        "Sids repeat"
    );
}
