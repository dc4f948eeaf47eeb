//! The HTTP front: DRS answered here, the health-check Lambda run here, everything else
//! forwarded to moto. Requests are routed by the service in their SigV4 credential scope.

use crate::clock::{Clock, iso};
use crate::ec2::Ec2;
use crate::error::DrsError;
use crate::events::{self, EventFault};
use crate::faults::{Faults, Verdict};
use crate::world::{Call, JobKind, Timing, World};
use crate::{ops, templates};
use aslgen::Inventory;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::OnceCell;

/// How the simulator is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Port to listen on (127.0.0.1); 0 picks a free one.
    pub port: u16,
    /// moto's base URL, where every non-DRS request goes.
    pub moto_url: String,
    pub speed: f64,
    pub timing: Timing,
    pub inventory: Inventory,
    pub faults: Faults,
    /// Name of the health-check Lambda whose invocations the simulator answers itself.
    pub probe_function: String,
    /// Probe ports mapped to local ports: probes always go to 127.0.0.1, never to the
    /// simulated private addresses.
    pub probe_ports: HashMap<u16, u16>,
    pub region: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            port: 0,
            moto_url: "http://127.0.0.1:4567".into(),
            speed: 60.0,
            timing: Timing::default(),
            inventory: Inventory::default(),
            faults: Faults::default(),
            probe_function: "drs-orchestrator-health-probe".into(),
            probe_ports: HashMap::new(),
            region: "us-east-1".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "cannot listen on 127.0.0.1:{port}: {source} (is another simulator or emulator running?)"
    )]
    Bind { port: u16, source: std::io::Error },
}

struct AppState {
    world: Arc<Mutex<World>>,
    http: reqwest::Client,
    moto_url: String,
    ec2: Ec2,
    image: OnceCell<String>,
    creating_templates: tokio::sync::Mutex<()>,
    probe_function: String,
    probe_ports: HashMap<u16, u16>,
    region: String,
}

/// A running simulator.
pub struct Sim {
    pub addr: SocketAddr,
    pub world: Arc<Mutex<World>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Sim {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The calls answered so far.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.world).calls.clone()
    }

    pub fn set_faults(&self, faults: Faults) {
        lock(&self.world).faults = faults;
    }

    pub fn reset(&self) {
        lock(&self.world).reset();
    }

    pub fn stop(self) {
        self.halt();
    }

    /// Stops serving and moving jobs on (what `stop` and dropping do).
    pub fn halt(&self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The world lock; a panic elsewhere must not take the simulator down with it.
pub fn lock(world: &Mutex<World>) -> MutexGuard<'_, World> {
    world
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub async fn start(config: Config) -> Result<Sim, StartError> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        config.port,
    ))
    .await
    .map_err(|source| StartError::Bind {
        port: config.port,
        source,
    })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        port: config.port,
        source,
    })?;
    let mut world = World::new(Clock::new(config.speed), config.timing, &config.inventory);
    world.faults = config.faults.clone();
    world.region = config.region.clone();
    let world = Arc::new(Mutex::new(world));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap_or_default();
    let state = Arc::new(AppState {
        world: world.clone(),
        ec2: Ec2::new(http.clone(), &config.moto_url, &config.region),
        http,
        moto_url: config.moto_url.trim_end_matches('/').to_owned(),
        image: OnceCell::new(),
        creating_templates: tokio::sync::Mutex::new(()),
        probe_function: config.probe_function.clone(),
        probe_ports: config.probe_ports.clone(),
        region: config.region.clone(),
    });
    let app = Router::new()
        .route("/_sim/calls", get(admin_calls))
        .route("/_sim/faults", post(admin_faults))
        .route("/_sim/reset", post(admin_reset))
        .route("/_sim/jobs", get(admin_jobs))
        .fallback(front)
        .with_state(state.clone());
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "simulator server stopped");
        }
    });
    let ticker = tokio::spawn(tick_forever(state));
    Ok(Sim {
        addr,
        world,
        tasks: vec![server, ticker],
    })
}

/// Moves jobs on and does their EC2 work in moto.
async fn tick_forever(state: Arc<AppState>) {
    let mut interval = tokio::time::interval(Duration::from_millis(20));
    loop {
        interval.tick().await;
        let work = lock(&state.world).advance();
        for (job_id, sources) in work.launches {
            let drill = {
                let world = lock(&state.world);
                world
                    .jobs
                    .iter()
                    .find(|j| j.id == job_id)
                    .is_some_and(|j| matches!(j.kind, JobKind::Launch { drill: true }))
            };
            let image = state
                .image
                .get_or_try_init(|| state.ec2.first_image())
                .await;
            let created = match image {
                Ok(image) => {
                    templates::launch(&state.ec2, &state.world, image, &sources, drill).await
                }
                Err(e) => Err(e),
            };
            let mut world = lock(&state.world);
            match created {
                Ok(created) => {
                    let pairs = sources
                        .iter()
                        .zip(created)
                        .map(|(s, (id, ip))| (s.clone(), id, ip))
                        .collect();
                    world.launched(&job_id, pairs);
                }
                Err(e) => {
                    tracing::warn!(job = %job_id, error = %e, "EC2 launch in the emulator failed");
                    world.launch_failed(&job_id, &sources, &e.to_string());
                }
            }
        }
        for (job_id, ids) in work.terminations {
            if let Err(e) = state.ec2.terminate_instances(&ids).await {
                tracing::warn!(job = %job_id, error = %e, "EC2 terminate in the emulator failed");
            }
            lock(&state.world).terminated(&job_id, &ids);
        }
        deliver_launch_results(&state).await;
    }
}

/// Puts the launch results of this tick on moto's event bus, as DRS does on AWS's.
async fn deliver_launch_results(state: &AppState) {
    let entries: Vec<Value> = {
        let mut world = lock(&state.world);
        let results = std::mem::take(&mut world.launch_results);
        results
            .iter()
            .flat_map(|result| {
                let copies = match world.faults.events.get(&result.source_server) {
                    Some(EventFault::Drop) => 0,
                    Some(EventFault::Duplicate) => 2,
                    None => 1,
                };
                let entry = result.entry(&world.region, &world.account);
                std::iter::repeat_n(entry, copies)
            })
            .collect()
    };
    if entries.is_empty() {
        return;
    }
    if let Err(e) = events::put(&state.http, &state.moto_url, &state.region, &entries).await {
        tracing::warn!(error = %e, "DRS launch events were not delivered");
    }
}

/// `Credential=AKID/DATE/REGION/SERVICE/aws4_request` → SERVICE.
fn signing_service(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let credential = auth.split("Credential=").nth(1)?;
    let scope = credential.split([',', ' ']).next()?;
    scope.split('/').nth(3).map(str::to_owned)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn front(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, 64 * 1024 * 1024).await {
        Ok(b) => b,
        Err(e) => return (StatusCode::PAYLOAD_TOO_LARGE, e.to_string()).into_response(),
    };
    match signing_service(&parts.headers).as_deref() {
        Some("drs") => {
            ensure_template(&state, parts.uri.path(), &body).await;
            drs(&state, &parts.method, &parts.uri, &body)
        }
        Some("lambda") if is_probe(&state, parts.uri.path()) => probe(&state, &body).await,
        service => {
            forward(
                &state,
                service.unwrap_or("-"),
                parts.method,
                parts.uri,
                parts.headers,
                body,
            )
            .await
        }
    }
}

/// A server's launch template exists in EC2 once its launch configuration is asked for.
async fn ensure_template(state: &AppState, path: &str, body: &Bytes) {
    if !matches!(
        path,
        "/GetLaunchConfiguration" | "/UpdateLaunchConfiguration"
    ) {
        return;
    }
    let Some(server) = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|b| b.get("sourceServerID")?.as_str().map(str::to_owned))
    else {
        return;
    };
    let made = templates::ensure(&state.ec2, &state.world, &state.creating_templates, &server);
    if let Err(e) = made.await {
        tracing::warn!(server = %server, error = %e, "creating the launch template in the emulator failed");
    }
}

fn drs(state: &AppState, method: &Method, uri: &Uri, body: &Bytes) -> Response {
    let path = uri.path();
    let (operation, resource) = if let Some(arn) = path.strip_prefix("/tags/") {
        let arn = percent_decode(arn);
        let op = if method == Method::GET {
            "ListTagsForResource"
        } else {
            "TagResource"
        };
        (op.to_owned(), Some(arn))
    } else {
        (path.trim_start_matches('/').to_owned(), None)
    };
    let request: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                return DrsError::Validation(format!("request body is not JSON: {e}"))
                    .into_response();
            }
        }
    };
    let mut world = lock(&state.world);
    let verdict = world.faults.take(&operation);
    let result = match verdict {
        Verdict::Throttle => Err(DrsError::Throttling),
        Verdict::FailBefore => Err(DrsError::Internal("injected failure".into())),
        Verdict::Serve | Verdict::FailAfter => {
            ops::handle(&mut world, &operation, &request, resource.as_deref())
        }
    };
    let result = match (verdict, result) {
        (Verdict::FailAfter, Ok(_)) => Err(DrsError::Internal(
            "injected failure after the work was done".into(),
        )),
        (_, other) => other,
    };
    let (status, job_id) = match &result {
        Ok(v) => (
            if operation == "StartRecovery" {
                202
            } else {
                200
            },
            v.pointer("/job/jobID")
                .and_then(Value::as_str)
                .map(str::to_owned),
        ),
        Err(e) => (e.status().as_u16(), None),
    };
    // A job that was created and then reported as failed is still the one DRS made.
    let job_id = job_id.or_else(|| {
        (verdict == Verdict::FailAfter && operation == "StartRecovery")
            .then(|| world.jobs.last().map(|j| j.id.clone()))
            .flatten()
    });
    let call = Call {
        seq: world.calls.len() as u64 + 1,
        service: "drs".into(),
        operation: operation.clone(),
        status,
        at_ms: world.clock.real_elapsed_ms(),
        sim_time: iso(world.clock.now()),
        request,
        job_id,
    };
    world.calls.push(call);
    drop(world);
    match result {
        Ok(v) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            axum::Json(v),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

fn is_probe(state: &AppState, path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/2015-03-31/functions/") else {
        return false;
    };
    let Some(name) = rest.strip_suffix("/invocations") else {
        return false;
    };
    let name = percent_decode(name);
    let name = name
        .split(':')
        .skip_while(|p| *p != "function")
        .nth(1)
        .unwrap_or(&name);
    name == state.probe_function
}

struct Loopback(HashMap<u16, u16>);

impl tasks::probe::Resolve for Loopback {
    fn resolve(&self, _ip: IpAddr, port: u16) -> SocketAddr {
        SocketAddr::new(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            *self.0.get(&port).unwrap_or(&port),
        )
    }
}

async fn probe(state: &AppState, body: &Bytes) -> Response {
    let request: Result<tasks::probe::ProbeRequest, _> = serde_json::from_slice(body);
    let outcome = match request {
        // The targets are the private addresses moto gave the simulated instances; the
        // probe checks them as in AWS, then connects to their local stand-ins.
        Ok(request) => tasks::probe::run(
            &request,
            &Loopback(state.probe_ports.clone()),
            tasks::probe::Reach::Private,
        )
        .await
        .map_err(|e| (e.error_type(), e.to_string())),
        Err(e) => Err((
            tasks::probe::BAD_REQUEST,
            format!("not a probe request: {e}"),
        )),
    };
    let mut world = lock(&state.world);
    let status = if outcome.is_ok() { 200 } else { 400 };
    let call = Call {
        seq: world.calls.len() as u64 + 1,
        service: "lambda".into(),
        operation: "Invoke".into(),
        status,
        at_ms: world.clock.real_elapsed_ms(),
        sim_time: iso(world.clock.now()),
        request: serde_json::from_slice(body).unwrap_or(Value::Null),
        job_id: None,
    };
    world.calls.push(call);
    drop(world);
    let mut response = match outcome {
        Ok(result) => axum::Json(result).into_response(),
        Err((error_type, message)) => {
            let mut r = axum::Json(json!({"errorType": error_type, "errorMessage": message}))
                .into_response();
            r.headers_mut().insert(
                "X-Amz-Function-Error",
                HeaderValue::from_static("Unhandled"),
            );
            r
        }
    };
    response.headers_mut().insert(
        "X-Amz-Executed-Version",
        HeaderValue::from_static("$LATEST"),
    );
    response
}

const HOP_BY_HOP: [&str; 5] = [
    "host",
    "content-length",
    "connection",
    "transfer-encoding",
    "keep-alive",
];

async fn forward(
    state: &AppState,
    service: &str,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = format!(
        "{}{}",
        state.moto_url,
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let operation = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .map(str::to_owned)
        .unwrap_or_else(|| uri.path().to_owned());
    let mut request = state.http.request(method, &target).body(body);
    for (name, value) in &headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            request = request.header(name, value);
        }
    }
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            return (
                StatusCode::BAD_GATEWAY,
                format!(
                    "drs-sim could not reach the AWS emulator at {}: {e}",
                    state.moto_url
                ),
            )
                .into_response();
        }
    };
    let status = response.status();
    let mut out_headers = HeaderMap::new();
    for (name, value) in response.headers() {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            out_headers.insert(name.clone(), value.clone());
        }
    }
    let bytes = response.bytes().await.unwrap_or_default();
    {
        let mut world = lock(&state.world);
        let call = Call {
            seq: world.calls.len() as u64 + 1,
            service: service.to_owned(),
            operation,
            status: status.as_u16(),
            at_ms: world.clock.real_elapsed_ms(),
            sim_time: iso(world.clock.now()),
            request: Value::Null,
            job_id: None,
        };
        world.calls.push(call);
    }
    (status, out_headers, bytes).into_response()
}

async fn admin_calls(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(lock(&state.world).calls.clone()).into_response()
}

async fn admin_faults(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Faults>(&body) {
        Ok(faults) => {
            lock(&state.world).faults = faults;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, format!("faults: {e}")).into_response(),
    }
}

async fn admin_reset(State(state): State<Arc<AppState>>) -> Response {
    lock(&state.world).reset();
    StatusCode::NO_CONTENT.into_response()
}

async fn admin_jobs(State(state): State<Arc<AppState>>) -> Response {
    let world = lock(&state.world);
    let jobs: Vec<Value> = world.jobs.iter().map(|j| world.job_json(j)).collect();
    axum::Json(jobs).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_signing_service() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/drs/aws4_request, SignedHeaders=host, Signature=x",
            ),
        );
        assert_eq!(signing_service(&headers).as_deref(), Some("drs"));
        assert_eq!(signing_service(&HeaderMap::new()), None);
        assert_eq!(percent_decode("arn%3Aaws%3Alambda"), "arn:aws:lambda");
        assert_eq!(percent_decode("bad%zz%"), "bad%zz%");
        assert_eq!(percent_decode("%é1"), "%é1");
    }
}
