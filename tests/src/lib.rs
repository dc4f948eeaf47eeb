//! Harness for the system tests: the offline AWS (moto + DRS simulator) with clients,
//! the tables and topics the machines need, and helpers to run machines and read what
//! they did.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent};
use drs_sim::emulator::Emulator;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub mod scale;

pub use drs_sim::faults::Faults;
pub use drs_sim::world::Timing;

// The same start-up code as local mode (the `local` crate), and its names.
pub use local::{ROLE, TABLE, TOPIC, cognito};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn fleet() -> aslgen::Inventory {
    let text = std::fs::read_to_string(root().join("examples/fleet.yaml")).expect("fleet.yaml");
    aslgen::parse::inventory(&text, "fleet.yaml").expect("fleet parses")
}

pub type Item = HashMap<String, AttributeValue>;

/// Faults for the simulator: each server's launch fault, as JSON (`{"launch": "fail"}`).
pub fn launch_faults(entries: &[(&str, &str)]) -> Faults {
    let mut faults = Faults::default();
    for (server, fault) in entries {
        faults.servers.insert(
            (*server).to_owned(),
            serde_json::from_str(fault).expect("a server fault"),
        );
    }
    faults
}

pub struct Env {
    pub emulator: Emulator,
    pub topic_arn: String,
    pub aws: aws_config::SdkConfig,
    pub sfn: aws_sdk_sfn::Client,
    pub ddb: aws_sdk_dynamodb::Client,
    pub drs: aws_sdk_drs::Client,
    pub sns: aws_sdk_sns::Client,
}

/// How to set the simulator up for one test.
pub struct Setup {
    pub inventory: aslgen::Inventory,
    pub speed: f64,
    pub timing: Timing,
    pub faults: Faults,
    pub probe_ports: HashMap<u16, u16>,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            inventory: fleet(),
            speed: 600.0,
            timing: Timing::default(),
            faults: Faults::default(),
            probe_ports: HashMap::new(),
        }
    }
}

pub fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

pub fn text(item: &Item, key: &str) -> String {
    match item.get(key) {
        Some(AttributeValue::S(s)) => s.clone(),
        Some(AttributeValue::Bool(b)) => b.to_string(),
        Some(AttributeValue::N(n)) => n.clone(),
        _ => String::new(),
    }
}

impl Env {
    pub async fn start(setup: Setup) -> Env {
        let aws = local::start_aws(
            &root(),
            0,
            drs_sim::Config {
                speed: setup.speed,
                timing: setup.timing,
                inventory: setup.inventory,
                faults: setup.faults,
                probe_ports: setup.probe_ports,
                ..drs_sim::Config::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("emulator: {e}"));
        let config = aws.config.clone();
        Env {
            sfn: aws_sdk_sfn::Client::new(&config),
            ddb: aws_sdk_dynamodb::Client::new(&config),
            drs: aws_sdk_drs::Client::new(&config),
            sns: aws_sdk_sns::Client::new(&config),
            aws: config,
            topic_arn: aws.topic_arn,
            emulator: aws.emulator,
        }
    }

    /// The API server on a free loopback port, with a user pool of one user per role.
    pub async fn start_api(&self) -> Api {
        self.start_api_with(api::machines::VersionLimit::default(), aslgen::Split::Auto)
            .await
    }

    /// The API whose plans run their waves as child executions as `split` says.
    pub async fn start_api_split(&self, split: aslgen::Split) -> Api {
        self.start_api_with(api::machines::VersionLimit::default(), split)
            .await
    }

    /// The API with its own limit on kept machine versions and its own split.
    pub async fn start_api_with(
        &self,
        versions: api::machines::VersionLimit,
        split: aslgen::Split,
    ) -> Api {
        let listener = local::bind(0, "the API", "-").expect("bind");
        let served = local::serve(
            &local::AwsRef {
                endpoint: self.emulator.endpoint(),
                config: &self.aws,
                topic_arn: &self.topic_arn,
            },
            local::ServeOptions {
                listener,
                site: &root().join("frontend/dist"),
                print_outbox: false,
                links_to_self: false,
                versions,
                split,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("serve the API: {e}"));
        Api {
            url: served.url.clone(),
            pool: served.pool,
            http: reqwest::Client::new(),
            _server: served.task,
        }
    }

    /// Another user of `api`'s pool, in Cognito group `role`; returns their access token.
    pub async fn add_user(&self, api: &Api, name: &str, role: &str) -> String {
        let idp = aws_sdk_cognitoidentityprovider::Client::new(&self.aws);
        idp.admin_create_user()
            .user_pool_id(&api.pool.id)
            .username(name)
            .send()
            .await
            .expect("create user");
        idp.admin_set_user_password()
            .user_pool_id(&api.pool.id)
            .username(name)
            .password(cognito::PASSWORD)
            .permanent(true)
            .send()
            .await
            .expect("set password");
        idp.admin_add_user_to_group()
            .user_pool_id(&api.pool.id)
            .username(name)
            .group_name(role)
            .send()
            .await
            .expect("add to group");
        cognito::sign_in(&idp, &api.pool.client_id, name, cognito::PASSWORD)
            .await
            .expect("sign in")
    }

    /// The statuses of every execution of plan `plan`'s child machines (`<machine>_w…`).
    pub async fn child_executions(&self, plan: &str) -> Vec<ExecutionStatus> {
        let prefix = format!(
            "{}-{plan}{}",
            aslgen::Deployment::default().machine_prefix,
            aslgen::compile::CHILD_INFIX
        );
        let machines = self
            .sfn
            .list_state_machines()
            .send()
            .await
            .unwrap_or_else(|e| panic!("list machines: {e:?}"));
        let mut statuses = Vec::new();
        for machine in machines.state_machines() {
            if !machine.name().starts_with(&prefix) {
                continue;
            }
            let listed = self
                .sfn
                .list_executions()
                .state_machine_arn(machine.state_machine_arn())
                .send()
                .await
                .unwrap_or_else(|e| panic!("list executions: {e:?}"));
            statuses.extend(listed.executions().iter().map(|e| e.status().clone()));
        }
        statuses
    }

    /// DRS job `job_id` once COMPLETED (DescribeJobs through the SDK; 60 s at most).
    pub async fn wait_for_job(&self, job_id: &str) -> aws_sdk_drs::types::Job {
        let started = std::time::Instant::now();
        loop {
            let jobs = self
                .drs
                .describe_jobs()
                .filters(
                    aws_sdk_drs::types::DescribeJobsRequestFilters::builder()
                        .job_ids(job_id)
                        .build(),
                )
                .send()
                .await
                .unwrap_or_else(|e| panic!("DescribeJobs: {e:?}"));
            if let Some(job) = jobs.items().first()
                && job.status().map(|s| s.as_str()) == Some("COMPLETED")
            {
                return job.clone();
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "job {job_id} did not complete"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn sim(&self) -> &drs_sim::Sim {
        &self.emulator.sim
    }

    /// Creates a state machine from ASL text; returns its ARN.
    pub async fn deploy(&self, name: &str, definition: &str) -> String {
        self.sfn
            .create_state_machine()
            .name(name)
            .definition(definition)
            .role_arn(ROLE)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create {name}: {e:?}"))
            .state_machine_arn
    }

    /// Compiles `examples/<file>` over the demo fleet as `split` says and creates its
    /// machines (children first); returns the plan's machine ARN.
    pub async fn deploy_example(&self, file: &str, split: aslgen::Split) -> String {
        let text = std::fs::read_to_string(root().join("examples").join(file)).expect("example");
        let doc = aslgen::parse::plan_document(&text, file).unwrap_or_else(|e| panic!("{e}"));
        let resolved = aslgen::validate(&doc, Some(&fleet())).unwrap_or_else(|e| panic!("{e}"));
        let deployment = aslgen::Deployment {
            split,
            ..aslgen::Deployment::default()
        };
        let compiled = aslgen::compile(&resolved, &deployment).unwrap_or_else(|e| panic!("{e}"));
        for child in &compiled.children {
            self.deploy(&child.name, &child.definition_minified()).await;
        }
        self.deploy(&compiled.name, &compiled.definition_minified())
            .await
    }

    pub async fn start_execution(&self, machine: &str, name: &str, input: &str) -> String {
        self.sfn
            .start_execution()
            .state_machine_arn(machine)
            .name(name)
            .input(input)
            .send()
            .await
            .unwrap_or_else(|e| panic!("start {name}: {e:?}"))
            .execution_arn
    }

    /// Waits for the execution to end; returns its status, error and cause.
    pub async fn wait(
        &self,
        execution: &str,
        limit: Duration,
    ) -> (ExecutionStatus, String, String) {
        let started = Instant::now();
        loop {
            let out = self
                .sfn
                .describe_execution()
                .execution_arn(execution)
                .send()
                .await
                .unwrap_or_else(|e| panic!("describe: {e:?}"));
            if out.status != ExecutionStatus::Running {
                return (
                    out.status,
                    out.error.unwrap_or_default(),
                    out.cause.unwrap_or_default(),
                );
            }
            assert!(
                started.elapsed() < limit,
                "{execution} still running after {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn history(&self, execution: &str) -> Vec<HistoryEvent> {
        let mut events = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .sfn
                .get_execution_history()
                .execution_arn(execution)
                .max_results(1000)
                .set_next_token(token)
                .send()
                .await
                .unwrap_or_else(|e| panic!("history: {e:?}"));
            events.extend(page.events);
            token = page.next_token;
            if token.is_none() {
                return events;
            }
        }
    }

    /// Every item under the execution: `EXECUTION` and `STEP#…`.
    pub async fn records(&self, execution_name: &str) -> HashMap<String, Item> {
        let out = self
            .ddb
            .query()
            .table_name(TABLE)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(&format!("EXEC#{execution_name}")))
            .send()
            .await
            .unwrap_or_else(|e| panic!("query: {e:?}"));
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(|item| (text(&item, "sk"), item))
            .collect()
    }

    /// The execution's records, one line each, for failure messages.
    pub async fn explain(&self, execution_name: &str) -> String {
        let mut lines: Vec<String> = self
            .records(execution_name)
            .await
            .iter()
            .map(|(sk, item)| {
                format!(
                    "{sk}: {} {} {}",
                    text(item, "status"),
                    text(item, "errorName"),
                    text(item, "errorCause")
                )
            })
            .collect();
        lines.sort();
        lines.join("\n")
    }

    /// Pending approvals (items the machines stored with their task tokens).
    pub async fn pending_approvals(&self) -> Vec<Item> {
        let out = self
            .ddb
            .scan()
            .table_name(TABLE)
            .filter_expression("sk = :a AND #s = :p")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":a", s("APPROVAL"))
            .expression_attribute_values(":p", s("PENDING"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("scan: {e:?}"));
        out.items.unwrap_or_default()
    }

    /// Waits for a pending approval to appear.
    pub async fn next_approval(&self, limit: Duration) -> Item {
        let started = Instant::now();
        loop {
            if let Some(item) = self.pending_approvals().await.into_iter().next() {
                return item;
            }
            assert!(
                started.elapsed() < limit,
                "no approval requested within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Decides an approval the way the API does: mark it, then answer the task token.
    pub async fn decide(&self, approval: &Item, approve: bool) {
        let decision = if approve { "APPROVED" } else { "REJECTED" };
        self.ddb
            .update_item()
            .table_name(TABLE)
            .key("pk", approval["pk"].clone())
            .key("sk", approval["sk"].clone())
            .update_expression("SET #s = :d")
            .condition_expression("#s = :p")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":d", s(decision))
            .expression_attribute_values(":p", s("PENDING"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("decide: {e:?}"));
        let token = text(approval, "taskToken");
        if approve {
            self.sfn
                .send_task_success()
                .task_token(token)
                .output(r#"{"decision":"APPROVED"}"#)
                .send()
                .await
                .unwrap_or_else(|e| panic!("send_task_success: {e:?}"));
        } else {
            self.sfn
                .send_task_failure()
                .task_token(token)
                .error(aslgen::compile::errors::APPROVAL_REJECTED)
                .cause("rejected by the test")
                .send()
                .await
                .unwrap_or_else(|e| panic!("send_task_failure: {e:?}"));
        }
    }

    /// StartRecovery calls the simulator answered with a job, by unit tag.
    pub fn launches(&self) -> Vec<(String, drs_sim::world::Call)> {
        self.sim()
            .calls()
            .into_iter()
            .filter(|c| c.operation == "StartRecovery")
            .map(|c| {
                let unit = c.request["tags"]["drsOrchestratorUnit"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned();
                (unit, c)
            })
            .collect()
    }

    /// Drill recovery instances still alive in the simulator.
    /// The servers StartRecovery launched for one execution (its jobs are tagged with it),
    /// in call order.
    pub fn launched_servers(&self, execution: &str) -> Vec<String> {
        self.launches()
            .into_iter()
            .filter(|(_, call)| {
                call.job_id.is_some()
                    && call.request["tags"]["drsOrchestratorExecution"] == execution
            })
            .flat_map(|(_, call)| {
                call.request["sourceServers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s["sourceServerID"].as_str().map(str::to_owned))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// EC2 instances (in the emulator) the DRS jobs of `execution` launched, whether or
    /// not they still exist; and those of them EC2 still has pending or running.
    pub async fn run_ec2_instances(&self, execution: &str) -> (Vec<String>, Vec<String>) {
        let launched: Vec<String> = {
            let world = drs_sim::server::lock(&self.sim().world);
            world
                .jobs
                .iter()
                .filter(|j| {
                    j.tags.get("drsOrchestratorExecution").map(String::as_str) == Some(execution)
                })
                .flat_map(|j| j.log.iter().filter(|l| l.event == "LAUNCH_START"))
                .filter_map(|l| l.target.clone())
                .collect()
        };
        let ec2 = drs_sim::ec2::Ec2::new(
            reqwest::Client::new(),
            &self.emulator.endpoint(),
            "us-east-1",
        );
        let alive = ec2.alive(&launched).await.expect("DescribeInstances");
        (launched, alive)
    }

    pub fn live_drill_instances(&self) -> usize {
        let world = drs_sim::server::lock(&self.sim().world);
        world.instances.values().filter(|r| r.drill).count()
    }

    pub async fn stop(self) {
        self.emulator.stop().await;
    }
}

/// Compiles a plan text with the default deployment (the emulator's account and names).
pub fn compile(plan: &str, inventory: Option<&aslgen::Inventory>) -> String {
    let doc = aslgen::parse::plan_document(plan, "test plan").unwrap_or_else(|e| panic!("{e}"));
    let resolved = aslgen::validate(&doc, inventory).unwrap_or_else(|e| panic!("{e}"));
    aslgen::compile(&resolved, &aslgen::Deployment::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .definition()
}

pub fn statemachine(id: &str) -> String {
    std::fs::read_to_string(root().join(format!("statemachines/{id}.asl.json")))
        .expect("checked-in machine")
}

/// The API under test and a client for it.
pub struct Api {
    pub url: String,
    pub pool: cognito::Pool,
    pub http: reqwest::Client,
    _server: tokio::task::JoinHandle<()>,
}

impl Api {
    /// Creates an example plan file's protection groups through the API (as a plan
    /// author); returns the file's plan as JSON.
    pub async fn example_groups(&self, example: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(root().join(format!("examples/{example}.yaml")))
            .expect("example");
        let doc = aslgen::parse::plan_document(&text, example).expect("example parses");
        for group in &doc.protection_groups {
            let body =
                serde_json::json!({"id": group.id, "name": group.name, "servers": group.servers});
            let (status, body) = self
                .call(
                    Some("PlanAuthor"),
                    reqwest::Method::POST,
                    "/api/protection-groups",
                    Some(body),
                )
                .await;
            assert_eq!(status, 201, "{body}");
        }
        serde_json::to_value(&doc.plan).expect("plan JSON")
    }

    /// GET as `role`; returns status and JSON body.
    pub async fn get(&self, role: &str, path: &str) -> (u16, serde_json::Value) {
        self.call(Some(role), reqwest::Method::GET, path, None)
            .await
    }

    /// Sends a request with `token` (`None`: none); returns status and JSON body.
    pub async fn call_with(
        &self,
        token: Option<&str>,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("API answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Sends a request as `role` (`None`: no token); returns status and JSON body.
    pub async fn call(
        &self,
        role: Option<&str>,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let token = role.map(|r| self.pool.token(r).to_owned());
        self.call_with(token.as_deref(), method, path, body).await
    }
}

/// Polls `path` as `role` until it answers 200 and `done` holds (two minutes at most).
pub async fn wait_for(
    api: &Api,
    role: &str,
    path: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let started = Instant::now();
    loop {
        let (status, body) = api.get(role, path).await;
        if status == 200 && done(&body) {
            return body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{path}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The shop plan saved through the API (its groups first), with the API serving it.
pub async fn three_tier_api() -> (Env, Api, Vec<tokio::task::JoinHandle<()>>) {
    three_tier_api_split(aslgen::Split::Auto).await
}

/// As [`three_tier_api`], with the API splitting plans across executions as `split` says.
pub async fn three_tier_api_split(
    split: aslgen::Split,
) -> (Env, Api, Vec<tokio::task::JoinHandle<()>>) {
    let (env, listeners) = three_tier_env().await;
    let api = env.start_api_split(split).await;
    let plan = api.example_groups("three-tier").await;
    let (status, body) = api
        .call(
            Some("PlanAuthor"),
            reqwest::Method::POST,
            "/api/plans",
            Some(serde_json::json!({"plan": plan})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    (env, api, listeners)
}

/// The environment for the shop plan: its health checks reach stand-in listeners.
pub async fn three_tier_env() -> (Env, Vec<tokio::task::JoinHandle<()>>) {
    let (probe_ports, listeners) = local::provision::shop_applications().await.expect("bind");
    let env = Env::start(Setup {
        probe_ports,
        ..Setup::default()
    })
    .await;
    (env, listeners)
}
