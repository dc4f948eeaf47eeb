//! The step map: which plan element each state belongs to, so the UI can colour the
//! machine's graph and the runbook view by the progress records the machine writes.

use indexmap::IndexMap;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepMap {
    /// State name → step key.
    pub states: IndexMap<String, String>,
    /// Step key → what it is.
    pub steps: IndexMap<String, StepEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepEntry {
    /// `plan`, `wave`, `unit`, `approval`, `wait`, `ssm`, `healthCheck`, `cleanup`.
    pub kind: &'static str,
    pub label: String,
    /// 1-based wave number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wave: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub servers: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub critical: Option<bool>,
    /// Path of the plan element in the plan document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl StepEntry {
    pub fn new(kind: &'static str, label: impl Into<String>) -> Self {
        Self {
            kind,
            label: label.into(),
            wave: None,
            group: None,
            servers: None,
            critical: None,
            path: None,
        }
    }
}
