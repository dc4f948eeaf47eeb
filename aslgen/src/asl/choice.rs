//! Choice rules: comparisons over a variable, combined with And / Or / Not.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    StringEquals(String, String),
    StringEqualsPath(String, String),
    BooleanEquals(String, bool),
    NumericGreaterThanEquals(String, i64),
    NumericLessThan(String, i64),
    NumericEqualsPath(String, String),
    NumericGreaterThanEqualsPath(String, String),
    TimestampGreaterThanEqualsPath(String, String),
    IsPresent(String, bool),
    IsNumeric(String, bool),
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
}

impl Condition {
    fn write<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        match self {
            Condition::StringEquals(v, x) => variable(map, v, "StringEquals", x),
            Condition::StringEqualsPath(v, x) => variable(map, v, "StringEqualsPath", x),
            Condition::BooleanEquals(v, x) => variable(map, v, "BooleanEquals", x),
            Condition::NumericGreaterThanEquals(v, x) => {
                variable(map, v, "NumericGreaterThanEquals", x)
            }
            Condition::NumericLessThan(v, x) => variable(map, v, "NumericLessThan", x),
            Condition::NumericEqualsPath(v, x) => variable(map, v, "NumericEqualsPath", x),
            Condition::NumericGreaterThanEqualsPath(v, x) => {
                variable(map, v, "NumericGreaterThanEqualsPath", x)
            }
            Condition::TimestampGreaterThanEqualsPath(v, x) => {
                variable(map, v, "TimestampGreaterThanEqualsPath", x)
            }
            Condition::IsPresent(v, x) => variable(map, v, "IsPresent", x),
            Condition::IsNumeric(v, x) => variable(map, v, "IsNumeric", x),
            Condition::And(items) => map.serialize_entry("And", &Nested(items)),
            Condition::Or(items) => map.serialize_entry("Or", &Nested(items)),
            Condition::Not(inner) => map.serialize_entry("Not", &Bare(inner)),
        }
    }
}

fn variable<M: SerializeMap, T: Serialize>(
    map: &mut M,
    variable: &str,
    op: &str,
    value: &T,
) -> Result<(), M::Error> {
    map.serialize_entry("Variable", variable)?;
    map.serialize_entry(op, value)
}

struct Bare<'a>(&'a Condition);

impl Serialize for Bare<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        self.0.write(&mut map)?;
        map.end()
    }
}

struct Nested<'a>(&'a [Condition]);

impl Serialize for Nested<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(Bare))
    }
}

/// A top-level rule: a condition and where it leads.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceRule {
    pub condition: Condition,
    pub next: String,
}

impl ChoiceRule {
    pub fn new(condition: Condition, next: impl Into<String>) -> Self {
        Self {
            condition,
            next: next.into(),
        }
    }
}

impl Serialize for ChoiceRule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        self.condition.write(&mut map)?;
        map.serialize_entry("Next", &self.next)?;
        map.end()
    }
}
