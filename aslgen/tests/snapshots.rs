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
