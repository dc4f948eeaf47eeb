//! `drs-local`: the whole product on 127.0.0.1 (`./deploy.sh local` runs it).
//!
//! Two processes. The one started stays in the terminal's process group and takes
//! Ctrl-C and SIGTERM; it runs the stack in a child of its own in a new process
//! group, moto under that child, so the SIGINT a terminal sends its whole foreground
//! group reaches the first process only. It asks the child to stop by closing the
//! child's stdin (so the child also stops, cleanly, when the first process dies, e.g. of
//! a SIGHUP when its terminal closes); the child saves
//! the data, then stops moto and the simulator, and the first exits with its status.

use clap::Parser;
use local::{Options, Stack};
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::Instant;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// Set in the child that runs the stack, to the first process's id.
const STACK_CHILD: &str = "DRS_LOCAL_PARENT_PID";

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
    /// When a plan's waves run as child executions: `auto` (plans over 1 MB) or `waves`
    /// (every plan), as the deployed stack's `PlanSplit` parameter.
    #[arg(long, default_value = "auto")]
    split: aslgen::Split,
    /// DRS simulator faults from the start, as JSON in its `/_sim/faults` format, e.g.
    /// `{"operations": {"StartRecovery": {"throttle": 2}}}`.
    #[arg(long, value_name = "FILE")]
    faults: Option<PathBuf>,
    /// The repository root (examples, the Python venv, the built SPA).
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Tests only: the sign-in's access tokens expire after SECONDS (5 to 86400) instead of
    /// the emulator's hour, to check sessions that outlast their tokens.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(5..=86_400))]
    test_token_lifetime: Option<u64>,
}

/// SIGINT and SIGTERM, as one stream. (SIGHUP keeps its default, or `nohup`'s ignore:
/// it ends the first process, whose end stops the child cleanly.)
struct StopSignals(Signal, Signal);

impl StopSignals {
    fn new() -> std::io::Result<Self> {
        Ok(Self(
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
        ))
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = self.0.recv() => {}
            _ = self.1.recv() => {}
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match std::env::var(STACK_CHILD)
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
    {
        Some(parent) => run_stack(args, parent).await,
        None => supervise().await,
    }
}

/// The first process: runs the stack in a child in its own process group and asks it to
/// stop on SIGINT or SIGTERM.
async fn supervise() -> ExitCode {
    // Before the child exists, so no signal is missed.
    let mut signals = match StopSignals::new() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("drs-local: cannot watch for stop signals: {e}");
            return ExitCode::from(1);
        }
    };
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("drs-local: cannot find its own executable: {e}");
            return ExitCode::from(1);
        }
    };
    let child = tokio::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(STACK_CHILD, std::process::id().to_string())
        .stdin(Stdio::piped())
        .process_group(0)
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            eprintln!("drs-local: cannot start the local stack: {e}");
            return ExitCode::from(1);
        }
    };
    // Dropping it closes the pipe: the child's cue to save and stop.
    let mut cue = child.stdin.take();
    loop {
        tokio::select! {
            status = child.wait() => {
                return match status {
                    Ok(status) => match status.code() {
                        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
                        None => {
                            use std::os::unix::process::ExitStatusExt;
                            eprintln!(
                                "drs-local: the local stack was killed (signal {})",
                                status.signal().unwrap_or(0)
                            );
                            ExitCode::from(1)
                        }
                    },
                    Err(e) => {
                        eprintln!("drs-local: waiting for the local stack: {e}");
                        ExitCode::from(1)
                    }
                };
            }
            _ = signals.next() => drop(cue.take()),
        }
    }
}

/// Resolves when the stack should stop: a stop signal sent to this process, or the end
/// of stdin (the first process closed it, or died).
async fn stop_requested(mut signals: StopSignals) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    // A thread of its own: a blocking read must not hold the runtime's shutdown up.
    let reader = std::thread::Builder::new()
        .name("stop-cue".into())
        .spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 64];
            let mut stdin = std::io::stdin();
            while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
            let _ = tx.send(());
        });
    if reader.is_err() {
        signals.next().await;
        return;
    }
    tokio::select! {
        _ = signals.next() => {}
        _ = rx => {}
    }
}

/// The child: starts the stack, serves until asked to stop, then saves and stops it.
async fn run_stack(args: Args, parent: u32) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let signals = match StopSignals::new() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("drs-local: cannot watch for stop signals: {e}");
            return ExitCode::from(1);
        }
    };
    let stop = stop_requested(signals);
    tokio::pin!(stop);
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
    let faults = match &args.faults {
        None => drs_sim::faults::Faults::default(),
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
        {
            Ok(faults) => faults,
            Err(e) => {
                eprintln!("drs-local: --faults {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
    };
    let starting = Stack::start(Options {
        root: args.root.clone(),
        data_dir: data.clone(),
        port: args.port,
        aws_port: args.aws_port,
        reset: args.reset,
        speed: args.speed,
        synthetic: args.synthetic,
        split: args.split,
        faults,
        pid: parent,
        test_token_lifetime: args.test_token_lifetime.map(std::time::Duration::from_secs),
    });
    let stack = tokio::select! {
        stack = starting => stack,
        _ = &mut stop => {
            // Nothing was changed yet; dropping the start stops moto.
            println!("stopped before local mode was ready");
            return ExitCode::SUCCESS;
        }
    };
    let stack = match stack {
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
        "  health         {url}/api/health (503 \"starting\" until every stored plan is deployed)"
    );
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
    if let Some(seconds) = args.test_token_lifetime {
        println!(
            "  sign-in        access tokens expire after {seconds} s (--test-token-lifetime; tests only)"
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
    stop.await;
    println!("stopping: saving the data, then stopping moto and the simulator");
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
