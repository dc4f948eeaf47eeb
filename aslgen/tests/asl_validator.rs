//! Every machine the suite compiles goes through asl-validator (npm), an independent
//! checker of the States Language schema, transitions, paths and ARNs.

mod common;

use aslgen::{Deployment, compile, parse, validate};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn compiled_machines_pass_asl_validator() {
    let validator = root().join("tests/node/node_modules/.bin/asl-validator");
    assert!(
        validator.exists(),
        "asl-validator is not installed: run `npm ci --prefix tests/node` (tests/run.sh does)"
    );
    let out = root().join("target/asl-validator");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();

    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("statemachines"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".asl.json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 4,
        "expected the example machines in statemachines/"
    );

    let mut texts: Vec<(String, String)> = Vec::new();
    for seed in 0..40u64 {
        texts.push((
            format!("random-{seed}"),
            serde_json::to_string(&common::plans::valid_plan(seed * 7919 + 1)).unwrap(),
        ));
    }
    texts.push(("fixture-minimal".into(), common::fixtures::MINIMAL.into()));
    texts.push((
        "fixture-point-in-time".into(),
        common::fixtures::point_in_time(),
    ));
    texts.push(("fixture-steps".into(), common::fixtures::STEPS.into()));
    for (name, text) in texts {
        let doc = parse::plan_document(&text, &name).unwrap();
        let resolved = validate(&doc, None).unwrap();
        let compiled = compile(&resolved, &Deployment::default()).unwrap();
        let path = out.join(format!("{name}.asl.json"));
        std::fs::write(&path, compiled.definition()).unwrap();
        files.push(path);
    }

    let mut command = Command::new(&validator);
    for file in &files {
        command.arg("--json-path").arg(file);
    }
    let output = command.output().expect("asl-validator runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "asl-validator refused a machine:\n{stdout}\n{stderr}"
    );
    let valid = stdout.matches("is valid").count();
    assert_eq!(valid, files.len(), "{stdout}");
    println!("asl-validator: {valid} machines valid");
}
