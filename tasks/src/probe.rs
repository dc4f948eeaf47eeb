//! TCP and HTTP(S) health checks against the private addresses of recovered instances.
//!
//! The result is typed and never an error for an unhealthy target (the state machine
//! polls until healthy or its deadline); only a malformed request is an error, with a
//! stable name the compiler's Retry/Catch can match.

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Error names the state machine sees as `errorType` (keep in step with aslgen's
/// `compile::errors::PROBE_BAD_REQUEST`).
pub const BAD_REQUEST: &str = "Probe.BadRequest";

const MAX_TARGETS: usize = 200;
const MAX_TIMEOUT_MS: u64 = 30_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Check {
    Tcp,
    Http,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProbeRequest {
    pub check: Check,
    pub port: u16,
    /// Private IP addresses of the instances to probe.
    pub targets: Vec<String>,
    #[serde(default = "ProbeRequest::default_timeout")]
    pub timeout_ms: u64,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub https: bool,
    #[serde(default)]
    pub expect_status: Option<u16>,
}

impl ProbeRequest {
    fn default_timeout() -> u64 {
        3_000
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetResult {
    pub target: String,
    pub healthy: bool,
    /// `connected`, `status 200`, `timed out after 3000 ms`, `connection refused` …
    pub detail: String,
    pub millis: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeResult {
    /// True when every target is healthy.
    pub healthy: bool,
    pub results: Vec<TargetResult>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProbeError {
    #[error("target `{0}` is not an IP address")]
    BadTarget(String),
    #[error("{0} targets given; the limit is {MAX_TARGETS}")]
    TooManyTargets(usize),
    #[error("no targets given")]
    NoTargets,
    #[error("port `0` is not a TCP port")]
    BadPort,
    #[error("timeoutMs `{0}` must be from 1 to {MAX_TIMEOUT_MS}")]
    BadTimeout(u64),
    #[error("http path `{0}` must start with `/`")]
    BadPath(String),
}

impl ProbeError {
    pub fn error_type(&self) -> &'static str {
        BAD_REQUEST
    }
}

/// Where a target is actually connected to. In AWS it is the target itself; the DRS
/// simulator maps the private addresses of simulated instances onto 127.0.0.1.
pub trait Resolve: Send + Sync {
    fn resolve(&self, ip: IpAddr, port: u16) -> SocketAddr;
}

/// Connects to the target as given.
pub struct Direct;

impl Resolve for Direct {
    fn resolve(&self, ip: IpAddr, port: u16) -> SocketAddr {
        SocketAddr::new(ip, port)
    }
}

impl ProbeRequest {
    fn validate(&self) -> Result<Vec<IpAddr>, ProbeError> {
        if self.port == 0 {
            return Err(ProbeError::BadPort);
        }
        if self.timeout_ms == 0 || self.timeout_ms > MAX_TIMEOUT_MS {
            return Err(ProbeError::BadTimeout(self.timeout_ms));
        }
        if let Some(path) = &self.path
            && !path.starts_with('/')
        {
            return Err(ProbeError::BadPath(path.clone()));
        }
        if self.targets.is_empty() {
            return Err(ProbeError::NoTargets);
        }
        if self.targets.len() > MAX_TARGETS {
            return Err(ProbeError::TooManyTargets(self.targets.len()));
        }
        self.targets
            .iter()
            .map(|t| t.parse().map_err(|_| ProbeError::BadTarget(t.clone())))
            .collect()
    }
}

/// Probes every target concurrently.
pub async fn run(request: &ProbeRequest, resolve: &dyn Resolve) -> Result<ProbeResult, ProbeError> {
    let ips = request.validate()?;
    let timeout = Duration::from_millis(request.timeout_ms);
    let client = match request.check {
        Check::Http => Some(
            reqwest::Client::builder()
                .timeout(timeout)
                // Recovered instances present certificates for their production names,
                // not for their private addresses; reachability is what is checked.
                .danger_accept_invalid_certs(true)
                .build()
                .map_err(|_| ProbeError::BadTimeout(request.timeout_ms))?,
        ),
        Check::Tcp => None,
    };
    let mut set = tokio::task::JoinSet::new();
    for (index, ip) in ips.iter().enumerate() {
        let address = resolve.resolve(*ip, request.port);
        let client = client.clone();
        let request = request.clone();
        let target = ip.to_string();
        set.spawn(async move {
            let started = Instant::now();
            let (healthy, detail) = match &client {
                None => tcp(address, timeout).await,
                Some(client) => http(client, address, &request).await,
            };
            let millis = started.elapsed().as_millis() as u64;
            (
                index,
                TargetResult {
                    target,
                    healthy,
                    detail,
                    millis,
                },
            )
        });
    }
    let mut indexed = Vec::with_capacity(ips.len());
    while let Some(joined) = set.join_next().await {
        if let Ok(result) = joined {
            indexed.push(result);
        }
    }
    indexed.sort_by_key(|(index, _)| *index);
    let results: Vec<TargetResult> = indexed.into_iter().map(|(_, r)| r).collect();
    Ok(ProbeResult {
        healthy: results.len() == ips.len() && results.iter().all(|r| r.healthy),
        results,
    })
}

async fn tcp(address: SocketAddr, timeout: Duration) -> (bool, String) {
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(address)).await {
        Ok(Ok(_)) => (true, "connected".into()),
        Ok(Err(e)) => (false, e.to_string()),
        Err(_) => (false, format!("timed out after {} ms", timeout.as_millis())),
    }
}

async fn http(
    client: &reqwest::Client,
    address: SocketAddr,
    request: &ProbeRequest,
) -> (bool, String) {
    let scheme = if request.https { "https" } else { "http" };
    let path = request.path.as_deref().unwrap_or("/");
    let url = format!("{scheme}://{address}{path}");
    let expect = request.expect_status.unwrap_or(200);
    match client.get(&url).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            (status == expect, format!("status {status}"))
        }
        Err(e) if e.is_timeout() => (false, "timed out".into()),
        Err(e) => (false, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn request(check: Check, port: u16) -> ProbeRequest {
        ProbeRequest {
            check,
            port,
            targets: vec!["127.0.0.1".into()],
            timeout_ms: 500,
            path: Some("/health".into()),
            https: false,
            expect_status: Some(204),
        }
    }

    #[tokio::test]
    async fn tcp_healthy_and_refused() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let ok = run(&request(Check::Tcp, port), &Direct).await.unwrap();
        assert!(ok.healthy, "{ok:?}");
        drop(listener);
        let refused = run(&request(Check::Tcp, port), &Direct).await.unwrap();
        assert!(!refused.healthy);
        assert!(
            refused.results[0].detail.to_lowercase().contains("refused"),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn http_checks_the_expected_status() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            for status in ["204 No Content", "500 Internal Server Error"] {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 1024];
                let _ = socket.read(&mut buf).await;
                let reply =
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                let _ = socket.write_all(reply.as_bytes()).await;
            }
        });
        let first = run(&request(Check::Http, port), &Direct).await.unwrap();
        assert!(first.healthy, "{first:?}");
        let second = run(&request(Check::Http, port), &Direct).await.unwrap();
        assert!(!second.healthy);
        assert_eq!(second.results[0].detail, "status 500");
    }

    #[tokio::test]
    async fn bad_requests_name_the_bad_value() {
        let mut bad = request(Check::Tcp, 80);
        bad.targets = vec!["db.internal".into()];
        let err = run(&bad, &Direct).await.unwrap_err();
        assert_eq!(err.to_string(), "target `db.internal` is not an IP address");
        assert_eq!(err.error_type(), BAD_REQUEST);
        let parsed: Result<ProbeRequest, _> =
            serde_json::from_str(r#"{"check":"udp","port":1,"targets":[]}"#);
        assert!(parsed.is_err());
    }
}
