//! `drs-sim`: run the DRS simulator in front of a running moto server.

use clap::Parser;
use drs_sim::faults::Faults;
use drs_sim::world::Timing;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// Simulate AWS Elastic Disaster Recovery on 127.0.0.1, forwarding every other AWS
/// service to moto.
#[derive(Parser)]
#[command(name = "drs-sim", version)]
struct Cli {
    /// Port to listen on (127.0.0.1 only).
    #[arg(long, default_value_t = 4566)]
    port: u16,
    /// moto's URL; non-DRS requests go there.
    #[arg(long, default_value = "http://127.0.0.1:4567")]
    moto_url: String,
    /// Source servers to simulate (YAML or JSON, aslgen's inventory format).
    #[arg(long)]
    fleet: PathBuf,
    /// Simulated seconds per real second.
    #[arg(long, default_value_t = 60.0)]
    speed: f64,
    /// Faults to inject (YAML or JSON).
    #[arg(long)]
    faults: Option<PathBuf>,
    /// Simulated seconds from StartRecovery to LAUNCHED.
    #[arg(long, default_value_t = 240.0)]
    launch_seconds: f64,
    /// Map a probed port to a local one, e.g. `5432=15432`.
    #[arg(long = "probe-port", value_parser = parse_port_map)]
    probe_ports: Vec<(u16, u16)>,
}

fn parse_port_map(text: &str) -> Result<(u16, u16), String> {
    let (from, to) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not FROM=TO"))?;
    let port = |p: &str| p.parse::<u16>().map_err(|_| format!("`{p}` is not a port"));
    Ok((port(from)?, port(to)?))
}

fn read<T: serde::de::DeserializeOwned>(path: &PathBuf) -> Result<T, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    serde_yaml_ng::from_str(&text).map_err(|e| format!("`{}`: {e}", path.display()))
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let cli = Cli::parse();
    let inventory = match std::fs::read_to_string(&cli.fleet)
        .map_err(|e| format!("cannot read `{}`: {e}", cli.fleet.display()))
        .and_then(|text| {
            aslgen::parse::inventory(&text, &cli.fleet.display().to_string())
                .map_err(|e| e.to_string())
        }) {
        Ok(inventory) => inventory,
        Err(e) => {
            eprintln!("drs-sim: {e}");
            return ExitCode::from(2);
        }
    };
    let faults: Faults = match cli.faults.as_ref().map(read).transpose() {
        Ok(f) => f.unwrap_or_default(),
        Err(e) => {
            eprintln!("drs-sim: {e}");
            return ExitCode::from(2);
        }
    };
    let config = drs_sim::Config {
        port: cli.port,
        moto_url: cli.moto_url,
        speed: cli.speed,
        timing: Timing {
            launch_seconds: cli.launch_seconds,
            ..Timing::default()
        },
        inventory,
        faults,
        probe_ports: cli.probe_ports.into_iter().collect::<HashMap<_, _>>(),
        ..drs_sim::Config::default()
    };
    let sim = match drs_sim::start(config).await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("drs-sim: {e}");
            return ExitCode::from(2);
        }
    };
    println!("drs-sim listening on {}", sim.url());
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
