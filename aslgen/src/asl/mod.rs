//! A typed model of the Amazon States Language (JSONPath flavour), as much of it as the
//! compiler emits. Serialises to ASL with empty fields left out.

mod check;
mod choice;
mod resource;

pub use check::{CheckError, check};
pub use choice::{ChoiceRule, Condition};
pub use resource::{Integration, Resource};

use indexmap::IndexMap;
use serde::{Serialize, Serializer};
use serde_json::Value;

/// Maximum length of a state name.
pub const MAX_STATE_NAME: usize = 80;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StateMachine {
    pub comment: String,
    pub start_at: String,
    pub states: States,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
}

pub type States = IndexMap<String, State>;

/// Where a state goes when it is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    Next(String),
    End,
}

impl Transition {
    pub fn next(name: impl Into<String>) -> Self {
        Transition::Next(name.into())
    }

    pub fn target(&self) -> Option<&str> {
        match self {
            Transition::Next(n) => Some(n),
            Transition::End => None,
        }
    }
}

impl Serialize for Transition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            Transition::Next(name) => map.serialize_entry("Next", name)?,
            Transition::End => map.serialize_entry("End", &true)?,
        }
        map.end()
    }
}

/// `ResultPath`: a path, or `null` to discard the result and keep the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultPath {
    Discard,
    At(String),
}

impl ResultPath {
    pub fn at(path: impl Into<String>) -> Self {
        ResultPath::At(path.into())
    }
}

impl Serialize for ResultPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ResultPath::Discard => serializer.serialize_none(),
            ResultPath::At(path) => serializer.serialize_str(path),
        }
    }
}

/// Error names, the `States.*` ones typed, service errors as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorName {
    All,
    Timeout,
    TaskFailed,
    Runtime,
    Custom(String),
}

impl ErrorName {
    pub fn custom(name: impl Into<String>) -> Self {
        ErrorName::Custom(name.into())
    }

    pub fn as_str(&self) -> &str {
        match self {
            ErrorName::All => "States.ALL",
            ErrorName::Timeout => "States.Timeout",
            ErrorName::TaskFailed => "States.TaskFailed",
            ErrorName::Runtime => "States.Runtime",
            ErrorName::Custom(name) => name,
        }
    }

    pub fn parse(name: &str) -> Self {
        match name {
            "States.ALL" => ErrorName::All,
            "States.Timeout" => ErrorName::Timeout,
            "States.TaskFailed" => ErrorName::TaskFailed,
            "States.Runtime" => ErrorName::Runtime,
            other => ErrorName::Custom(other.to_owned()),
        }
    }
}

impl Serialize for ErrorName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Retry {
    pub error_equals: Vec<ErrorName>,
    pub interval_seconds: u32,
    pub max_attempts: u32,
    pub backoff_rate: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_delay_seconds: Option<u32>,
    /// `FULL` jitter spreads retries of many parallel branches apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter_strategy: Option<&'static str>,
}

impl Retry {
    /// Exponential backoff with full jitter, for throttling and transient errors.
    pub fn backoff(errors: Vec<ErrorName>, max_attempts: u32) -> Self {
        Retry {
            error_equals: errors,
            interval_seconds: 2,
            max_attempts,
            backoff_rate: 2.0,
            max_delay_seconds: Some(60),
            jitter_strategy: Some("FULL"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Catch {
    pub error_equals: Vec<ErrorName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_path: Option<ResultPath>,
    pub next: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "Type")]
pub enum State {
    Pass(Pass),
    Task(Task),
    Choice(Choice),
    Wait(Wait),
    Parallel(Parallel),
    Map(MapState),
    Succeed(Succeed),
    Fail(Fail),
}

impl State {
    pub fn comment(&self) -> Option<&str> {
        match self {
            State::Pass(s) => s.comment.as_deref(),
            State::Task(s) => s.comment.as_deref(),
            State::Choice(s) => s.comment.as_deref(),
            State::Wait(s) => s.comment.as_deref(),
            State::Parallel(s) => s.comment.as_deref(),
            State::Map(s) => s.comment.as_deref(),
            State::Succeed(_) | State::Fail(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Pass {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_path: Option<ResultPath>,
    #[serde(flatten)]
    pub transition: Transition,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Task {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub resource: Resource,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_selector: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_path: Option<ResultPath>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// The timeout read from the input (a positive whole number of seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds_path: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub retry: Vec<Retry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub catch: Vec<Catch>,
    #[serde(flatten)]
    pub transition: Transition,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Choice {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub choices: Vec<ChoiceRule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// How long a Wait state waits.
#[derive(Debug, Clone, PartialEq)]
pub enum WaitFor {
    Seconds(u64),
    SecondsPath(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Wait {
    pub comment: Option<String>,
    pub wait: WaitFor,
    pub transition: Transition,
}

impl Serialize for Wait {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        if let Some(comment) = &self.comment {
            map.serialize_entry("Comment", comment)?;
        }
        match &self.wait {
            WaitFor::Seconds(s) => map.serialize_entry("Seconds", s)?,
            WaitFor::SecondsPath(p) => map.serialize_entry("SecondsPath", p)?,
        }
        match &self.transition {
            Transition::Next(n) => map.serialize_entry("Next", n)?,
            Transition::End => map.serialize_entry("End", &true)?,
        }
        map.end()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Branch {
    pub start_at: String,
    pub states: States,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Parallel {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub branches: Vec<Branch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_path: Option<ResultPath>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub retry: Vec<Retry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub catch: Vec<Catch>,
    #[serde(flatten)]
    pub transition: Transition,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ItemProcessor {
    pub processor_config: Value,
    pub start_at: String,
    pub states: States,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MapState {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub items_path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_selector: Option<Value>,
    pub max_concurrency: u32,
    pub item_processor: ItemProcessor,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_path: Option<ResultPath>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub catch: Vec<Catch>,
    #[serde(flatten)]
    pub transition: Transition,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Succeed {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Fail {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cause: String,
    /// Error and cause read from the state's input instead (JSONPath).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause_path: Option<String>,
}

/// Every transition target of a state, for checks and graphs: Next, Default, choice
/// targets and catch targets (branches are separate scopes).
pub fn targets(state: &State) -> Vec<&str> {
    fn catches(catch: &[Catch]) -> impl Iterator<Item = &str> {
        catch.iter().map(|c| c.next.as_str())
    }
    let mut out: Vec<&str> = Vec::new();
    match state {
        State::Pass(s) => out.extend(s.transition.target()),
        State::Task(s) => {
            out.extend(catches(&s.catch));
            out.extend(s.transition.target());
        }
        State::Choice(s) => {
            out.extend(s.choices.iter().map(|c| c.next.as_str()));
            out.extend(s.default.as_deref());
        }
        State::Wait(s) => out.extend(s.transition.target()),
        State::Parallel(s) => {
            out.extend(catches(&s.catch));
            out.extend(s.transition.target());
        }
        State::Map(s) => {
            out.extend(catches(&s.catch));
            out.extend(s.transition.target());
        }
        State::Succeed(_) | State::Fail(_) => {}
    }
    out
}
