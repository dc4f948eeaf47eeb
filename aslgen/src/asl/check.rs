//! Invariants every emitted machine must hold, checked before it is written out.

use super::{ErrorName, MAX_STATE_NAME, State, StateMachine, States, targets};
use serde_json::Value;
use std::collections::{HashSet, VecDeque};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CheckError {
    #[error("state name `{0}` is used twice")]
    DuplicateName(String),
    #[error("state name `{0}` is longer than {MAX_STATE_NAME} characters")]
    NameTooLong(String),
    #[error("state `{from}` goes to `{to}`, which is not a state of its scope")]
    MissingTarget { from: String, to: String },
    #[error("`StartAt` names `{0}`, which is not a state of its scope")]
    MissingStart(String),
    #[error("state `{0}` cannot be reached from its scope's start")]
    Unreachable(String),
    #[error("state `{0}`: `States.ALL` must stand alone in the last Retry/Catch")]
    MisplacedAll(String),
    #[error("state `{0}` waits for a task token but does not pass `$$.Task.Token`")]
    TokenNotPassed(String),
    #[error(
        "state `{state}`: field `{field}` ends in `.$` but its value `{value}` is not a path or intrinsic"
    )]
    BadPathField {
        state: String,
        field: String,
        value: String,
    },
}

/// Checks the whole machine; returns every violation found.
pub fn check(machine: &StateMachine) -> Vec<CheckError> {
    let mut errors = Vec::new();
    let mut names = HashSet::new();
    check_scope(&machine.start_at, &machine.states, &mut names, &mut errors);
    errors
}

fn check_scope(
    start: &str,
    states: &States,
    names: &mut HashSet<String>,
    errors: &mut Vec<CheckError>,
) {
    if !states.contains_key(start) {
        errors.push(CheckError::MissingStart(start.to_owned()));
    }
    for (name, state) in states {
        if !names.insert(name.clone()) {
            errors.push(CheckError::DuplicateName(name.clone()));
        }
        if name.chars().count() > MAX_STATE_NAME || name.is_empty() {
            errors.push(CheckError::NameTooLong(name.clone()));
        }
        for to in targets(state) {
            if !states.contains_key(to) {
                errors.push(CheckError::MissingTarget {
                    from: name.clone(),
                    to: to.to_owned(),
                });
            }
        }
        check_state(name, state, names, errors);
    }
    let mut seen: HashSet<&str> = HashSet::new();
    let mut queue: VecDeque<&str> = VecDeque::from([start]);
    while let Some(name) = queue.pop_front() {
        if !seen.insert(name) {
            continue;
        }
        if let Some(state) = states.get(name) {
            queue.extend(targets(state));
        }
    }
    for name in states.keys() {
        if !seen.contains(name.as_str()) {
            errors.push(CheckError::Unreachable(name.clone()));
        }
    }
}

fn check_state(
    name: &str,
    state: &State,
    names: &mut HashSet<String>,
    errors: &mut Vec<CheckError>,
) {
    let all_last = |lists: Vec<&Vec<ErrorName>>| {
        let n = lists.len();
        lists
            .iter()
            .enumerate()
            .all(|(i, errs)| !errs.contains(&ErrorName::All) || (errs.len() == 1 && i + 1 == n))
    };
    match state {
        State::Task(task) => {
            let retry_ok = all_last(task.retry.iter().map(|r| &r.error_equals).collect());
            let catch_ok = all_last(task.catch.iter().map(|c| &c.error_equals).collect());
            if !retry_ok || !catch_ok {
                errors.push(CheckError::MisplacedAll(name.to_owned()));
            }
            if task.resource.waits_for_token()
                && !task
                    .parameters
                    .as_ref()
                    .is_some_and(|p| mentions(p, "$$.Task.Token"))
            {
                errors.push(CheckError::TokenNotPassed(name.to_owned()));
            }
            for value in [&task.parameters, &task.result_selector]
                .into_iter()
                .flatten()
            {
                check_paths(name, value, errors);
            }
        }
        State::Pass(pass) => {
            if let Some(p) = &pass.parameters {
                check_paths(name, p, errors);
            }
        }
        State::Parallel(parallel) => {
            if !all_last(parallel.catch.iter().map(|c| &c.error_equals).collect()) {
                errors.push(CheckError::MisplacedAll(name.to_owned()));
            }
            for branch in &parallel.branches {
                check_scope(&branch.start_at, &branch.states, names, errors);
            }
        }
        State::Map(map) => {
            if let Some(p) = &map.item_selector {
                check_paths(name, p, errors);
            }
            let processor = &map.item_processor;
            check_scope(&processor.start_at, &processor.states, names, errors);
        }
        State::Choice(_) | State::Wait(_) | State::Succeed(_) | State::Fail(_) => {}
    }
}

fn mentions(value: &Value, needle: &str) -> bool {
    match value {
        Value::String(s) => s.contains(needle),
        Value::Array(items) => items.iter().any(|v| mentions(v, needle)),
        Value::Object(map) => map.values().any(|v| mentions(v, needle)),
        _ => false,
    }
}

fn check_paths(state: &str, value: &Value, errors: &mut Vec<CheckError>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                if key.ends_with(".$") {
                    let ok = v
                        .as_str()
                        .is_some_and(|s| s.starts_with('$') || s.starts_with("States."));
                    if !ok {
                        errors.push(CheckError::BadPathField {
                            state: state.to_owned(),
                            field: key.clone(),
                            value: v.to_string(),
                        });
                    }
                } else {
                    check_paths(state, v, errors);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| check_paths(state, v, errors)),
        _ => {}
    }
}
