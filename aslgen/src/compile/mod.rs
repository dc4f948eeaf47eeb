//! The compiler: a resolved plan in, one Step Functions state machine out, with the IAM
//! statements it needs and the step map the UI uses.

mod cleanup;
pub(crate) mod ctx;
mod guards;
mod health;
mod launch;
mod outcome;
mod pause;
mod slots;
mod split;
mod ssm;
mod steps;
mod unit;
mod wait;

pub use ctx::errors;
pub use split::{CHILD_INFIX, Child};
pub use unit::{TAG_EXECUTION, TAG_PLAN, TAG_UNIT, TAG_WAVE, adopt_field};

use crate::asl::{
    Branch, CheckError, ChoiceRule, Condition, State, StateMachine, States, Transition, check,
};
use crate::flow::{self, Flow, WaveFlow};
use crate::iam::{self, Policy};
use crate::records;
use crate::stepmap::{StepEntry, StepMap};
use crate::validate::Resolved;
use ctx::{Ctx, Record, choice, fail, parallel, pass, wrap};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A launch wait's first safety poll, in poll intervals (+1 s): after 8 (about 4 minutes
/// at the default 30-second poll), then each one 8 intervals longer than the last.
/// Events end a wait sooner.
pub const LAUNCH_SAFETY_POLLS: u32 = 8;

/// Step Functions' limit on a definition's size.
pub const MAX_DEFINITION_BYTES: usize = 1_048_576;

/// Where the machine will run: the names and ARNs it calls. Defaults fit local mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Deployment {
    pub partition: String,
    pub region: String,
    pub account: String,
    /// The DynamoDB table for progress records and approvals.
    pub table: String,
    /// The SNS topic for approvals and notifications (name, in this account and region).
    pub topic: String,
    /// The health-check probe Lambda (name).
    pub probe_function: String,
    /// Where approvers sign in; approval links are `<consoleUrl>/approvals/<id>`.
    pub console_url: String,
    /// State machines are named `<prefix>-<plan id>`.
    pub machine_prefix: String,
    /// CloudWatch Logs log group the machines log to (ARN ending `:*`); none locally.
    pub log_group_arn: Option<String>,
    /// When a plan's waves run as child executions.
    pub split: Split,
}

/// When a plan's waves run as child executions of its machine (see `split`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Split {
    /// Only when the plan does not fit one definition (1 MB).
    #[default]
    Auto,
    /// Always: each wave is its own child execution, with its own history.
    Waves,
}

impl std::str::FromStr for Split {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "auto" => Ok(Self::Auto),
            "waves" => Ok(Self::Waves),
            other => Err(format!(
                "`{other}` is not a split (expected `auto` or `waves`)"
            )),
        }
    }
}

impl Default for Deployment {
    fn default() -> Self {
        Self {
            partition: "aws".into(),
            region: "us-east-1".into(),
            account: "123456789012".into(),
            table: "drs-orchestrator".into(),
            topic: "drs-orchestrator-notifications".into(),
            probe_function: "drs-orchestrator-health-probe".into(),
            console_url: "http://127.0.0.1:8080".into(),
            machine_prefix: "drs-plan".into(),
            log_group_arn: None,
            split: Split::Auto,
        }
    }
}

impl Deployment {
    pub fn arn(&self, service: &str, resource: &str) -> String {
        format!(
            "arn:{}:{service}:{}:{}:{resource}",
            self.partition, self.region, self.account
        )
    }
    pub fn topic_arn(&self) -> String {
        self.arn("sns", &self.topic)
    }
    pub fn probe_function_arn(&self) -> String {
        self.arn("lambda", &format!("function:{}", self.probe_function))
    }
    pub fn table_arn(&self) -> String {
        self.arn("dynamodb", &format!("table/{}", self.table))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error(
        "a compiled definition is {bytes} bytes even with the plan split per wave; Step Functions accepts at most {MAX_DEFINITION_BYTES} (split the largest group, or use fewer waves)"
    )]
    TooLarge { bytes: usize },
    #[error("the compiler built an invalid machine (a bug): {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invariant(Vec<CheckError>),
}

/// Orderings a wave's machine adds beyond its dependencies, reported with the output.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WaveReport {
    pub wave: String,
    #[serde(flatten)]
    pub serialization: flow::Serialization,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    pub name: String,
    pub machine: StateMachine,
    /// Child machines the plan's machine runs, one per wave (or part of a wave), when the
    /// plan does not fit one definition; empty for a plan that does.
    pub children: Vec<Child>,
    pub step_map: StepMap,
    pub policy: Policy,
    pub waves: Vec<WaveReport>,
}

impl Compiled {
    /// Pretty, deterministic ASL (what `statemachines/` holds).
    pub fn definition(&self) -> String {
        serde_json::to_string_pretty(&self.machine).unwrap_or_default() + "\n"
    }

    /// Minified ASL (what is uploaded).
    pub fn definition_minified(&self) -> String {
        serde_json::to_string(&self.machine).unwrap_or_default()
    }

    /// The minified parent definition with each child it starts pinned to a published
    /// version: `versions` maps a child's machine ARN to its version ARN. A run of the
    /// parent's version then runs exactly these children, whatever is deployed later.
    pub fn definition_pinned(
        &self,
        versions: &std::collections::HashMap<String, String>,
    ) -> String {
        let mut value = serde_json::to_value(&self.machine).unwrap_or_default();
        pin(&mut value, versions);
        serde_json::to_string(&value).unwrap_or_default()
    }

    /// Sentences about orderings added beyond the plan's dependencies.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        for report in &self.waves {
            let s = &report.serialization;
            if !s.waits.is_empty() {
                let pairs: Vec<String> = s
                    .waits
                    .iter()
                    .map(|(awaited, waiting)| format!("`{waiting}` waits for `{awaited}`"))
                    .collect();
                notes.push(format!(
                    "wave `{}`: its dependencies are not series-parallel, so {} polled {} honoured through progress records (nothing serialized beyond the plan): {}",
                    report.wave,
                    pairs.len(),
                    if pairs.len() == 1 { "dependency is" } else { "dependencies are" },
                    pairs.join(", ")
                ));
            }
        }
        notes
    }
}

/// One machine when the plan fits one definition; otherwise (or always, with
/// [`Split::Waves`]) a parent machine and a child machine per wave (see `split`), decided
/// by the compiled sizes.
pub fn compile(resolved: &Resolved, deployment: &Deployment) -> Result<Compiled, CompileError> {
    if deployment.split == Split::Waves {
        return compile_as(resolved, deployment, true);
    }
    match compile_as(resolved, deployment, false) {
        Err(CompileError::TooLarge { .. }) => compile_as(resolved, deployment, true),
        other => other,
    }
}

/// A parent machine and a child machine per wave, whatever the plan's size.
pub fn compile_split(
    resolved: &Resolved,
    deployment: &Deployment,
) -> Result<Compiled, CompileError> {
    compile_as(resolved, deployment, true)
}

fn compile_as(
    resolved: &Resolved,
    deployment: &Deployment,
    split_waves: bool,
) -> Result<Compiled, CompileError> {
    let mut ctx = Ctx::new(resolved, deployment);
    let mut children = Vec::new();
    let mut states = States::new();
    let plan_key = "plan";
    ctx.register_step(plan_key, StepEntry::new("plan", resolved.plan_name.clone()));

    // Names first, in reading order, so the main path keeps the plain names.
    let read_input = ctx.claim("Read input", plan_key);
    let check_input = ctx.claim("Check input", plan_key);
    let drill_mode = ctx.claim("Drill mode", plan_key);
    let recovery_mode = ctx.claim("Recovery mode", plan_key);
    let cleanup_mode = ctx.claim("Clean-up of a cancelled run", "cleanup");
    let invalid = ctx.claim("Invalid input", plan_key);
    let record_start = ctx.claim("Record start", plan_key);
    let run_plan = ctx.claim("Run plan", plan_key);
    let ending = outcome::Names::claim(&mut ctx, plan_key);

    let defaults = r#"{"mode":"DRILL","pollSeconds":30,"startedAtEpoch":0}"#;
    states.insert(
        read_input.clone(),
        pass(
            Some(json!({
                "input.$": format!("States.JsonMerge(States.StringToJson('{defaults}'), $$.Execution.Input, false)")
            })),
            None,
            None,
            Transition::next(&check_input),
        ),
    );
    let valid_poll = || {
        vec![
            Condition::IsNumeric("$.input.pollSeconds".into(), true),
            Condition::NumericGreaterThanEquals("$.input.pollSeconds".into(), 0),
            Condition::NumericLessThan(
                "$.input.pollSeconds".into(),
                i64::from(crate::model::ExecutionInput::MAX_POLL_SECONDS) + 1,
            ),
            Condition::IsNumeric("$.input.startedAtEpoch".into(), true),
            Condition::NumericGreaterThanEquals("$.input.startedAtEpoch".into(), 0),
            Condition::NumericLessThan(
                "$.input.startedAtEpoch".into(),
                i64::from(crate::model::ExecutionInput::MAX_STARTED_AT_EPOCH) + 1,
            ),
        ]
    };
    let mode_rule = |mode: &str, next: &str| {
        let mut all = vec![
            Condition::StringEquals("$.input.mode".into(), mode.into()),
            Condition::IsPresent("$.input.cleanupOf".into(), false),
        ];
        all.extend(valid_poll());
        ChoiceRule::new(Condition::And(all), next)
    };
    // `cleanupOf`: a clean-up execution for a cancelled drill (started by the API on the
    // cancelled run's own version): no waves, only that run's instances terminated.
    let mut cleanup_rule = vec![
        Condition::IsPresent("$.input.cleanupOf".into(), true),
        Condition::IsPresent("$.input.jobs".into(), true),
        Condition::StringEquals("$.input.mode".into(), "DRILL".into()),
    ];
    cleanup_rule.extend(valid_poll());
    states.insert(
        check_input.clone(),
        choice(
            vec![
                ChoiceRule::new(Condition::And(cleanup_rule), &cleanup_mode),
                mode_rule("DRILL", &drill_mode),
                mode_rule("RECOVERY", &recovery_mode),
            ],
            Some(invalid.clone()),
        ),
    );
    states.insert(
        invalid,
        fail(
            errors::INVALID_INPUT,
            "mode must be DRILL or RECOVERY, pollSeconds a whole number from 0 to 3600 and startedAtEpoch Unix seconds",
        ),
    );
    for (name, is_drill) in [(&drill_mode, true), (&recovery_mode, false)] {
        states.insert(
            name.clone(),
            pass(
                Some(json!({
                    "input.$": "$.input",
                    "isDrill": is_drill,
                    "tick.$": "States.MathAdd($.input.pollSeconds, 1)",
                    "safety.$": ctx::poll_intervals(LAUNCH_SAFETY_POLLS),
                    "started.$": "$$.Execution.StartTime",
                    // The run whose DRS jobs this execution owns.
                    "run.$": "$$.Execution.Name"
                })),
                None,
                None,
                Transition::next(&record_start),
            ),
        );
    }
    states.insert(
        cleanup_mode,
        pass(
            Some(json!({
                "input.$": "$.input",
                "isDrill": true,
                "tick.$": "States.MathAdd($.input.pollSeconds, 1)",
                "started.$": "$$.Execution.StartTime",
                "run.$": "$.input.cleanupOf",
                "cleanupOnly": true
            })),
            None,
            None,
            Transition::next(&ending.run_cleanup_box),
        ),
    );
    let mut start = ctx.record_execution(
        Record::status(records::status::RUNNING)
            .started()
            .with("planId", json!({"S": resolved.plan_id}))
            .with("planName", json!({"S": resolved.plan_name}))
            .with("mode", json!({"S.$": "$.input.mode"}))
            .with("stateMachineArn", json!({"S.$": "$$.StateMachine.Id"})),
    );
    start.transition = Transition::next(&run_plan);
    states.insert(record_start, State::Task(start));

    // The plan body: waves in order, each a box of its groups.
    let mut body = States::new();
    let mut reports = Vec::new();
    let mut after = Transition::End;
    let wave_flows: Vec<WaveFlow> = resolved
        .waves
        .iter()
        .map(|w| flow::plan_wave(resolved, w))
        .collect();
    for (wave, wave_flow) in resolved.waves.iter().zip(&wave_flows).rev() {
        reports.push(WaveReport {
            wave: wave.name.clone(),
            serialization: wave_flow.serialization.clone(),
        });
        after =
            steps::emit_wave_steps(&mut ctx, wave.index, "after", &wave.after, &mut body, after);
        let key = format!("w{}", wave.index + 1);
        let mut entry = StepEntry::new("wave", wave.name.clone());
        entry.wave = Some(wave.index + 1);
        entry.path = Some(format!("plan.waves[{}]", wave.index));
        ctx.register_step(&key, entry);
        let name = ctx.claim(&format!("Wave {} · {}", wave.index + 1, wave.name), &key);
        let items: Vec<&Flow> = match &wave_flow.flow {
            Flow::Par(items) => items.iter().collect(),
            other => vec![other],
        };
        ctx.in_child = split_waves;
        let branches = items
            .into_iter()
            .map(|item| flow_branch(&mut ctx, wave_flow, item))
            .collect();
        ctx.in_child = false;
        if split_waves {
            split::emit_wave(
                &mut ctx,
                wave,
                &name,
                branches,
                &mut body,
                after,
                &mut children,
            )?;
        } else {
            body.insert(name.clone(), parallel(branches, after));
        }
        after = steps::emit_wave_steps(
            &mut ctx,
            wave.index,
            "before",
            &wave.before,
            &mut body,
            Transition::next(name),
        );
        if wave.index > 0 {
            let entry = after.target().map(str::to_owned).unwrap_or_default();
            after = Transition::next(pause::emit_pause_check(
                &mut ctx, wave.index, &mut body, entry,
            ));
        }
    }
    reports.reverse();
    let body_start = after.target().map(str::to_owned).unwrap_or_default();
    states.insert(
        run_plan.clone(),
        wrap(
            body_start,
            body,
            vec![ctx::catch_all(&ending.mark_failed)],
            Transition::next(&ending.completed),
        ),
    );

    outcome::emit(&mut ctx, ending, &mut states);

    let machine = StateMachine {
        comment: format!(
            "DRS recovery plan `{}` ({}): {} waves, {} servers. Generated by aslgen; do not edit.",
            resolved.plan_name,
            resolved.plan_id,
            resolved.waves.len(),
            resolved.server_count()
        ),
        start_at: read_input.clone(),
        states: ctx::order(&read_input, states),
        timeout_seconds: None,
    };
    // Waves were emitted last to first.
    children.sort_by_key(|c| c.wave);
    let mut problems = check(&machine);
    for child in &children {
        problems.extend(check(&child.machine));
    }
    if !problems.is_empty() {
        return Err(CompileError::Invariant(problems));
    }
    let every: Vec<&StateMachine> = std::iter::once(&machine)
        .chain(children.iter().map(|c| &c.machine))
        .collect();
    let compiled = Compiled {
        name: format!("{}-{}", deployment.machine_prefix, resolved.plan_id),
        policy: iam::policy_for_all(&every, deployment),
        machine,
        children,
        step_map: ctx.step_map,
        waves: reports,
    };
    let bytes = std::iter::once(compiled.definition_minified().len())
        .chain(
            compiled
                .children
                .iter()
                .map(|c| c.definition_minified().len()),
        )
        .max()
        .unwrap_or(0);
    if bytes > MAX_DEFINITION_BYTES {
        return Err(CompileError::TooLarge { bytes });
    }
    Ok(compiled)
}

fn pin(value: &mut serde_json::Value, versions: &std::collections::HashMap<String, String>) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::String(arn)) = map.get_mut("StateMachineArn")
                && let Some(version) = versions.get(arn.as_str())
            {
                *arn = version.clone();
            }
            map.values_mut().for_each(|v| pin(v, versions));
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| pin(v, versions)),
        _ => {}
    }
}

fn flow_branch(ctx: &mut Ctx, wave_flow: &WaveFlow, item: &Flow) -> Branch {
    let mut states = States::new();
    let start = emit_flow(ctx, wave_flow, item, &mut states, Transition::End);
    ctx::branch(start, states)
}

fn emit_flow(
    ctx: &mut Ctx,
    wave_flow: &WaveFlow,
    flow: &Flow,
    states: &mut States,
    next: Transition,
) -> String {
    match flow {
        Flow::Segment(index) => {
            let awaits: Vec<_> = wave_flow
                .waits
                .iter()
                .filter(|(waiting, _)| waiting == index)
                .map(|&(_, awaited)| {
                    let segment = &wave_flow.segments[awaited];
                    (segment.unit, segment.to)
                })
                .collect();
            unit::emit_segment(ctx, &wave_flow.segments[*index], &awaits, states, next)
        }
        Flow::Seq(items) => {
            let mut after = next;
            for item in items.iter().rev() {
                after = Transition::next(emit_flow(ctx, wave_flow, item, states, after));
            }
            after.target().map(str::to_owned).unwrap_or_default()
        }
        Flow::Par(items) => {
            let labels: Vec<String> = items
                .iter()
                .map(|i| first_label(ctx, wave_flow, i))
                .collect();
            let key = first_unit_key(ctx, wave_flow, flow);
            let name = ctx.claim(&format!("Together · {}", labels.join(" + ")), &key);
            let branches = items
                .iter()
                .map(|item| flow_branch(ctx, wave_flow, item))
                .collect();
            states.insert(name.clone(), parallel(branches, next));
            name
        }
    }
}

fn first_segment(flow: &Flow) -> usize {
    match flow {
        Flow::Segment(i) => *i,
        Flow::Seq(items) | Flow::Par(items) => items.first().map(first_segment).unwrap_or(0),
    }
}

fn first_label(ctx: &Ctx, wave_flow: &WaveFlow, flow: &Flow) -> String {
    let unit = wave_flow.segments[first_segment(flow)].unit;
    ctx.resolved.units[unit].label.clone()
}

fn first_unit_key(ctx: &Ctx, wave_flow: &WaveFlow, flow: &Flow) -> String {
    let unit = wave_flow.segments[first_segment(flow)].unit;
    format!("w{}", ctx.resolved.units[unit].wave + 1)
}
