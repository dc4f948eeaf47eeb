//! The DRS source servers a plan is resolved against (tag selectors need them).
//!
//! The same file seeds the DRS simulator's fleet, so one description of a fleet serves
//! the compiler, the tests and local mode.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Inventory {
    pub servers: Vec<SourceServer>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SourceServer {
    pub id: String,
    pub hostname: String,
    #[serde(default)]
    pub tags: IndexMap<String, String>,
    /// DRS dataReplicationState, e.g. CONTINUOUS, STALLED, PAUSED.
    #[serde(default = "SourceServer::default_state")]
    pub replication_state: String,
    /// Replication lag in seconds.
    #[serde(default)]
    pub lag_seconds: u64,
}

impl SourceServer {
    fn default_state() -> String {
        "CONTINUOUS".to_owned()
    }

    pub fn matches(&self, selector: &IndexMap<String, String>) -> bool {
        !selector.is_empty()
            && selector
                .iter()
                .all(|(key, value)| self.tags.get(key) == Some(value))
    }
}

impl Inventory {
    pub fn get(&self, id: &str) -> Option<&SourceServer> {
        self.servers.iter().find(|s| s.id == id)
    }

    /// Server IDs matched by a tag selector, in inventory order.
    pub fn select(&self, selector: &IndexMap<String, String>) -> Vec<String> {
        self.servers
            .iter()
            .filter(|s| s.matches(selector))
            .map(|s| s.id.clone())
            .collect()
    }
}
