//! The whole offline AWS: moto (Step Functions execution on, with our corrections) behind
//! the DRS simulator. Tests and local mode start it through this one piece of code.

use crate::server::{self, Config, Sim};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("{0} not found; run tests/run.sh once (it creates the Python venv with moto)")]
    MissingTool(PathBuf),
    #[error("could not start moto: {0}")]
    Spawn(std::io::Error),
    #[error("moto did not report ready within {0:?}; its output:\n{1}")]
    NotReady(Duration, String),
    #[error("no free port on 127.0.0.1: {0}")]
    NoPort(std::io::Error),
    #[error(transparent)]
    Sim(#[from] server::StartError),
}

/// Where things are and which ports to use (0: pick free ones).
#[derive(Debug, Clone)]
pub struct Options {
    /// The repository root (holds `.venv/` and `tests/emulator/`).
    pub root: PathBuf,
    /// The public endpoint's port: the simulator's, where every AWS client points.
    pub port: u16,
    /// moto's own port, behind the simulator.
    pub moto_port: u16,
    pub sim: Config,
}

pub struct Emulator {
    pub sim: Sim,
    pub moto_url: String,
    moto: Child,
}

impl Emulator {
    /// The endpoint every AWS client uses (DRS and all other services).
    pub fn endpoint(&self) -> String {
        self.sim.url()
    }

    pub async fn start(options: Options) -> Result<Self, EmulatorError> {
        let python = options.root.join(".venv/bin/python");
        let launcher = options.root.join("tests/emulator/moto_launcher.py");
        for path in [&python, &launcher] {
            if !path.exists() {
                return Err(EmulatorError::MissingTool(path.clone()));
            }
        }
        let port = pick(options.port)?;
        let moto_port = pick(options.moto_port)?;
        let moto = spawn_moto(&python, &launcher, moto_port, port).await?;
        let moto_url = format!("http://127.0.0.1:{moto_port}");
        let sim = server::start(Config {
            port,
            moto_url: moto_url.clone(),
            ..options.sim
        })
        .await?;
        Ok(Self {
            sim,
            moto_url,
            moto,
        })
    }

    pub async fn stop(mut self) {
        // The simulator first: its ticker must not call a moto that is gone.
        self.sim.halt();
        let _ = self.moto.kill().await;
    }
}

fn pick(port: u16) -> Result<u16, EmulatorError> {
    if port != 0 {
        return Ok(port);
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(EmulatorError::NoPort)?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(EmulatorError::NoPort)
}

async fn spawn_moto(
    python: &Path,
    launcher: &Path,
    port: u16,
    engine_port: u16,
) -> Result<Child, EmulatorError> {
    let mut child = Command::new(python)
        .arg(launcher)
        .args([
            "--port",
            &port.to_string(),
            "--engine-port",
            &engine_port.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(EmulatorError::Spawn)?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let limit = Duration::from_secs(60);
    let ready = tokio::time::timeout(limit, async {
        let mut seen = String::new();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.starts_with("READY") {
                return Ok(());
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        Err(seen)
    })
    .await;
    // Keep draining moto's output so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let mut errors = BufReader::new(stderr).lines();
    match ready {
        Ok(Ok(())) => {
            tokio::spawn(async move { while let Ok(Some(_)) = errors.next_line().await {} });
            Ok(child)
        }
        other => {
            let _ = child.kill().await;
            let mut text = match other {
                Ok(Err(seen)) => seen,
                _ => String::new(),
            };
            while let Ok(Ok(Some(line))) =
                tokio::time::timeout(Duration::from_millis(200), errors.next_line()).await
            {
                text.push_str(&line);
                text.push('\n');
            }
            Err(EmulatorError::NotReady(limit, text))
        }
    }
}
