//! A plan of any size, executed in moto with the DRS simulator at scaled time: the parent
//! and every child execution's history events and largest state payload, against Step
//! Functions' 25,000 events and 256 KB. Prints figures.
//!
//! `cargo run --release -p system-tests --bin scale-bench -- [SERVERS] [WAVES] [GROUPS] [LAUNCH_MINUTES]`
//! (defaults: 10,000 servers, 100 waves of 5 groups, 30-minute launches).

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let servers = args.first().copied().unwrap_or(10_000);
    let waves = args.get(1).copied().unwrap_or(100);
    let groups = args.get(2).copied().unwrap_or(5);
    let minutes = args.get(3).copied().unwrap_or(30);
    let report = system_tests::scale::run(servers, waves, groups, minutes as f64).await;
    println!(
        "{servers} servers, {waves} waves × {groups} groups, {minutes}-minute launches: {} executions; most history events in one {} (limit {}); largest state payload {} bytes (limit {}); the parent's history {} events; {:.0} s wall",
        report.executions,
        report.most_events,
        system_tests::scale::MAX_HISTORY_EVENTS,
        report.largest_payload,
        system_tests::scale::MAX_PAYLOAD_BYTES,
        report.parent_events,
        report.wall.as_secs_f64()
    );
}
