//! `drs-local`: the whole product on 127.0.0.1 (`./deploy.sh local` runs it).

use clap::Parser;
use local::{Options, Stack};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// DRS Orchestrator in local mode: moto and the DRS simulator, the API, the SPA, an
/// outbox and demo users, all on 127.0.0.1.
#[derive(Parser)]
#[command(name = "drs-local")]
struct Args {
    /// Port of the site and the API (`/api`).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Port of the AWS endpoint (moto behind the DRS simulator).
    #[arg(long, default_value_t = 4566)]
    aws_port: u16,
    /// Folder for local data (kept across restarts).
    #[arg(long, default_value = ".local")]
    data: PathBuf,
    /// Start clean: discard the data folder's saved table.
    #[arg(long)]
    reset: bool,
    /// DRS simulator speed: how many times faster than DRS its jobs run.
    #[arg(long, default_value_t = 60.0)]
    speed: f64,
    /// Scale check: this many synthetic source servers and one plan over them, instead of
    /// the demo fleet and plans.
    #[arg(long)]
    synthetic: Option<usize>,
    /// The repository root (examples, the Python venv, the built SPA).
    #[arg(long, default_value = ".")]
    root: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let args = Args::parse();
    // deploy.sh passes when the command started, so "ready" can count the build too.
    let command_started = std::env::var("DRS_LOCAL_STARTED_AT")
        .ok()
        .and_then(|t| t.parse::<f64>().ok());
    let started = Instant::now();
    let data = if args.data.is_absolute() {
        args.data.clone()
    } else {
        args.root.join(&args.data)
    };
    let stack = match Stack::start(Options {
        root: args.root.clone(),
        data_dir: data.clone(),
        port: args.port,
        aws_port: args.aws_port,
        reset: args.reset,
        speed: args.speed,
        synthetic: args.synthetic,
    })
    .await
    {
        Ok(stack) => stack,
        Err(e) => {
            eprintln!("drs-local: {e}");
            return ExitCode::from(1);
        }
    };
    let url = &stack.served.url;
    println!("DRS Orchestrator (local mode)");
    println!("  site and API   {url}   (API under {url}/api, outbox at {url}/api/outbox)");
    println!(
        "  AWS endpoint   {}   (moto behind the DRS simulator)",
        stack.aws.endpoint()
    );
    println!("  data           {}", data.display());
    if stack.restored > 0 {
        println!(
            "  restored       {} items from the last run",
            stack.restored
        );
    } else {
        println!("  demo plans     {}", stack.seeded.join(", "));
    }
    println!(
        "  users          password {} for every one:",
        local::cognito::PASSWORD
    );
    for role in local::cognito::ROLES {
        println!(
            "                 {:<11} {role}",
            local::cognito::user_for(role)
        );
    }
    let ready = started.elapsed().as_secs_f64();
    let since_command = command_started.and_then(|t| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs_f64();
        Some(now - t)
    });
    match since_command {
        Some(total) => println!(
            "READY in {ready:.1} s ({total:.1} s since the command, build included); Ctrl-C stops everything"
        ),
        None => println!("READY in {ready:.1} s; Ctrl-C stops everything"),
    }
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("drs-local: cannot watch for SIGTERM: {e}");
            return ExitCode::from(1);
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    println!("stopping: saving data and stopping moto and the simulator");
    match stack.stop().await {
        Ok(()) => {
            println!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("drs-local: {e}");
            ExitCode::from(1)
        }
    }
}
