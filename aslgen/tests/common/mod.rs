//! Test helpers: a plan generator and an ASL analysis that reads the emitted JSON
//! independently of the compiler's own types and checks.
#![allow(dead_code)]

pub mod fixtures;
pub mod plans;

use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

/// One scope of a machine: its start and its states (top level, a branch, a Map processor).
pub struct Scope<'a> {
    pub start: &'a str,
    pub states: &'a serde_json::Map<String, Value>,
}

/// Where each state lives: its scope, and the compound state that holds that scope.
pub struct Analysis<'a> {
    pub scopes: Vec<Scope<'a>>,
    pub scope_of: HashMap<&'a str, usize>,
    pub parent_of_scope: Vec<Option<&'a str>>,
    pub problems: Vec<String>,
}

fn transitions(state: &Value) -> Vec<&str> {
    let mut out = Vec::new();
    for key in ["Next", "Default"] {
        if let Some(n) = state.get(key).and_then(Value::as_str) {
            out.push(n);
        }
    }
    for list in ["Choices", "Catch"] {
        for item in state
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(n) = item.get("Next").and_then(Value::as_str) {
                out.push(n);
            }
        }
    }
    out
}

/// Walks a definition; records every structural problem found.
pub fn analyse(definition: &Value) -> Analysis<'_> {
    let mut analysis = Analysis {
        scopes: Vec::new(),
        scope_of: HashMap::new(),
        parent_of_scope: Vec::new(),
        problems: Vec::new(),
    };
    add_scope(&mut analysis, definition, None);
    analysis
}

fn add_scope<'a>(a: &mut Analysis<'a>, scope: &'a Value, parent: Option<&'a str>) {
    let start = scope.get("StartAt").and_then(Value::as_str).unwrap_or("");
    let Some(states) = scope.get("States").and_then(Value::as_object) else {
        a.problems
            .push(format!("scope under {parent:?} has no States"));
        return;
    };
    let id = a.scopes.len();
    a.scopes.push(Scope { start, states });
    a.parent_of_scope.push(parent);
    if !states.contains_key(start) {
        a.problems.push(format!("StartAt `{start}` missing"));
    }
    for (name, state) in states {
        if a.scope_of.insert(name, id).is_some() {
            a.problems
                .push(format!("state name `{name}` is not unique"));
        }
        if name.chars().count() > 80 {
            a.problems
                .push(format!("state name `{name}` is over 80 characters"));
        }
        for target in transitions(state) {
            if !states.contains_key(target) {
                a.problems
                    .push(format!("`{name}` goes to missing `{target}`"));
            }
        }
        let kind = state.get("Type").and_then(Value::as_str).unwrap_or("");
        let terminal = matches!(kind, "Succeed" | "Fail" | "Choice")
            || state.get("End") == Some(&Value::Bool(true));
        if !terminal && state.get("Next").is_none() {
            a.problems
                .push(format!("`{name}` has neither Next nor End"));
        }
        for branch in state
            .get("Branches")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            add_scope(a, branch, Some(name));
        }
        if let Some(processor) = state.get("ItemProcessor") {
            add_scope(a, processor, Some(name));
        }
    }
    // Every state reachable from its scope's start.
    let reachable = reach(states, start, None);
    for name in states.keys() {
        if !reachable.contains(name.as_str()) {
            a.problems.push(format!("`{name}` is unreachable"));
        }
    }
}

fn reach<'a>(
    states: &'a serde_json::Map<String, Value>,
    start: &'a str,
    avoid: Option<&str>,
) -> HashSet<&'a str> {
    let mut seen = HashSet::new();
    let mut queue = VecDeque::from([start]);
    while let Some(name) = queue.pop_front() {
        if Some(name) == avoid || !seen.insert(name) {
            continue;
        }
        if let Some(state) = states.get(name) {
            queue.extend(transitions(state));
        }
    }
    seen
}

impl<'a> Analysis<'a> {
    /// States from `name` outwards: (scope, state in that scope).
    fn chain(&self, name: &'a str) -> Vec<(usize, &'a str)> {
        let mut out = Vec::new();
        let mut current = Some(name);
        while let Some(n) = current {
            let Some(&scope) = self.scope_of.get(n) else {
                break;
            };
            out.push((scope, n));
            current = self.parent_of_scope[scope];
        }
        out
    }

    /// Whether `before` has certainly finished whenever `after` starts: in their deepest
    /// common scope, every path to `after`'s ancestor passes through `before`'s.
    pub fn happens_before(&self, before: &'a str, after: &'a str) -> bool {
        let a_chain = self.chain(before);
        let b_chain = self.chain(after);
        for &(scope, a) in &a_chain {
            if let Some(&(_, b)) = b_chain.iter().find(|(s, _)| *s == scope) {
                if a == b {
                    // Same compound state, different branches below it: concurrent.
                    return false;
                }
                let s = &self.scopes[scope];
                return !reach(s.states, s.start, Some(a)).contains(b);
            }
        }
        false
    }

    /// Every state, with its JSON.
    pub fn states(&self) -> impl Iterator<Item = (&'a str, &'a Value)> + '_ {
        self.scopes
            .iter()
            .flat_map(|s| s.states.iter().map(|(k, v)| (k.as_str(), v)))
    }

    /// StartRecovery tasks by unit key (from the job's unit tag `<plan>/<unit>/<batch>`).
    pub fn launches(&self) -> BTreeMap<String, Vec<&'a str>> {
        let mut out: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for (name, state) in self.states() {
            if state.get("Resource").and_then(Value::as_str)
                == Some("arn:aws:states:::aws-sdk:drs:startRecovery")
            {
                let tag = state["Parameters"]["Tags"]["drsOrchestratorUnit"]
                    .as_str()
                    .unwrap_or("");
                let mut parts = tag.split('/');
                let _plan = parts.next();
                out.entry(parts.next().unwrap_or("").to_owned())
                    .or_default()
                    .push(name);
            }
        }
        out
    }

    /// Waits on another unit's progress record: (unit key, lowest accepted stage) → states.
    /// Such a state ends only once that unit has recorded the stage (or failed).
    pub fn record_waits(&self) -> BTreeMap<(String, String), Vec<&'a str>> {
        let mut out: BTreeMap<(String, String), Vec<&str>> = BTreeMap::new();
        for (name, state) in self.states() {
            if state.get("Resource").and_then(Value::as_str)
                != Some("arn:aws:states:::aws-sdk:dynamodb:query")
            {
                continue;
            }
            let values = &state["Parameters"]["ExpressionAttributeValues"];
            let Some(unit) = values[":sk"]["S"]
                .as_str()
                .and_then(|sk| sk.strip_prefix("STEP#"))
            else {
                continue;
            };
            let lowest = values
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, _)| k.starts_with(":stage"))
                .filter_map(|(_, v)| v["S"].as_str())
                .min_by_key(|s| stage_rank(s));
            if let Some(stage) = lowest {
                out.entry((unit.to_owned(), stage.to_owned()))
                    .or_default()
                    .push(name);
            }
        }
        out
    }

    /// Progress records that mark a unit's stage: (unit key, stage) → states.
    pub fn stage_markers(&self) -> BTreeMap<(String, String), Vec<&'a str>> {
        let mut out: BTreeMap<(String, String), Vec<&str>> = BTreeMap::new();
        for (name, state) in self.states() {
            if state.get("Resource").and_then(Value::as_str)
                != Some("arn:aws:states:::dynamodb:updateItem")
            {
                continue;
            }
            let params = &state["Parameters"];
            let (Some(sk), Some(stage)) = (
                params["Key"]["sk"]["S"].as_str(),
                params["ExpressionAttributeValues"][":stage"]["S"].as_str(),
            ) else {
                continue;
            };
            if let Some(unit) = sk.strip_prefix("STEP#") {
                out.entry((unit.to_owned(), stage.to_owned()))
                    .or_default()
                    .push(name);
            }
        }
        out
    }
}

pub fn stage_rank(stage: &str) -> u8 {
    match stage {
        "LAUNCHED" => 1,
        "RUNNING" => 2,
        "HEALTHY" => 3,
        _ => 0,
    }
}

pub fn condition_rank(condition: aslgen::model::Condition) -> u8 {
    match condition {
        aslgen::model::Condition::Launched => 1,
        aslgen::model::Condition::Running => 2,
        aslgen::model::Condition::Healthy => 3,
    }
}

/// Checks a compiled plan against its resolved dependencies; returns the violations.
pub fn dependency_violations(resolved: &aslgen::Resolved, definition: &Value) -> Vec<String> {
    let analysis = analyse(definition);
    let launches = analysis.launches();
    let mut markers = analysis.stage_markers();
    for (key, names) in analysis.record_waits() {
        markers.entry(key).or_default().extend(names);
    }
    let mut out = Vec::new();
    for edge in &resolved.all_edges {
        let from = &resolved.units[edge.from];
        let to = &resolved.units[edge.to];
        let need = condition_rank(edge.stage);
        let candidates: Vec<&str> = markers
            .iter()
            .filter(|((unit, stage), _)| *unit == from.key && stage_rank(stage) >= need)
            .flat_map(|(_, names)| names.iter().copied())
            .collect();
        let Some(targets) = launches.get(&to.key) else {
            out.push(format!("no launch found for `{}`", to.key));
            continue;
        };
        for &target in targets {
            if !candidates
                .iter()
                .any(|&m| analysis.happens_before(m, target))
            {
                out.push(format!(
                    "`{}` may launch before `{}` is {:?} (launch state `{target}`)",
                    to.key, from.key, edge.stage
                ));
            }
        }
    }
    out
}

/// SSM tasks that could run anywhere but on the recovered instances: SendCommand must take
/// its instances from `$.instances.ids` and nothing else; StartAutomationExecution must run
/// inside a Map over `$.instances.ids` with the document's `InstanceId` set from the item.
pub fn ssm_target_problems(definition: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    ssm_targets_in(definition, None, &mut problems);
    problems
}

fn ssm_targets_in(scope: &Value, map_items: Option<&str>, problems: &mut Vec<String>) {
    let Some(states) = scope.get("States").and_then(Value::as_object) else {
        return;
    };
    for (name, state) in states {
        let resource = state.get("Resource").and_then(Value::as_str).unwrap_or("");
        let params = state.get("Parameters");
        if resource.ends_with(":ssm:sendCommand") {
            let p = params.and_then(Value::as_object);
            let ids = p
                .and_then(|p| p.get("InstanceIds.$"))
                .and_then(Value::as_str);
            if ids != Some("$.instances.ids") {
                problems.push(format!("`{name}` sends to {ids:?}"));
            }
            for key in p.into_iter().flat_map(|p| p.keys()) {
                if key.starts_with("Targets") || key == "InstanceIds" {
                    problems.push(format!("`{name}` also sets `{key}`"));
                }
            }
        }
        if resource.ends_with(":ssm:startAutomationExecution") {
            if map_items != Some("$.instances.ids") {
                problems.push(format!("`{name}` runs outside a Map over the instances"));
            }
            let p = params.and_then(Value::as_object);
            for key in p.into_iter().flat_map(|p| p.keys()) {
                if key.starts_with("Target") {
                    problems.push(format!("`{name}` sets `{key}`"));
                }
            }
            let doc_params = p
                .and_then(|p| p.get("Parameters"))
                .and_then(Value::as_object);
            let id = doc_params
                .and_then(|d| d.get("InstanceId.$"))
                .and_then(Value::as_str);
            if id != Some("States.Array($.instanceId)") {
                problems.push(format!("`{name}` sets InstanceId from {id:?}"));
            }
            for key in doc_params.into_iter().flat_map(|d| d.keys()) {
                if key != "InstanceId.$" && key.to_ascii_lowercase().contains("instanceid") {
                    problems.push(format!("`{name}` also sets `{key}`"));
                }
            }
        }
        if let Some(branches) = state.get("Branches").and_then(Value::as_array) {
            for branch in branches {
                ssm_targets_in(branch, None, problems);
            }
        }
        if let Some(processor) = state.get("ItemProcessor") {
            let items = state.get("ItemsPath").and_then(Value::as_str);
            let from_item = state
                .get("ItemSelector")
                .and_then(|s| s.get("instanceId.$"))
                .and_then(Value::as_str)
                == Some("$$.Map.Item.Value");
            ssm_targets_in(processor, items.filter(|_| from_item), problems);
        }
    }
}
