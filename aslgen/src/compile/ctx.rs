//! Shared emission context: unique state names, the step map, and helpers that build
//! the recurring shapes (progress records, bounded poll loops, wrappers).

use super::Deployment;
use crate::asl::{
    Branch, Catch, Choice, ChoiceRule, Condition, ErrorName, Fail, ItemProcessor, MAX_STATE_NAME,
    MapState, Parallel, Pass, Resource, ResultPath, Retry, State, States, Succeed, Task,
    Transition, Wait, WaitFor, targets,
};
use crate::records;
use crate::stepmap::{StepEntry, StepMap};
use crate::validate::Resolved;
use serde_json::{Value, json};
use std::collections::HashSet;

/// Error names the machines raise themselves; the API and UI read them from records.
pub mod errors {
    pub const LAUNCH_FAILED: &str = "DRS.LaunchFailed";
    pub const LAUNCH_TIMED_OUT: &str = "DRS.LaunchTimedOut";
    pub const NO_RECOVERY_INSTANCES: &str = "DRS.NoRecoveryInstances";
    pub const NOT_RUNNING: &str = "EC2.InstancesNotRunning";
    pub const SSM_FAILED: &str = "SSM.CommandFailed";
    pub const SSM_TIMED_OUT: &str = "SSM.TimedOut";
    pub const HEALTH_FAILED: &str = "Health.CheckFailed";
    pub const APPROVAL_REJECTED: &str = "Approval.Rejected";
    pub const APPROVAL_TIMED_OUT: &str = "Approval.TimedOut";
    pub const CLEANUP_TIMED_OUT: &str = "DRS.TerminateTimedOut";
    pub const DEPENDENCY_TIMED_OUT: &str = "Dependency.TimedOut";
    /// DRS refused for quota (other runs hold its job slots) until the deadline.
    pub const NO_CAPACITY: &str = "DRS.NoCapacity";
    /// A dependency was not met (failed or skipped), so the group did not launch.
    pub const DEPENDENCY_UNMET: &str = "Dependency.Unmet";
    pub const PLAN_FAILED: &str = "Plan.Failed";
    pub const INVALID_INPUT: &str = "Plan.InvalidInput";
    /// Stable error names of the health-check probe Lambda (see `tasks/`).
    pub const PROBE_BAD_REQUEST: &str = "Probe.BadRequest";
}

pub struct Ctx<'a> {
    pub resolved: &'a Resolved,
    pub deployment: &'a Deployment,
    names: HashSet<String>,
    pub step_map: StepMap,
    /// Emitting a wave's child machine: the run is the parent execution, named in the
    /// child's input, not the executing one.
    pub in_child: bool,
}

impl<'a> Ctx<'a> {
    pub fn new(resolved: &'a Resolved, deployment: &'a Deployment) -> Self {
        Self {
            resolved,
            deployment,
            names: HashSet::new(),
            step_map: StepMap::default(),
            in_child: false,
        }
    }

    /// The run's execution name (a context-object path, valid in every scope).
    pub fn run_name(&self) -> &'static str {
        if self.in_child {
            "$$.Execution.Input.execution"
        } else {
            "$$.Execution.Name"
        }
    }

    /// The run's execution ARN (a context-object path, valid in every scope).
    pub fn run_arn(&self) -> &'static str {
        if self.in_child {
            "$$.Execution.Input.executionArn"
        } else {
            "$$.Execution.Id"
        }
    }

    /// A unique state name ≤ 80 characters, recorded in the step map under `step`.
    pub fn claim(&mut self, base: &str, step: &str) -> String {
        let base: String = base.chars().filter(|c| !c.is_control()).collect();
        let mut candidate = truncate(&base, MAX_STATE_NAME);
        let mut n = 2;
        while self.names.contains(&candidate) {
            let suffix = format!(" ({n})");
            candidate = format!(
                "{}{suffix}",
                truncate(&base, MAX_STATE_NAME - suffix.chars().count())
            );
            n += 1;
        }
        self.names.insert(candidate.clone());
        self.step_map
            .states
            .insert(candidate.clone(), step.to_owned());
        candidate
    }

    pub fn register_step(&mut self, key: &str, entry: StepEntry) {
        self.step_map.steps.insert(key.to_owned(), entry);
    }

    pub fn topic_arn(&self) -> String {
        self.resolved
            .notification_topic_arn
            .clone()
            .unwrap_or_else(|| self.deployment.topic_arn())
    }

    /// A progress record for a step (`STEP#<key>` under the execution), written by the
    /// machine so the dashboard reads one query instead of the execution history.
    pub fn record(&self, key: &str, update: Record) -> Task {
        self.record_item(&records::step_sk(key), update)
    }

    /// The execution's own item (`sk = EXECUTION`).
    pub fn record_execution(&self, update: Record) -> Task {
        self.record_item(records::EXECUTION, update)
    }

    /// The item of the run whose resources this execution owns (`$.run`): itself, or the
    /// cancelled run a clean-up execution works for.
    pub fn record_run(&self, update: Record) -> Task {
        let mut task = self.record_item(records::EXECUTION, update);
        if let Some(params) = task.parameters.as_mut() {
            params["Key"]["pk"] = json!({"S.$": records::execution_pk_expression("$.run")});
        }
        task
    }

    fn record_item(&self, sort_key: &str, update: Record) -> Task {
        let mut names = serde_json::Map::new();
        let mut values = serde_json::Map::new();
        let mut sets = vec!["updatedAt = :t".to_owned()];
        values.insert(":t".into(), json!({"S.$": "$$.State.EnteredTime"}));
        let mut set = |attr: &str, value: Value, names: &mut serde_json::Map<String, Value>| {
            let placeholder = format!(":{attr}");
            names.insert(format!("#{attr}"), json!(attr));
            sets.push(format!("#{attr} = {placeholder}"));
            values.insert(placeholder, value);
        };
        if let Some(status) = update.status {
            set("status", json!({ "S": status }), &mut names);
        }
        if let Some(stage) = update.stage {
            set("stage", json!({ "S": stage }), &mut names);
        }
        for (attr, value) in update.extra {
            set(attr, value, &mut names);
        }
        if update.started {
            sets.push("startedAt = if_not_exists(startedAt, :t)".into());
        }
        if update.ended {
            sets.push("endedAt = :t".into());
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if let Some((attr, value)) = update.add {
            expression.push_str(&format!(" ADD {attr} :add"));
            values.insert(":add".into(), value);
        }
        let mut params = json!({
            "TableName": self.deployment.table,
            "Key": {
                "pk": {"S.$": records::execution_pk_expression(self.run_name())},
                "sk": {"S": sort_key}
            },
            "UpdateExpression": expression,
            "ExpressionAttributeValues": values,
        });
        if !names.is_empty() {
            params["ExpressionAttributeNames"] = Value::Object(names);
        }
        Task {
            resource: Resource::optimized("dynamodb", "updateItem"),
            parameters: Some(params),
            result_path: Some(ResultPath::Discard),
            retry: vec![Retry::backoff(vec![ErrorName::TaskFailed], 5)],
            ..task_base()
        }
    }
}

/// What a progress record sets.
#[derive(Default)]
pub struct Record {
    pub status: Option<&'static str>,
    pub stage: Option<&'static str>,
    pub started: bool,
    pub ended: bool,
    pub extra: Vec<(&'static str, Value)>,
    pub add: Option<(&'static str, Value)>,
}

impl Record {
    pub fn status(status: &'static str) -> Self {
        Self {
            status: Some(status),
            ..Self::default()
        }
    }
    pub fn started(mut self) -> Self {
        self.started = true;
        self
    }
    pub fn ended(mut self) -> Self {
        self.ended = true;
        self
    }
    pub fn with(mut self, attr: &'static str, value: Value) -> Self {
        self.extra.push((attr, value));
        self
    }
    pub fn stage(mut self, stage: &'static str) -> Self {
        self.stage = Some(stage);
        self
    }
    /// Records the caught error (`$.failure`), cut to what DynamoDB and the UI need.
    pub fn with_failure(self) -> Self {
        self.with("errorName", json!({"S.$": "$.failure.Error"}))
            .with("errorCause", json!({"S.$": "$.failure.Cause"}))
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A Task with nothing but a placeholder resource; callers fill in what they need.
pub fn task_base() -> Task {
    Task {
        comment: None,
        resource: Resource::optimized("states", "placeholder"),
        parameters: None,
        result_selector: None,
        result_path: None,
        timeout_seconds: None,
        timeout_seconds_path: None,
        retry: Vec::new(),
        catch: Vec::new(),
        transition: Transition::End,
    }
}

pub fn pass(
    parameters: Option<Value>,
    result: Option<Value>,
    result_path: Option<ResultPath>,
    next: Transition,
) -> State {
    State::Pass(Pass {
        comment: None,
        parameters,
        result,
        result_path,
        transition: next,
    })
}

pub fn fail(error: &str, cause: impl Into<String>) -> State {
    State::Fail(Fail {
        error: error.to_owned(),
        cause: cause.into(),
        error_path: None,
        cause_path: None,
    })
}

pub fn choice(choices: Vec<ChoiceRule>, default: Option<String>) -> State {
    State::Choice(Choice {
        comment: None,
        choices,
        default,
    })
}

pub fn wait_seconds(seconds: u64, next: Transition) -> State {
    State::Wait(Wait {
        comment: None,
        wait: WaitFor::Seconds(seconds),
        transition: next,
    })
}

/// Catch that stores the error at `$.failure` and goes to `next`.
pub fn catch_all(next: &str) -> Catch {
    Catch {
        error_equals: vec![ErrorName::All],
        result_path: Some(ResultPath::at("$.failure")),
        next: next.to_owned(),
    }
}

/// Services the machines call through SDK integrations, for their error names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Drs,
    Ec2,
    Ssm,
}

/// Retries for throttling and transient errors of a read-only or idempotent call, named
/// as Step Functions names them: `<Service>.<error shape>` (with `Exception` appended
/// when the shape lacks it), and `<Service>.<Service>Exception` for errors the service
/// model does not declare — which is every EC2 error, since EC2's model declares none.
pub fn transient_retry(service: Service) -> Retry {
    let names: &[&str] = match service {
        Service::Drs => &["Drs.ThrottlingException", "Drs.InternalServerException"],
        // Throttling, 5xx and "instance not visible yet" all arrive as this one name.
        Service::Ec2 => &["Ec2.Ec2Exception"],
        Service::Ssm => &[
            "Ssm.ThrottlingException",
            "Ssm.InternalServerErrorException",
        ],
    };
    Retry::backoff(names.iter().map(|n| ErrorName::custom(*n)).collect(), 6)
}

/// Retries for DynamoDB's throttling and 500s, by the SDK integration's error names; for
/// tasks whose other errors (a failed condition) mean something.
pub fn dynamodb_throttle_retry() -> Retry {
    Retry::backoff(
        vec![
            ErrorName::custom("DynamoDb.ProvisionedThroughputExceededException"),
            ErrorName::custom("DynamoDb.ThrottlingException"),
            ErrorName::custom("DynamoDb.InternalServerErrorException"),
        ],
        6,
    )
}

/// Wraps a scope in a one-branch Parallel: the console draws it as a labelled box, and
/// one Catch covers everything inside.
pub fn wrap(start_at: String, states: States, catch: Vec<Catch>, next: Transition) -> State {
    State::Parallel(Parallel {
        comment: None,
        branches: vec![branch(start_at, states)],
        result_path: Some(ResultPath::Discard),
        retry: Vec::new(),
        catch,
        transition: next,
    })
}

/// A branch (or Map processor scope) with its states in reading order.
pub fn branch(start: String, states: States) -> Branch {
    Branch {
        states: order(&start, states),
        start_at: start,
    }
}

/// A Parallel whose output is discarded (the input goes on unchanged).
pub fn parallel(branches: Vec<Branch>, next: Transition) -> State {
    State::Parallel(Parallel {
        comment: None,
        branches,
        result_path: Some(ResultPath::Discard),
        retry: Vec::new(),
        catch: Vec::new(),
        transition: next,
    })
}

/// An inline Map over `items_path` whose output is discarded.
pub fn inline_map(
    items_path: &str,
    item_selector: Value,
    max_concurrency: u32,
    processor: Branch,
    next: Transition,
) -> State {
    State::Map(MapState {
        comment: None,
        items_path: items_path.to_owned(),
        item_selector: Some(item_selector),
        max_concurrency,
        item_processor: ItemProcessor {
            processor_config: json!({"Mode": "INLINE"}),
            start_at: processor.start_at,
            states: processor.states,
        },
        result_path: Some(ResultPath::Discard),
        catch: Vec::new(),
        transition: next,
    })
}

pub fn succeed() -> State {
    State::Succeed(Succeed { comment: None })
}

/// Orders a scope's states for reading: depth-first from the start, main path first.
pub fn order(start: &str, mut states: States) -> States {
    let mut out = States::new();
    let mut stack = vec![start.to_owned()];
    while let Some(name) = stack.pop() {
        if out.contains_key(&name) {
            continue;
        }
        let Some(state) = states.shift_remove(&name) else {
            continue;
        };
        let mut next: Vec<String> = targets(&state).into_iter().map(str::to_owned).collect();
        // `targets` lists catches first; read the main path first.
        if let State::Task(_) | State::Parallel(_) | State::Map(_) = &state {
            let last = next.len().saturating_sub(1);
            next.rotate_left(last);
        }
        out.insert(name, state);
        for n in next.into_iter().rev() {
            stack.push(n);
        }
    }
    // Anything unreachable (a bug the checker reports) is kept, not lost.
    out.extend(states);
    out
}

/// A bounded poll: Wait → count → check → decide. Four transitions per poll; the
/// counter adds the poll interval plus one second per poll, so an interval of 0 still
/// reaches the deadline.
pub struct Poll<'s> {
    /// Check at once, then wait between checks (for conditions that may already hold);
    /// otherwise wait first (for jobs just started).
    pub check_first: bool,
    /// Each wait one poll interval longer than the last (counted in `interval`, which the
    /// counter starts with): for conditions with no event to wait for, like EC2 status.
    pub back_off: bool,
    /// Names for the four states and the timeout Fail.
    pub wait: String,
    pub count: String,
    pub check: String,
    pub decide: String,
    pub timed_out: String,
    /// The object holding `elapsed`, and the fields to carry along with it.
    pub counter: &'s str,
    pub carry: &'s [&'s str],
    pub check_task: Task,
    /// Rules tried before the deadline rule; the default loops.
    pub rules: Vec<ChoiceRule>,
    pub deadline_seconds: u64,
    pub timeout_error: &'static str,
    pub timeout_cause: String,
}

impl Poll<'_> {
    /// Inserts the loop; returns its entry (the check or the wait).
    pub fn emit(self, states: &mut States) -> String {
        let field = |f: &str| {
            if self.counter == "$" {
                format!("$.{f}")
            } else {
                format!("{}.{f}", self.counter)
            }
        };
        let mut params = serde_json::Map::new();
        for f in self.carry {
            params.insert(format!("{f}.$"), json!(field(f)));
        }
        let wait = if self.back_off {
            params.insert(
                "elapsed.$".into(),
                json!(format!(
                    "States.MathAdd({}, {})",
                    field("elapsed"),
                    field("interval")
                )),
            );
            params.insert(
                "interval.$".into(),
                json!(format!("States.MathAdd({}, $.tick)", field("interval"))),
            );
            WaitFor::SecondsPath(field("interval"))
        } else {
            params.insert(
                "elapsed.$".into(),
                json!(format!("States.MathAdd({}, $.tick)", field("elapsed"))),
            );
            WaitFor::SecondsPath("$.input.pollSeconds".into())
        };
        states.insert(
            self.wait.clone(),
            State::Wait(Wait {
                comment: None,
                wait,
                transition: Transition::next(&self.count),
            }),
        );
        states.insert(
            self.count.clone(),
            pass(
                Some(Value::Object(params)),
                None,
                Some(ResultPath::at(self.counter)),
                Transition::next(&self.check),
            ),
        );
        let mut check = self.check_task;
        check.transition = Transition::next(&self.decide);
        states.insert(self.check.clone(), State::Task(check));
        let mut rules = self.rules;
        rules.push(ChoiceRule::new(
            Condition::NumericGreaterThanEquals(field("elapsed"), self.deadline_seconds as i64),
            &self.timed_out,
        ));
        states.insert(self.decide.clone(), choice(rules, Some(self.wait.clone())));
        states.insert(
            self.timed_out.clone(),
            fail(self.timeout_error, self.timeout_cause),
        );
        if self.check_first {
            self.check
        } else {
            self.wait
        }
    }
}

/// `n` poll intervals plus one second, as an intrinsic over the input's `pollSeconds`
/// (so back-to-back polling, `pollSeconds: 0`, waits one second); `n` a power of two,
/// built by doubling since intrinsics cannot multiply.
pub fn poll_intervals(n: u32) -> String {
    let mut expression = "$.input.pollSeconds".to_owned();
    let mut k = 1;
    while k < n {
        expression = format!("States.MathAdd({expression}, {expression})");
        k *= 2;
    }
    format!("States.MathAdd({expression}, 1)")
}

/// Escapes text for a single-quoted literal inside an intrinsic function. Backslashes
/// become `/`: an escaped backslash is legal ASL but not every parser accepts it.
pub fn intrinsic_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\'' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '\\' => out.push('/'),
            '\n' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_escaped() {
        assert_eq!(intrinsic_literal("it's {x}\\"), "it\\'s \\{x\\}/");
    }

    #[test]
    fn truncation_keeps_names_short() {
        let long = "x".repeat(200);
        assert_eq!(truncate(&long, 80).chars().count(), 80);
    }
}
