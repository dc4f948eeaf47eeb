//! Reading plan, inventory and execution-input documents from YAML or JSON, with the
//! path of the first structural error (`plan.waves[1].groups[0]: unknown field ...`).

use crate::inventory::Inventory;
use crate::model::{ExecutionInput, PlanDocument};
use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("{origin}: not valid YAML or JSON: {message}")]
    Syntax { origin: String, message: String },
    #[error("{origin}: {path}: {message}")]
    Shape {
        origin: String,
        path: String,
        message: String,
    },
}

impl ParseError {
    /// Path inside the document, when the error has one.
    pub fn path(&self) -> Option<&str> {
        match self {
            ParseError::Shape { path, .. } => Some(path),
            ParseError::Syntax { .. } => None,
        }
    }
}

/// YAML that this module reads back: enums as maps (`{tcp: {port: 5432}}`), not YAML tags.
pub fn to_yaml<T: serde::Serialize>(value: &T) -> Result<String, String> {
    let json = serde_json::to_value(value).map_err(|e| e.to_string())?;
    serde_yaml_ng::to_string(&json).map_err(|e| e.to_string())
}

pub fn plan_document(text: &str, origin: &str) -> Result<PlanDocument, ParseError> {
    from_text(text, origin)
}

pub fn inventory(text: &str, origin: &str) -> Result<Inventory, ParseError> {
    from_text(text, origin)
}

pub fn execution_input(text: &str, origin: &str) -> Result<ExecutionInput, ParseError> {
    from_text(text, origin)
}

/// YAML is a superset of JSON: both become a JSON value first, so one set of
/// externally tagged enums (`cleanup: {after: 1h}`) reads the same in both.
fn from_text<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T, ParseError> {
    let value: serde_json::Value = if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| ParseError::Syntax {
            origin: origin.to_owned(),
            message: e.to_string(),
        })?
    } else {
        serde_yaml_ng::from_str(text).map_err(|e| ParseError::Syntax {
            origin: origin.to_owned(),
            message: e.to_string(),
        })?
    };
    serde_path_to_error::deserialize(value)
        .map_err(|e| shape_error(origin, e.path().to_string(), e.into_inner().to_string()))
}

fn shape_error(origin: &str, path: String, message: String) -> ParseError {
    let path = if path == "." {
        "(document)".to_owned()
    } else {
        path
    };
    ParseError::Shape {
        origin: origin.to_owned(),
        path,
        message: tidy(&message),
    }
}

fn tidy(message: &str) -> String {
    message.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_field_names_its_path() {
        let text = "plan:\n  id: p\n  name: P\n  waves:\n    - name: W\n      groups:\n        - group: g\n          dependOn: []\n";
        let err = plan_document(text, "plan.yaml").unwrap_err();
        assert_eq!(
            err.path(),
            Some("plan.waves[0].groups[0].dependOn"),
            "{err}"
        );
        assert!(err.to_string().contains("dependOn"), "{err}");
    }

    #[test]
    fn json_type_errors_name_their_path() {
        let text = r#"{"plan": {"id": "p", "name": "P", "waves": [{"name": 5, "groups": []}]}}"#;
        let err = plan_document(text, "plan.json").unwrap_err();
        assert_eq!(err.path(), Some("plan.waves[0].name"), "{err}");
    }

    #[test]
    fn bad_duration_is_quoted() {
        let text =
            "plan:\n  id: p\n  name: P\n  defaults: {launchTimeout: 5 minutes}\n  waves: []\n";
        let err = plan_document(text, "plan.yaml").unwrap_err();
        assert!(err.to_string().contains("`5 minutes`"), "{err}");
        assert_eq!(err.path(), Some("plan.defaults.launchTimeout"));
    }

    #[test]
    fn yaml_written_is_yaml_read() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/three-tier.yaml"
        ))
        .unwrap();
        let doc = plan_document(&text, "three-tier").unwrap();
        let again = plan_document(&to_yaml(&doc).unwrap(), "round trip").unwrap();
        assert_eq!(doc, again);
    }

    #[test]
    fn syntax_errors_are_reported_without_panicking() {
        for text in ["plan: [", "{\"plan\": ", "\u{0}", ": :", "- - -"] {
            assert!(plan_document(text, "x").is_err());
        }
    }
}
