//! Compile time and definition size for synthetic plans of 10, 300 and 3,000 servers.
//! Prints figures; asserts nothing (targets for 3,000 servers: < 100 ms, < 1 MB).
//!
//! `cargo bench -p aslgen --bench compile`

use aslgen::{Deployment, compile, parse, synth, validate};
use std::time::{Duration, Instant};

fn count_states(value: &serde_json::Value) -> usize {
    let Some(states) = value.get("States").and_then(|s| s.as_object()) else {
        return 0;
    };
    states.len()
        + states
            .values()
            .map(|s| {
                s.get("Branches")
                    .and_then(|b| b.as_array())
                    .map(|b| b.iter().map(count_states).sum::<usize>())
                    .unwrap_or(0)
                    + s.get("ItemProcessor").map(count_states).unwrap_or(0)
            })
            .sum::<usize>()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let deployment = Deployment::default();
    println!(
        "{:>8} {:>6} {:>8} {:>12} {:>12} {:>14} {:>14} {:>8}",
        "servers",
        "waves",
        "units",
        "parse+val ms",
        "compile ms",
        "minified B",
        "pretty B",
        "states"
    );
    for (servers, waves) in [(10, 2), (300, 10), (3_000, 30)] {
        let yaml = serde_yaml_ng::to_string(&synth::large_plan(servers, waves)).unwrap();
        let runs = if servers >= 3_000 { 15 } else { 40 };
        let mut front = Vec::new();
        let mut back = Vec::new();
        let mut last = None;
        for _ in 0..runs {
            let t0 = Instant::now();
            let doc = parse::plan_document(&yaml, "bench").unwrap();
            let resolved = validate(&doc, None).unwrap();
            let t1 = Instant::now();
            let compiled = compile(&resolved, &deployment).unwrap();
            let minified = compiled.definition_minified();
            let t2 = Instant::now();
            front.push(t1 - t0);
            back.push(t2 - t1);
            last = Some((resolved.units.len(), compiled, minified));
        }
        let (units, compiled, minified) = last.unwrap();
        let pretty = compiled.definition();
        let value: serde_json::Value = serde_json::from_str(&minified).unwrap();
        println!(
            "{:>8} {:>6} {:>8} {:>12.2} {:>12.2} {:>14} {:>14} {:>8}",
            servers,
            waves,
            units,
            median(front).as_secs_f64() * 1e3,
            median(back).as_secs_f64() * 1e3,
            minified.len(),
            pretty.len(),
            count_states(&value)
        );
    }
}
