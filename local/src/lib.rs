//! Local mode: the whole product on 127.0.0.1, and the start-up code the tests share.
//!
//! Layers, each usable alone: [`start_aws`] (moto behind the DRS simulator, with the
//! table and topic the stacks would create), [`serve`] (a user pool with one demo user per
//! role, the API, the outbox and the SPA on one listener), and [`Stack`] (both, plus the
//! demo data, persistence in a data folder, readiness and the single-instance lock).

pub mod cognito;
pub mod lock;
pub mod outbox;
pub mod persist;
pub mod provision;
pub mod ready;
pub mod signin;
pub mod site;

use axum::routing::{any, get, post};
use drs_sim::emulator::{Emulator, EmulatorError, Options as EmulatorOptions};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub use cognito::Pool;
pub use provision::{ROLE, RUNBOOK_DOCUMENT, TABLE, TOPIC};

pub const REGION: &str = "us-east-1";

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error(transparent)]
    Emulator(#[from] EmulatorError),
    #[error(transparent)]
    Provision(#[from] provision::ProvisionError),
    #[error(transparent)]
    Pool(#[from] cognito::PoolError),
    #[error(transparent)]
    Persist(#[from] persist::PersistError),
    #[error(transparent)]
    Lock(#[from] lock::LockError),
    #[error("port {port} on 127.0.0.1 is in use ({what}); choose another with {flag}")]
    PortInUse {
        port: u16,
        what: &'static str,
        flag: &'static str,
    },
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Listen { port: u16, source: std::io::Error },
    #[error("the data folder {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("seeding the demo ({step}): {message}")]
    Seed { step: String, message: String },
    #[error("subscribing the outbox to the notifications topic: {0}")]
    Subscribe(String),
    #[error("making the outbox's secret: {0}")]
    Secret(std::io::Error),
    #[error("--test-token-lifetime: {0}")]
    TokenLifetime(String),
}

/// The emulated AWS account: endpoint, SDK configuration, the provisioned topic.
pub struct Aws {
    pub emulator: Emulator,
    pub config: aws_config::SdkConfig,
    pub topic_arn: String,
}

impl Aws {
    pub fn endpoint(&self) -> String {
        self.emulator.endpoint()
    }

    pub fn as_ref(&self) -> AwsRef<'_> {
        AwsRef {
            endpoint: self.endpoint(),
            config: &self.config,
            topic_arn: &self.topic_arn,
        }
    }
}

/// What serving needs of the emulated account (tests keep the parts separately).
pub struct AwsRef<'a> {
    pub endpoint: String,
    pub config: &'a aws_config::SdkConfig,
    pub topic_arn: &'a str,
}

/// Binds 127.0.0.1:`port` (0: any free port), naming the flag to change it when taken.
pub fn bind(
    port: u16,
    what: &'static str,
    flag: &'static str,
) -> Result<std::net::TcpListener, LocalError> {
    match std::net::TcpListener::bind(("127.0.0.1", port)) {
        Ok(listener) => Ok(listener),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            Err(LocalError::PortInUse { port, what, flag })
        }
        Err(source) => Err(LocalError::Listen { port, source }),
    }
}

/// Starts moto (execution mode, corrected) behind the DRS simulator on `sim.port`… and
/// creates the table and the notifications topic.
pub async fn start_aws(
    root: &Path,
    aws_port: u16,
    sim: drs_sim::Config,
) -> Result<Aws, LocalError> {
    if aws_port != 0 {
        // Fail with the flag's name before anything starts.
        drop(bind(aws_port, "the AWS endpoint", "--aws-port")?);
    }
    let emulator = Emulator::start(EmulatorOptions {
        root: root.to_path_buf(),
        port: aws_port,
        moto_port: 0,
        sim,
    })
    .await?;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(emulator.endpoint())
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local", "local", None, None, "local",
        ))
        .load()
        .await;
    provision::table(&aws_sdk_dynamodb::Client::new(&config), TABLE).await?;
    let topic_arn = provision::topic(&aws_sdk_sns::Client::new(&config), TOPIC).await?;
    provision::launch_events(
        &aws_sdk_sfn::Client::new(&config),
        &emulator.endpoint(),
        REGION,
    )
    .await?;
    Ok(Aws {
        emulator,
        config,
        topic_arn,
    })
}

/// The served product: the API, the outbox and the SPA on one origin.
pub struct Served {
    pub url: String,
    pub pool: Pool,
    pub outbox: Arc<outbox::Outbox>,
    /// The API's configuration (to build more of its state, e.g. to redeploy plans).
    pub config: api::config::Config,
    /// What `/api/health` says.
    pub readiness: Arc<ready::Readiness>,
    pub task: JoinHandle<()>,
    shutdown: Arc<Notify>,
}

impl Served {
    /// Stops at once, dropping requests in flight.
    pub fn stop(&self) {
        self.task.abort();
    }

    /// Stops taking connections and lets requests in flight finish (at most `limit`).
    pub async fn close(mut self, limit: Duration) {
        self.shutdown.notify_one();
        if tokio::time::timeout(limit, &mut self.task).await.is_err() {
            self.task.abort();
        }
    }
}

pub struct ServeOptions<'a> {
    pub listener: std::net::TcpListener,
    /// The built SPA (`frontend/dist`); a placeholder page when it does not exist.
    pub site: &'a Path,
    /// Print outbox messages to the console.
    pub print_outbox: bool,
    /// Where approval links point: this server (local mode), or the default deployment's
    /// console URL (tests that compare machines with `statemachines/`).
    pub links_to_self: bool,
    /// When old versions of plans' machines are deleted (tests make it small).
    pub versions: api::machines::VersionLimit,
    /// When plans' waves run as child executions.
    pub split: aslgen::Split,
}

/// Creates the user pool, then serves the API (+ outbox + SPA) on the listener and
/// subscribes the outbox to the notifications topic. `/api/health` says ok at once.
pub async fn serve(aws: &AwsRef<'_>, options: ServeOptions<'_>) -> Result<Served, LocalError> {
    serve_with(aws, options, ready::Readiness::ready()).await
}

/// As [`serve`], with `/api/health` saying `starting` until `readiness` is ready.
pub async fn serve_with(
    aws: &AwsRef<'_>,
    options: ServeOptions<'_>,
    readiness: Arc<ready::Readiness>,
) -> Result<Served, LocalError> {
    serve_with_reissue(aws, options, readiness, None).await
}

/// As [`serve_with`]; with `reissue` (tests only), the local sign-in hands out access
/// tokens with that shorter lifetime (checked once here).
pub async fn serve_with_reissue(
    aws: &AwsRef<'_>,
    options: ServeOptions<'_>,
    readiness: Arc<ready::Readiness>,
    reissue: Option<signin::Reissue>,
) -> Result<Served, LocalError> {
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(aws.config);
    let pool = cognito::create_pool(&cognito, REGION).await?;
    if let Some(reissue) = &reissue {
        reissue
            .apply(pool.token("Viewer"))
            .await
            .map_err(LocalError::TokenLifetime)?;
    }
    let port = options
        .listener
        .local_addr()
        .map_err(|source| LocalError::Listen { port: 0, source })?
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let deployment = aslgen::Deployment {
        console_url: if options.links_to_self {
            url.clone()
        } else {
            aslgen::Deployment::default().console_url
        },
        split: options.split,
        ..aslgen::Deployment::default()
    };
    let config = api::config::Config {
        table: TABLE.into(),
        issuer: pool.issuer.clone(),
        client_id: pool.client_id.clone(),
        jwks_url: format!("{}/{}/.well-known/jwks.json", aws.endpoint, pool.id),
        machine_role_arn: ROLE.into(),
        deployment: deployment.clone(),
        runbook_document: RUNBOOK_DOCUMENT.into(),
        versions: options.versions,
    };
    let state = Arc::new(config.state_with(aws.config));
    let served_config = config.clone();
    let outbox = Arc::new(outbox::Outbox {
        ddb: aws_sdk_dynamodb::Client::new(aws.config),
        table: TABLE.into(),
        auth: state.auth.clone(),
        print: options.print_outbox,
        secret: outbox::new_secret().map_err(LocalError::Secret)?,
        topic_arn: aws.topic_arn.to_owned(),
    });
    let spa_config = json!({
        "region": REGION,
        "userPoolId": pool.id,
        "clientId": pool.client_id,
        "apiBase": "/api",
        "local": true,
        // Sign-in talks to the emulator's Cognito (USER_PASSWORD_AUTH) in local mode.
        "cognitoEndpoint": aws.endpoint,
    });
    // Sign-in and its renewal share one count of failures.
    let sign_in = Arc::new(signin::SignIn {
        cognito: cognito.clone(),
        client_id: pool.client_id.clone(),
        throttle: signin::Throttle::default(),
        reissue,
    });
    // One origin: the API's routes, the outbox, and the SPA for every other path
    // (unknown /api paths still get the API's JSON 404).
    let app = api::app::routes_shared(state.clone())
        .route("/api/outbox", get(outbox::list).with_state(outbox.clone()))
        // What the API function does with an internal event (the runbook's invoke).
        .route("/_local/lambda", post(internal_event).with_state(state))
        .route("/api/{*rest}", any(api::routes::not_found))
        .route("/_local/sns", post(outbox::refuse))
        .route(
            "/_local/sns/{*secret}",
            post(outbox::receive).with_state(outbox.clone()),
        )
        .route(
            "/_local/sign-in",
            post(signin::sign_in).with_state(sign_in.clone()),
        )
        .route("/_local/refresh", post(signin::refresh).with_state(sign_in))
        .merge(site::router(options.site, spa_config))
        .layer(axum::middleware::from_fn_with_state(
            readiness.clone(),
            ready::gate,
        ));
    options
        .listener
        .set_nonblocking(true)
        .map_err(|source| LocalError::Listen { port, source })?;
    let listener = tokio::net::TcpListener::from_std(options.listener)
        .map_err(|source| LocalError::Listen { port, source })?;
    let shutdown = Arc::new(Notify::new());
    let stopping = shutdown.clone();
    let task = tokio::spawn(async move {
        // The client's address: sign-in failures are counted per address too.
        let service = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        if let Err(e) = axum::serve(listener, service)
            .with_graceful_shutdown(async move { stopping.notified().await })
            .await
        {
            tracing::error!(error = %e, "the local server stopped");
        }
    });
    aws_sdk_sns::Client::new(aws.config)
        .subscribe()
        .topic_arn(aws.topic_arn)
        .protocol("http")
        .endpoint(format!("{url}/_local/sns/{}", outbox.secret))
        .send()
        .await
        .map_err(|e| LocalError::Subscribe(format!("{:?}", e.into_service_error())))?;
    Ok(Served {
        url,
        pool,
        outbox,
        config: served_config,
        readiness,
        task,
        shutdown,
    })
}

/// The demo fleet: about 30 source servers in three applications plus shared services,
/// with realistic tags and one server lagging behind.
pub fn demo_fleet(root: &Path) -> Result<aslgen::Inventory, LocalError> {
    let path = root.join("examples/fleet.yaml");
    let text = std::fs::read_to_string(&path).map_err(|e| LocalError::Seed {
        step: path.display().to_string(),
        message: e.to_string(),
    })?;
    aslgen::parse::inventory(&text, "fleet.yaml").map_err(|e| LocalError::Seed {
        step: "examples/fleet.yaml".into(),
        message: e.to_string(),
    })
}

/// Demo plans: their groups and the plan, created through the API as the plan author.
/// The HR and shared-services servers stay unprotected, for users to build their own.
pub const DEMO_PLANS: [&str; 2] = ["three-tier", "tag-based"];

/// The demo plans' documents, from `examples/`.
pub fn demo_documents(root: &Path) -> Result<Vec<aslgen::model::PlanDocument>, LocalError> {
    DEMO_PLANS
        .iter()
        .map(|name| {
            let fail = |message: String| LocalError::Seed {
                step: (*name).to_owned(),
                message,
            };
            let text = std::fs::read_to_string(root.join(format!("examples/{name}.yaml")))
                .map_err(|e| fail(e.to_string()))?;
            aslgen::parse::plan_document(&text, name).map_err(|e| fail(e.to_string()))
        })
        .collect()
}

/// Creates each document's protection groups and plan through the API, as the plan
/// author; returns the plan ids.
pub async fn seed(
    served: &Served,
    documents: &[aslgen::model::PlanDocument],
) -> Result<Vec<String>, LocalError> {
    let http = reqwest::Client::new();
    let token = served.pool.token("PlanAuthor").to_owned();
    let post = |path: String, body: serde_json::Value| {
        let request = http
            .post(format!("{}{path}", served.url))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body.to_string());
        async move {
            let response = request.send().await.map_err(|e| e.to_string())?;
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            if status.is_success() {
                Ok(())
            } else {
                Err(format!("{path} answered {status}: {text}"))
            }
        }
    };
    let mut plans = Vec::new();
    for doc in documents {
        let fail = |message: String| LocalError::Seed {
            step: doc.plan.id.clone(),
            message,
        };
        for group in &doc.protection_groups {
            let body = serde_json::to_value(group).map_err(|e| fail(e.to_string()))?;
            post("/api/protection-groups".into(), body)
                .await
                .map_err(fail)?;
        }
        let plan = serde_json::to_value(&doc.plan).map_err(|e| fail(e.to_string()))?;
        post("/api/plans".into(), json!({ "plan": plan }))
            .await
            .map_err(fail)?;
        plans.push(doc.plan.id.clone());
    }
    Ok(plans)
}

/// Local mode's options.
pub struct Options {
    /// The repository root: `.venv/`, `tests/emulator/`, `examples/`, `frontend/dist`.
    pub root: PathBuf,
    pub data_dir: PathBuf,
    pub port: u16,
    pub aws_port: u16,
    pub reset: bool,
    /// DRS simulator speed: how many times faster than DRS its jobs run.
    pub speed: f64,
    /// Instead of the demo fleet and plans: this many synthetic servers and the synthetic
    /// plan over them (scale checks).
    pub synthetic: Option<usize>,
    /// When plans' waves run as child executions.
    pub split: aslgen::Split,
    /// Faults the DRS simulator injects from the start (its `/_sim/faults` format).
    pub faults: drs_sim::faults::Faults,
    /// The process a second start names as the running one (the one to stop).
    pub pid: u32,
    /// Tests only: the local sign-in's access tokens expire after this long instead of
    /// the emulator's hour (see [`signin::Reissue`]).
    pub test_token_lifetime: Option<Duration>,
}

/// The running local stack.
pub struct Stack {
    pub aws: Aws,
    pub served: Served,
    pub restored: usize,
    pub seeded: Vec<String>,
    data_file: PathBuf,
    _apps: Vec<JoinHandle<()>>,
    snapshots: JoinHandle<()>,
    redeploy: Option<JoinHandle<()>>,
    _lock: lock::Lock,
}

impl Stack {
    pub async fn start(options: Options) -> Result<Self, LocalError> {
        let data_err = |path: &Path| {
            let path = path.display().to_string();
            move |source| LocalError::DataDir { path, source }
        };
        std::fs::create_dir_all(&options.data_dir).map_err(data_err(&options.data_dir))?;
        let url = format!("http://127.0.0.1:{}", options.port);
        let lock = lock::Lock::acquire(&options.data_dir, &url, options.pid)?;
        let data_file = options.data_dir.join("table.json");
        if options.reset && data_file.exists() {
            std::fs::remove_file(&data_file).map_err(data_err(&data_file))?;
        }
        let saved = if data_file.exists() {
            Some(persist::read(&data_file)?)
        } else {
            None
        };
        // Check the site port before the slow start, so a taken port fails at once.
        let listener = bind(options.port, "the site and API", "--port")?;

        let (probe_ports, apps) = provision::shop_applications()
            .await
            .map_err(|source| LocalError::Listen { port: 0, source })?;
        let sim = drs_sim::Config {
            speed: options.speed,
            inventory: match options.synthetic {
                Some(n) => aslgen::synth::inventory(n as u64),
                None => demo_fleet(&options.root)?,
            },
            probe_ports,
            faults: options.faults,
            ..drs_sim::Config::default()
        };
        let aws = start_aws(&options.root, options.aws_port, sim).await?;
        let ddb = aws_sdk_dynamodb::Client::new(&aws.config);
        let restored = match saved {
            Some(items) => persist::restore(&ddb, TABLE, items).await?,
            None => 0,
        };
        let readiness = ready::Readiness::starting();
        let reissue = options.test_token_lifetime.map(|lifetime| signin::Reissue {
            lifetime,
            python: options.root.join(".venv/bin/python"),
        });
        let served = serve_with_reissue(
            &aws.as_ref(),
            ServeOptions {
                listener,
                site: &options.root.join("frontend/dist"),
                print_outbox: true,
                links_to_self: true,
                versions: api::machines::VersionLimit::default(),
                split: options.split,
            },
            readiness.clone(),
            reissue,
        )
        .await?;
        let (seeded, redeploy) = if restored == 0 {
            let documents = match options.synthetic {
                Some(n) => vec![aslgen::synth::large_plan(n, 30)],
                None => demo_documents(&options.root)?,
            };
            let seeded = seed(&served, &documents).await?;
            readiness.started();
            (seeded, None)
        } else {
            // In the background: a plan that fails is reported and retried while the
            // rest serves; /api/health says starting until it is done.
            let state = served.config.state_with(&aws.config);
            let task = tokio::spawn(ready::redeploy_stored(state, readiness));
            (Vec::new(), Some(task))
        };
        let snapshots = tokio::spawn(snapshot_loop(ddb, data_file.clone()));
        Ok(Self {
            aws,
            served,
            restored,
            seeded,
            data_file,
            _apps: apps,
            snapshots,
            redeploy,
            _lock: lock,
        })
    }

    /// Stops serving (requests in flight may finish), writes the final snapshot, then
    /// stops every child process. The children are stopped even when saving fails.
    pub async fn stop(self) -> Result<(), LocalError> {
        self.snapshots.abort();
        if let Some(task) = &self.redeploy {
            task.abort();
        }
        self.served.close(Duration::from_secs(3)).await;
        let ddb = aws_sdk_dynamodb::Client::new(&self.aws.config);
        let saved = match persist::scan(&ddb, TABLE).await {
            Ok(items) => persist::write(&self.data_file, &persist::document(&items)),
            Err(e) => Err(e),
        };
        self.aws.emulator.stop().await;
        saved.map_err(LocalError::from)
    }
}

/// Snapshots the table every two seconds when it changed, so even a killed process loses
/// at most two seconds of local data.
async fn snapshot_loop(ddb: aws_sdk_dynamodb::Client, path: PathBuf) {
    let mut last = String::new();
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        match persist::scan(&ddb, TABLE).await {
            Ok(items) => {
                let doc = persist::document(&items);
                let text = doc.to_string();
                if text != last {
                    match persist::write(&path, &doc) {
                        Ok(()) => last = text,
                        Err(e) => tracing::warn!(error = %e, "local data snapshot"),
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "local data snapshot"),
        }
    }
}

/// `POST /_local/lambda`: an internal event, as the API function gets it from the runbook
/// in AWS (there, only IAM principals allowed to invoke the function can send one).
async fn internal_event(
    axum::extract::State(state): axum::extract::State<Arc<api::AppState>>,
    axum::Json(event): axum::Json<api::runbook::InternalEvent>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match api::runbook::handle(state, event).await {
        Ok(body) => axum::Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}
