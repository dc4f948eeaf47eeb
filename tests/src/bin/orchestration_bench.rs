//! Orchestration overhead of the compiled machines, executed in moto with the DRS
//! simulator: makespan ÷ the simulated DRS critical path, state transitions per wave,
//! history events and the largest state payload, per example plan. Prints figures.
//!
//! `cargo run --release -p system-tests --bin orchestration-bench -- [SPEED] [LAUNCH_MINUTES]`
//! Time is scaled: at speed 30 a 1-second poll is DRS's 30-second default poll.

use aws_sdk_sfn::types::HistoryEventType;
use std::collections::HashMap;
use std::time::Duration;
use system_tests::{Env, Setup, Timing, fleet, root, statemachine};

struct Example {
    plan: &'static str,
    id: &'static str,
    inventory: bool,
}

const EXAMPLES: [Example; 3] = [
    Example {
        plan: "three-tier",
        id: "shop-dr",
        inventory: true,
    },
    Example {
        plan: "tag-based",
        id: "crm-dr",
        inventory: true,
    },
    Example {
        plan: "non-series-parallel",
        id: "hr-dr",
        inventory: true,
    },
];

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let speed: f64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(30.0);
    let launch_minutes: f64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20.0);
    let poll = (30.0 / speed).round().max(1.0) as u64;
    println!(
        "speed {speed}× (a {poll} s poll is {} simulated s), DRS launch {launch_minutes} min",
        poll as f64 * speed
    );
    println!(
        "{:<8} {:>10} {:>10} {:>7} {:>8} {:>10} {:>20}",
        "plan", "makespan s", "DRS path s", "ratio", "events", "max bytes", "transitions/wave"
    );
    for example in EXAMPLES {
        run(&example, speed, launch_minutes, poll).await;
    }
}

async fn run(example: &Example, speed: f64, launch_minutes: f64, poll: u64) {
    let text =
        std::fs::read_to_string(root().join(format!("examples/{}.yaml", example.plan))).unwrap();
    let doc = aslgen::parse::plan_document(&text, example.plan).unwrap();
    let inventory = fleet();
    let resolved = aslgen::validate(&doc, example.inventory.then_some(&inventory)).unwrap();
    let compiled = aslgen::compile(&resolved, &aslgen::Deployment::default()).unwrap();

    // Every probed port answers on loopback.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = socket.read(&mut buf).await;
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    let probe_ports = [22, 80, 443, 5432, 8080]
        .into_iter()
        .map(|p| (p, port))
        .collect();
    let env = Env::start(Setup {
        speed,
        timing: Timing {
            launch_seconds: launch_minutes * 60.0,
            ..Timing::default()
        },
        probe_ports,
        ..Setup::default()
    })
    .await;
    let machine = env.deploy(&compiled.name, &statemachine(example.id)).await;
    let input = format!(r#"{{"mode": "DRILL", "pollSeconds": {poll}}}"#);
    let execution = env.start_execution(&machine, "bench", &input).await;
    // Approvers answer at once, so only orchestration and DRS time remain.
    loop {
        for approval in env.pending_approvals().await {
            env.decide(&approval, true).await;
        }
        let out = env
            .sfn
            .describe_execution()
            .execution_arn(&execution)
            .send()
            .await
            .unwrap();
        if out.status != aws_sdk_sfn::types::ExecutionStatus::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let history = env.history(&execution).await;

    // Makespan: the plan body ("Run plan"), in simulated seconds.
    let time_of = |kind: HistoryEventType| {
        history
            .iter()
            .filter(|e| e.r#type == kind)
            .find(|e| {
                let name = e
                    .state_entered_event_details
                    .as_ref()
                    .map(|d| d.name.as_str())
                    .or(e
                        .state_exited_event_details
                        .as_ref()
                        .map(|d| d.name.as_str()));
                name == Some("Run plan")
            })
            .map(|e| e.timestamp.as_secs_f64())
    };
    let makespan = match (
        time_of(HistoryEventType::ParallelStateEntered),
        time_of(HistoryEventType::ParallelStateExited),
    ) {
        (Some(a), Some(b)) => (b - a) * speed,
        _ => f64::NAN,
    };

    // The plan's critical path: the longest chain of DRS launch-job durations (from the
    // simulator's own records, in DRS's time) through wave order and dependencies, plus the plan's
    // wait steps (real seconds in moto, so scaled like everything else).
    let durations: HashMap<String, f64> = {
        let world = drs_sim::server::lock(&env.sim().world);
        world
            .jobs
            .iter()
            .filter_map(|job| {
                let unit = job
                    .tags
                    .get("drsOrchestratorUnit")?
                    .split('/')
                    .nth(1)?
                    .to_owned();
                // Job times are wall-clock; DRS's own duration is `speed` times longer.
                Some((unit, (job.ended? - job.created) as f64 / 1_000.0 * speed))
            })
            .collect()
    };
    let plan_path = critical_path(&resolved, &durations, speed);

    let mut per_wave: Vec<usize> = vec![0; resolved.waves.len()];
    let mut largest = 0;
    for event in &history {
        if let Some(d) = &event.state_entered_event_details {
            largest = largest.max(d.input.as_deref().map_or(0, str::len));
            if let Some(key) = compiled.step_map.states.get(&d.name)
                && let Some(w) = key
                    .strip_prefix('w')
                    .and_then(|k| k.split('.').next())
                    .and_then(|n| n.parse::<usize>().ok())
                && (1..=per_wave.len()).contains(&w)
            {
                per_wave[w - 1] += 1;
            }
        }
        if let Some(d) = &event.state_exited_event_details {
            largest = largest.max(d.output.as_deref().map_or(0, str::len));
        }
    }
    println!(
        "{:<8} {:>10.0} {:>10.0} {:>7.3} {:>8} {:>10} {:>20}",
        example.id,
        makespan,
        plan_path,
        makespan / plan_path,
        history.len(),
        largest,
        format!("{per_wave:?}")
    );
    env.stop().await;
}

fn wait_seconds(steps: &[aslgen::model::Step]) -> f64 {
    steps
        .iter()
        .filter_map(|s| match s {
            aslgen::model::Step::Wait(w) => Some(w.duration.as_secs() as f64),
            _ => None,
        })
        .sum()
}

/// Longest path through waves (barriers) and dependency edges.
fn critical_path(resolved: &aslgen::Resolved, durations: &HashMap<String, f64>, speed: f64) -> f64 {
    let mut finish: HashMap<usize, f64> = HashMap::new();
    let mut wave_end = 0.0f64;
    for wave in &resolved.waves {
        let start = wave_end + wait_seconds(&wave.before) * speed;
        let mut end_of_wave = start;
        // Units of a wave come in an order where every predecessor is placed first
        // (dependencies form a DAG).
        let mut pending: Vec<usize> = wave.units.clone();
        let mut guard = 0;
        while !pending.is_empty() && guard < 10_000 {
            guard += 1;
            let unit = pending.remove(0);
            let preds: Vec<usize> = resolved
                .all_edges
                .iter()
                .filter(|e| e.to == unit && resolved.units[e.from].wave == wave.index)
                .map(|e| e.from)
                .collect();
            if preds.iter().any(|p| !finish.contains_key(p)) {
                pending.push(unit);
                continue;
            }
            let ready = preds.iter().map(|p| finish[p]).fold(start, f64::max);
            let u = &resolved.units[unit];
            let end = ready
                + durations.get(&u.key).copied().unwrap_or(0.0)
                + wait_seconds(&u.steps) * speed;
            finish.insert(unit, end);
            end_of_wave = end_of_wave.max(end);
        }
        wave_end = end_of_wave + wait_seconds(&wave.after) * speed;
    }
    wave_end
}
