//! Latency of the API's list endpoints with 3,000 source servers and 300 plans, against
//! the emulator: p50/p99 of whole requests, and of the emulator calls alone (the same
//! DynamoDB scans and DRS pages the handlers make), to separate the two. Prints figures.
//!
//! `cargo run --release -p system-tests --bin api-bench`

use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};
use system_tests::{Env, Setup, TABLE};

const SERVERS: u64 = 3_000;
const GROUPS: u64 = 30;
const PLANS: u64 = 300;
const REQUESTS: usize = 50;

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index].as_secs_f64() * 1_000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let env = Env::start(Setup {
        inventory: aslgen::synth::inventory(SERVERS),
        ..Setup::default()
    })
    .await;
    let api = env.start_api().await;
    let setup = Instant::now();
    let per_group = SERVERS / GROUPS;
    for g in 0..GROUPS {
        let ids: Vec<String> = (1..=per_group)
            .map(|n| aslgen::synth::server_id(g * per_group + n))
            .collect();
        let (status, body) = api
            .call(
                Some("Admin"),
                Method::POST,
                "/api/protection-groups",
                Some(
                    json!({"id": format!("g{g:02}"), "name": format!("Group {g}"), "servers": ids}),
                ),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    for p in 0..PLANS {
        let plan = json!({
            "id": format!("plan-{p:03}"),
            "name": format!("Plan {p}"),
            "waves": [{"name": "Only", "groups": [{"group": format!("g{:02}", p % GROUPS)}]}],
        });
        let (status, body) = api
            .call(
                Some("Admin"),
                Method::POST,
                "/api/plans",
                Some(json!({"plan": plan})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    println!(
        "setup: {GROUPS} groups over {SERVERS} servers and {PLANS} plans in {:.1} s",
        setup.elapsed().as_secs_f64()
    );
    println!(
        "{:<28} {:>9} {:>9} {:>13} {:>13}",
        "endpoint", "p50 ms", "p99 ms", "emulator p50", "emulator p99"
    );
    for path in [
        "/api/source-servers",
        "/api/protection-groups",
        "/api/plans",
        "/api/executions",
    ] {
        let mut total = Vec::with_capacity(REQUESTS);
        for _ in 0..REQUESTS {
            let started = Instant::now();
            let (status, _) = api.call(Some("Viewer"), Method::GET, path, None).await;
            total.push(started.elapsed());
            assert_eq!(status, 200);
        }
        // The same emulator work the handler does, without the handler.
        let mut emulator = Vec::with_capacity(REQUESTS);
        for _ in 0..REQUESTS {
            let started = Instant::now();
            match path {
                "/api/source-servers" => {
                    let mut token = None;
                    loop {
                        let page = env
                            .drs
                            .describe_source_servers()
                            .max_results(1_000)
                            .set_next_token(token)
                            .send()
                            .await
                            .unwrap();
                        token = page.next_token;
                        if token.is_none() {
                            break;
                        }
                    }
                    scan(&env, "OWNER").await;
                }
                "/api/protection-groups" => scan(&env, "GROUP").await,
                "/api/plans" => scan(&env, "PLAN").await,
                _ => scan(&env, "EXECUTION").await,
            }
            emulator.push(started.elapsed());
        }
        println!(
            "{:<28} {:>9.2} {:>9.2} {:>13.2} {:>13.2}",
            path,
            percentile(&mut total, 0.5),
            percentile(&mut total, 0.99),
            percentile(&mut emulator, 0.5),
            percentile(&mut emulator, 0.99)
        );
    }
    env.stop().await;
}

async fn scan(env: &Env, sort: &str) {
    let mut start = None;
    loop {
        let page = env
            .ddb
            .scan()
            .table_name(TABLE)
            .filter_expression("sk = :k")
            .expression_attribute_values(":k", system_tests::s(sort))
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        start = page.last_evaluated_key;
        if start.is_none() {
            return;
        }
    }
}
