//! What waiting for DRS costs, executed in moto with the DRS simulator at scaled time
//! (speed 30: a 1-second poll is DRS's 30-second default). Prints figures:
//!
//! - state transitions for a one-group wave at 5-, 20- and 60-minute launches (the wait
//!   is event-driven, so the count should not grow with the launch);
//! - wave hand-off: DRS time from a wave's last launched server to the next wave's
//!   StartRecovery, and makespan ÷ DRS critical path, for 3 waves of 20-minute launches;
//!   then the same at real time (speed 1, 1-minute launches), where the emulator's own
//!   per-state latency is not multiplied by the speed;
//! - slot utilisation: 25 one-server groups in one wave (DRS runs 20 jobs at once), one of
//!   them 4× slower: how busy the 20 job slots are while a group waits for one.
//!
//! `cargo run --release -p system-tests --bin launch-waits-bench [transitions] [hand-off] [slots]`

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use drs_sim::faults::Faults;
use std::time::Duration;
use system_tests::{Env, Setup, Timing, compile};

const SPEED: f64 = 30.0;
const MAX_JOBS: usize = 20;

fn plan(waves: usize, groups: usize, servers_per_group: usize) -> String {
    let mut text = String::from("protectionGroups:\n");
    let mut n = 0;
    for w in 0..waves {
        for g in 0..groups {
            let ids: Vec<String> = (0..servers_per_group)
                .map(|_| {
                    n += 1;
                    aslgen::synth::server_id(n)
                })
                .collect();
            text.push_str(&format!(
                "  - {{id: g{w}x{g}, name: G{w}x{g}, servers: [{}]}}\n",
                ids.join(", ")
            ));
        }
    }
    text.push_str("plan:\n  id: bench\n  name: Bench\n  defaults: {launchTimeout: 4h}\n  waves:\n");
    for w in 0..waves {
        text.push_str(&format!("    - name: W{w}\n      groups:\n"));
        for g in 0..groups {
            text.push_str(&format!("        - group: g{w}x{g}\n"));
        }
    }
    text
}

async fn execute(env: &Env, plan: &str) -> (String, Vec<aws_sdk_sfn::types::HistoryEvent>) {
    execute_polling(env, plan, 1).await
}

async fn execute_polling(
    env: &Env,
    plan: &str,
    poll_seconds: u32,
) -> (String, Vec<aws_sdk_sfn::types::HistoryEvent>) {
    let machine = env.deploy("drs-plan-bench", &compile(plan, None)).await;
    // A recovery: no drill clean-up, so only launches and their waits are measured.
    let execution = env
        .start_execution(
            &machine,
            "bench",
            &format!(r#"{{"mode": "RECOVERY", "pollSeconds": {poll_seconds}}}"#),
        )
        .await;
    let (status, error, cause) = env.wait(&execution, Duration::from_secs(3_600)).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{error}: {cause}");
    let history = env.history(&execution).await;
    (execution, history)
}

fn entered(history: &[aws_sdk_sfn::types::HistoryEvent]) -> usize {
    history
        .iter()
        .filter(|e| e.state_entered_event_details.is_some())
        .count()
}

/// Transitions from entering the first wave's state to leaving it: what a wave of one
/// group costs, without the run's own start and end (records, outcome, notification).
fn entered_in_wave(history: &[aws_sdk_sfn::types::HistoryEvent]) -> usize {
    let name = |e: &aws_sdk_sfn::types::HistoryEvent| {
        e.state_entered_event_details
            .as_ref()
            .map(|d| d.name.clone())
            .or_else(|| {
                e.state_exited_event_details
                    .as_ref()
                    .map(|d| d.name.clone())
            })
    };
    let Some(first) = history.iter().position(|e| {
        e.state_entered_event_details.is_some() && name(e).is_some_and(|n| n.starts_with("Wave 1"))
    }) else {
        return 0;
    };
    let wave = name(&history[first]);
    let last = history
        .iter()
        .rposition(|e| e.state_exited_event_details.is_some() && name(e) == wave)
        .unwrap_or(history.len() - 1);
    entered(&history[first..=last])
}

fn setup(servers: u64, launch_minutes: f64, faults: Faults) -> Setup {
    setup_at(SPEED, servers, launch_minutes, faults)
}

fn setup_at(speed: f64, servers: u64, launch_minutes: f64, faults: Faults) -> Setup {
    Setup {
        inventory: aslgen::synth::inventory(servers),
        speed,
        timing: Timing {
            launch_seconds: launch_minutes * 60.0,
            jitter: 0.05,
            ..Timing::default()
        },
        faults,
        ..Setup::default()
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // Parts to run (default all): transitions, hand-off, slots.
    let parts: Vec<String> = std::env::args().skip(1).collect();
    let runs = |part: &str| parts.is_empty() || parts.iter().any(|p| p == part);
    println!(
        "speed {SPEED}× (a 1 s poll is DRS's 30 s); safety poll after 8 polls, then 8 more each time"
    );
    if runs("transitions") {
        transitions().await;
    }
    if runs("hand-off") {
        println!("\nthree waves of one group, 20-minute launches:");
        hand_off(SPEED, 20.0, 1).await;
        // At real time the emulator's own latency (moto runs each state in Python) is not
        // multiplied by the speed: this is the hand-off's measure in DRS time.
        println!("\nthe same at real time (speed 1×, 30 s polls), 1-minute launches:");
        hand_off(1.0, 1.0, 30).await;
    }
    if runs("slots") {
        utilisation().await;
    }
}

async fn transitions() {
    println!("\none wave of one group (2 servers), RECOVERY:");
    println!(
        "{:>14} {:>16} {:>18} {:>14} {:>16}",
        "launch (min)",
        "transitions: run",
        "of which the wave",
        "history events",
        "safety timeouts"
    );
    for minutes in [5.0, 20.0, 60.0] {
        let env = Env::start(setup(2, minutes, Faults::default())).await;
        let (_, history) = execute(&env, &plan(1, 1, 2)).await;
        let timeouts = history
            .iter()
            .filter(|e| e.r#type == HistoryEventType::TaskTimedOut)
            .count();
        println!(
            "{minutes:>14} {:>16} {:>18} {:>14} {timeouts:>16}",
            entered(&history),
            entered_in_wave(&history),
            history.len()
        );
        env.stop().await;
    }
}

/// Sim time (ms) of each job's last launched server and of each StartRecovery accepted.
async fn hand_off(speed: f64, launch_minutes: f64, poll_seconds: u32) {
    let env = Env::start(setup_at(speed, 3, launch_minutes, Faults::default())).await;
    let (_, history) = execute_polling(&env, &plan(3, 1, 1), poll_seconds).await;
    let (ends, starts) = {
        let world = drs_sim::server::lock(&env.sim().world);
        let ends: Vec<(i64, i64)> = world
            .jobs
            .iter()
            .filter_map(|job| {
                let last = job
                    .log
                    .iter()
                    .filter(|l| l.event == "LAUNCH_START")
                    .map(|l| l.at)
                    .max()?;
                Some((job.created, last))
            })
            .collect();
        let starts: Vec<i64> = world.jobs.iter().map(|j| j.created).collect();
        (ends, starts)
    };
    let mut delays = Vec::new();
    for (created, last) in &ends {
        if let Some(next) = starts.iter().filter(|s| *s > created).min() {
            delays.push((next - last) as f64 / 1_000.0 * speed);
        }
    }
    let first = starts.iter().min().copied().unwrap_or(0);
    let last_end = ends.iter().map(|(_, l)| *l).max().unwrap_or(0);
    let drs_path: f64 = ends
        .iter()
        .map(|(c, l)| (l - c) as f64 / 1_000.0 * speed)
        .sum();
    let makespan = (last_end - first) as f64 / 1_000.0 * speed;
    println!(
        "hand-off (last server launched → next wave's StartRecovery), DRS s: {:?}",
        delays.iter().map(|d| format!("{d:.2}")).collect::<Vec<_>>()
    );
    println!(
        "first StartRecovery → last launch: {makespan:.0} s; DRS critical path {drs_path:.0} s; ratio {:.4}; history events {}",
        makespan / drs_path,
        history.len()
    );
    env.stop().await;
}

async fn utilisation() {
    let mut faults = Faults::default();
    // The first group's server launches 4× slower.
    faults.servers.insert(
        aslgen::synth::server_id(1),
        serde_json::from_str(r#"{"launch": "slow"}"#).unwrap_or_else(|e| panic!("{e}")),
    );
    let env = Env::start(setup(25, 10.0, faults)).await;
    let (_, history) = execute(&env, &plan(1, 25, 1)).await;
    let (jobs, refused): (Vec<(i64, i64)>, Vec<i64>) = {
        let world = drs_sim::server::lock(&env.sim().world);
        let jobs = world
            .jobs
            .iter()
            .map(|j| (j.created, j.ended.unwrap_or(j.created)))
            .collect();
        let refused = world
            .calls
            .iter()
            .filter(|c| c.operation == "StartRecovery" && c.status >= 400)
            .filter_map(|c| drs_sim::clock::parse_iso(&c.sim_time))
            .collect();
        (jobs, refused)
    };
    // From the first refusal until the last group's job started, someone waited: count
    // how many of the 20 slots were busy, sampled every 100 ms of simulator time.
    let from = refused.iter().min().copied().unwrap_or(0);
    let to = jobs.iter().map(|(c, _)| *c).max().unwrap_or(0);
    let (mut busy, mut samples) = (0usize, 0usize);
    let mut t = from;
    while t < to {
        busy += jobs
            .iter()
            .filter(|(c, e)| *c <= t && t < *e)
            .count()
            .min(MAX_JOBS);
        samples += 1;
        t += 100;
    }
    let waited = (to - from) as f64 / 1_000.0 * SPEED;
    println!("\n25 one-server groups in one wave, one 4× slower, 10-minute launches:");
    println!(
        "refused for quota {} times; groups waited {waited:.0} DRS s; slot utilisation while a group waited {:.1}%; transitions {}",
        refused.len(),
        if samples == 0 {
            100.0
        } else {
            busy as f64 * 100.0 / (samples * MAX_JOBS) as f64
        },
        entered(&history)
    );
    env.stop().await;
}
