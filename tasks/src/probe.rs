//! TCP and HTTP(S) health checks against the private addresses of recovered instances.
//!
//! The result is typed and never an error for an unhealthy target (the state machine
//! polls until healthy or its deadline); only a malformed request is an error, with a
//! stable name the compiler's Retry/Catch can match.
//!
//! The probe reaches private addresses only (what recovered instances have in a VPC):
//! never loopback (in Lambda that is the Runtime API), link-local (the instance metadata
//! service, the VPC resolver), multicast, broadcast, unspecified or public addresses.
//! HTTP redirects are never followed: a 3xx is the answer, reported as such.

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

/// Error names the state machine sees as `errorType` (keep in step with aslgen's
/// `compile::errors::PROBE_BAD_REQUEST`).
pub const BAD_REQUEST: &str = "Probe.BadRequest";

const MAX_TARGETS: usize = 200;
const MAX_TIMEOUT_MS: u64 = 30_000;
/// How much of a redirect's `Location` the result quotes.
const MAX_LOCATION_CHARS: usize = 200;

/// The environment variable that lets the probe Lambda reach loopback (`true`), for the
/// offline smoke test whose listener is on 127.0.0.1. The deployed template never sets it.
pub const ALLOW_LOOPBACK_ENV: &str = "PROBE_ALLOW_LOOPBACK";

/// Which target addresses the probe connects to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reach {
    /// Private addresses only: RFC 1918, RFC 6598 shared space (a VPC may use it) and IPv6
    /// unique local addresses. What the deployed probe does.
    #[default]
    Private,
    /// Private addresses and loopback: only for offline tests whose listeners are on
    /// 127.0.0.1, never in AWS (loopback in Lambda is the Runtime API).
    PrivateAndLoopback,
}

impl Reach {
    /// From the value of [`ALLOW_LOOPBACK_ENV`]: exactly `true` allows loopback; anything
    /// else (or nothing) is [`Reach::Private`].
    pub fn from_env_value(value: Option<&str>) -> Self {
        if value == Some("true") {
            Reach::PrivateAndLoopback
        } else {
            Reach::Private
        }
    }

    /// Why `ip` may not be probed, or `None` when it may.
    pub fn refuses(self, ip: IpAddr) -> Option<&'static str> {
        let ip = match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            },
            v4 => v4,
        };
        if ip.is_loopback() {
            return (self != Reach::PrivateAndLoopback).then_some("a loopback address");
        }
        match ip {
            IpAddr::V4(v4) => refuses_v4(v4),
            IpAddr::V6(v6) => refuses_v6(v6),
        }
    }
}

fn refuses_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_unspecified() {
        Some("the unspecified address")
    } else if ip.is_link_local() {
        Some("a link-local address (instance metadata, the VPC resolver)")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if ip.is_broadcast() {
        Some("the broadcast address")
    } else if ip.is_private() || (a == 100 && (b & 0xc0) == 64) {
        None
    } else {
        Some("not a private address")
    }
}

fn refuses_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_unspecified() {
        Some("the unspecified address")
    } else if first & 0xffc0 == 0xfe80 {
        Some("a link-local address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if first & 0xfe00 == 0xfc00 {
        None
    } else {
        Some("not a private address")
    }
}

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
    #[error(
        "target `{target}` is {why}; the probe reaches only the private addresses of recovered instances"
    )]
    Refused { target: String, why: &'static str },
    #[error("{0} targets given; the limit is {MAX_TARGETS}")]
    TooManyTargets(usize),
    #[error("no targets given")]
    NoTargets,
    #[error("port `0` is not a TCP port")]
    BadPort,
    #[error("timeoutMs `{0}` must be from 1 to {MAX_TIMEOUT_MS}")]
    BadTimeout(u64),
    #[error("http path `{0}` must start with `/` and hold no spaces or control characters")]
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
    fn validate(&self, reach: Reach) -> Result<Vec<IpAddr>, ProbeError> {
        if self.port == 0 {
            return Err(ProbeError::BadPort);
        }
        if self.timeout_ms == 0 || self.timeout_ms > MAX_TIMEOUT_MS {
            return Err(ProbeError::BadTimeout(self.timeout_ms));
        }
        if let Some(path) = &self.path
            && !path_stays_on_target(path)
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
            .map(|t| {
                let ip: IpAddr = t.parse().map_err(|_| ProbeError::BadTarget(t.clone()))?;
                match reach.refuses(ip) {
                    Some(why) => Err(ProbeError::Refused {
                        target: t.clone(),
                        why,
                    }),
                    None => Ok(ip),
                }
            })
            .collect()
    }
}

/// The path starts with `/`, has no spaces or control characters, and appended to a
/// target's address leaves the URL's host and port those of the target.
fn path_stays_on_target(path: &str) -> bool {
    if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let base = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 8080);
    reqwest::Url::parse(&format!("http://{base}{path}")).is_ok_and(|url| {
        url.host_str() == Some("10.0.0.1") && url.port() == Some(8080) && url.username().is_empty()
    })
}

/// Probes every target concurrently; a target `reach` refuses fails the whole request.
pub async fn run(
    request: &ProbeRequest,
    resolve: &dyn Resolve,
    reach: Reach,
) -> Result<ProbeResult, ProbeError> {
    let ips = request.validate(reach)?;
    let timeout = Duration::from_millis(request.timeout_ms);
    let client = match request.check {
        Check::Http => Some(
            reqwest::Client::builder()
                .timeout(timeout)
                // Recovered instances present certificates for their production names,
                // not for their private addresses; reachability is what is checked.
                .danger_accept_invalid_certs(true)
                // A redirect is the target's answer; following it would report another
                // host's status and let the target steer the probe anywhere.
                .redirect(reqwest::redirect::Policy::none())
                // Straight to the target, whatever proxy the environment names.
                .no_proxy()
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
            let mut detail = format!("status {status}");
            if response.status().is_redirection() {
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .unwrap_or_default();
                let location: String = location.chars().take(MAX_LOCATION_CHARS).collect();
                detail.push_str(&format!(" (redirect to `{location}`, not followed)"));
            }
            (status == expect, detail)
        }
        Err(e) if e.is_timeout() => (false, "timed out".into()),
        Err(e) => (false, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Every target to 127.0.0.1 on the probed port, as the DRS simulator does offline.
    struct Local;

    impl Resolve for Local {
        fn resolve(&self, _ip: IpAddr, port: u16) -> SocketAddr {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
        }
    }

    fn request(check: Check, port: u16) -> ProbeRequest {
        ProbeRequest {
            check,
            port,
            targets: vec!["10.0.0.5".into()],
            timeout_ms: 500,
            path: Some("/health".into()),
            https: false,
            expect_status: Some(204),
        }
    }

    /// An HTTP server answering each connection with the next of `replies`; counts them.
    async fn serve(replies: Vec<String>) -> (u16, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let served = Arc::new(AtomicUsize::new(0));
        let count = served.clone();
        tokio::spawn(async move {
            for reply in replies {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                count.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 1024];
                let _ = socket.read(&mut buf).await;
                let _ = socket.write_all(reply.as_bytes()).await;
            }
        });
        (port, served)
    }

    fn reply(status: &str, headers: &str) -> String {
        format!("HTTP/1.1 {status}\r\n{headers}content-length: 0\r\nconnection: close\r\n\r\n")
    }

    #[tokio::test]
    async fn tcp_healthy_and_refused() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let reach = Reach::Private;
        let ok = run(&request(Check::Tcp, port), &Local, reach)
            .await
            .unwrap();
        assert!(ok.healthy, "{ok:?}");
        assert_eq!(ok.results[0].target, "10.0.0.5");
        drop(listener);
        let refused = run(&request(Check::Tcp, port), &Local, reach)
            .await
            .unwrap();
        assert!(!refused.healthy);
        assert!(
            refused.results[0].detail.to_lowercase().contains("refused"),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn http_checks_the_expected_status() {
        let (port, _) = serve(vec![
            reply("204 No Content", ""),
            reply("500 Internal Server Error", ""),
        ])
        .await;
        let first = run(&request(Check::Http, port), &Local, Reach::Private)
            .await
            .unwrap();
        assert!(first.healthy, "{first:?}");
        let second = run(&request(Check::Http, port), &Local, Reach::Private)
            .await
            .unwrap();
        assert!(!second.healthy);
        assert_eq!(second.results[0].detail, "status 500");
    }

    #[tokio::test]
    async fn a_redirect_is_the_answer_and_is_not_followed() {
        // The redirect's target answers 200 and counts who came.
        let (elsewhere, visits) = serve(vec![reply("200 OK", ""); 2]).await;
        let location = format!("location: http://127.0.0.1:{elsewhere}/health\r\n");
        let (port, _) = serve(vec![
            reply("302 Found", &location),
            reply("302 Found", &location),
        ])
        .await;
        let mut check = request(Check::Http, port);
        check.expect_status = Some(200);
        let result = run(&check, &Local, Reach::Private).await.unwrap();
        assert!(!result.healthy, "{result:?}");
        assert_eq!(
            result.results[0].detail,
            format!("status 302 (redirect to `http://127.0.0.1:{elsewhere}/health`, not followed)")
        );
        // A check that expects the redirect passes on it.
        check.expect_status = Some(302);
        let result = run(&check, &Local, Reach::Private).await.unwrap();
        assert!(result.healthy, "{result:?}");
        assert_eq!(
            visits.load(Ordering::SeqCst),
            0,
            "the redirect was followed"
        );
    }

    #[tokio::test]
    async fn only_private_addresses_are_probed() {
        // Everything resolves to a live local listener, so a target that were let through
        // would come back healthy rather than refused.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        for (target, why) in [
            ("127.0.0.1", "a loopback address"),
            ("::1", "a loopback address"),
            ("::ffff:127.0.0.1", "a loopback address"),
            (
                "169.254.169.254",
                "a link-local address (instance metadata, the VPC resolver)",
            ),
            ("fe80::1", "a link-local address"),
            ("224.0.0.1", "a multicast address"),
            ("ff02::1", "a multicast address"),
            ("0.0.0.0", "the unspecified address"),
            ("::", "the unspecified address"),
            ("255.255.255.255", "the broadcast address"),
            ("8.8.8.8", "not a private address"),
            ("172.32.0.1", "not a private address"),
            ("2600:1f18::1", "not a private address"),
        ] {
            let mut check = request(Check::Tcp, port);
            check.targets = vec!["10.0.0.5".into(), target.into()];
            let err = run(&check, &Local, Reach::Private).await.unwrap_err();
            assert_eq!(
                err,
                ProbeError::Refused {
                    target: target.into(),
                    why
                }
            );
            assert_eq!(err.error_type(), BAD_REQUEST);
        }
        assert_eq!(
            ProbeError::Refused {
                target: "169.254.169.254".into(),
                why: "a link-local address (instance metadata, the VPC resolver)"
            }
            .to_string(),
            "target `169.254.169.254` is a link-local address (instance metadata, the VPC resolver); \
             the probe reaches only the private addresses of recovered instances"
        );
        for target in [
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.0.10",
            "100.64.0.1",
            "100.127.255.254",
            "fd12:3456::1",
            "::ffff:10.0.0.9",
        ] {
            let mut check = request(Check::Tcp, port);
            check.targets = vec![target.into()];
            let ok = run(&check, &Local, Reach::Private).await.unwrap();
            assert!(ok.healthy, "{target}: {ok:?}");
        }
    }

    #[tokio::test]
    async fn loopback_only_when_configured() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut check = request(Check::Tcp, port);
        check.targets = vec!["127.0.0.1".into()];
        let reach = Reach::from_env_value(Some("true"));
        assert_eq!(reach, Reach::PrivateAndLoopback);
        assert!(run(&check, &Direct, reach).await.unwrap().healthy);
        for other in [None, Some("1"), Some("TRUE"), Some("")] {
            assert_eq!(Reach::from_env_value(other), Reach::Private, "{other:?}");
        }
        // Loopback allowed is not everything allowed (resolved locally, so nothing could
        // leave this host even if it were).
        check.targets = vec!["169.254.169.254".into()];
        assert!(matches!(
            run(&check, &Local, reach).await,
            Err(ProbeError::Refused { .. })
        ));
    }

    #[tokio::test]
    async fn bad_requests_name_the_bad_value() {
        let mut bad = request(Check::Tcp, 80);
        bad.targets = vec!["db.internal".into()];
        let err = run(&bad, &Local, Reach::Private).await.unwrap_err();
        assert_eq!(err.to_string(), "target `db.internal` is not an IP address");
        assert_eq!(err.error_type(), BAD_REQUEST);
        for path in ["health", "/a b", "/x\u{7}", "/\r\nHost: x"] {
            let mut bad = request(Check::Http, 80);
            bad.path = Some(path.into());
            let err = run(&bad, &Local, Reach::Private).await.unwrap_err();
            assert_eq!(err, ProbeError::BadPath(path.into()));
        }
        // Paths that look like authorities stay paths on the target.
        for path in [
            "//evil.example/",
            "/@evil.example",
            "/\\evil.example",
            "/a?b=1&c=2",
        ] {
            assert!(path_stays_on_target(path), "{path}");
        }
        let parsed: Result<ProbeRequest, _> =
            serde_json::from_str(r#"{"check":"udp","port":1,"targets":[]}"#);
        assert!(parsed.is_err());
    }
}
