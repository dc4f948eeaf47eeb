//! One local stack per data folder: a second start says which process holds it and where
//! it serves, instead of failing on a busy port.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "local mode is already running (pid {pid}) at {url}, on data folder {dir}; stop it with Ctrl-C first"
    )]
    Held { pid: u32, url: String, dir: String },
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

pub struct Lock {
    path: PathBuf,
}

fn alive(pid: u32) -> bool {
    // Linux: a live process has /proc/<pid>; a reused pid from another program does not
    // run drs-local.
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|cmd| String::from_utf8_lossy(&cmd).contains("drs-local"))
        .unwrap_or(false)
}

impl Lock {
    /// Takes the data folder for process `pid` (the one a second start names: the
    /// process the user started, which may run the stack in a child).
    pub fn acquire(dir: &Path, url: &str, pid: u32) -> Result<Self, LockError> {
        let path = dir.join("local.pid");
        if let Ok(text) = std::fs::read_to_string(&path) {
            let mut parts = text.split_whitespace();
            let held_pid = parts.next().and_then(|p| p.parse::<u32>().ok());
            let held_url = parts.next().unwrap_or("?").to_owned();
            if let Some(held) = held_pid
                && held != pid
                && held != std::process::id()
                && alive(held)
            {
                return Err(LockError::Held {
                    pid: held,
                    url: held_url,
                    dir: dir.display().to_string(),
                });
            }
        }
        std::fs::write(&path, format!("{pid} {url}\n")).map_err(|source| LockError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Self { path })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
