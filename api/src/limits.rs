//! What one request may cost: bodies, plan sizes, nesting, lists. Every limit is checked
//! before the work it guards, and a request past one is told which and by how much.

use crate::error::{ApiError, Detail};
use axum::http::StatusCode;
use serde_json::Value;

/// The largest request body the API reads.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The largest plan stored (as JSON): each version is one DynamoDB item (400 KB).
pub const MAX_PLAN_BYTES: usize = 256 * 1024;
/// How deep a plan file may nest (a real plan nests about 8 levels).
pub const MAX_NESTING: usize = 64;

/// A body the extractor refused: too large is a 413, the wrong media type a 415,
/// anything else (not JSON, not the expected shape) a 400.
pub fn body_rejection(status: StatusCode, text: String) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(format!(
            "the request body is larger than {} KB",
            MAX_BODY_BYTES / 1024
        )),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::unsupported_media_type(text),
        _ => ApiError::bad_request(text),
    }
}

pub fn check_plan_size(plan: &Value) -> Result<(), ApiError> {
    let bytes = plan.to_string().len();
    if bytes > MAX_PLAN_BYTES {
        return Err(ApiError {
            details: vec![Detail {
                path: "plan".into(),
                message: format!(
                    "{} KB as JSON; at most {} KB",
                    bytes.div_ceil(1024),
                    MAX_PLAN_BYTES / 1024
                ),
            }],
            ..ApiError::too_large("the plan is too large to store")
        });
    }
    Ok(())
}

/// The plan's shape within aslgen's limits (waves, groups per wave), checked before any
/// group is read: a wave naming 50,000 groups is refused at once, not after 50,000 reads.
pub fn check_plan_shape(plan: &Value) -> Result<(), ApiError> {
    let waves = plan["waves"].as_array().map_or(&[][..], Vec::as_slice);
    let mut details = Vec::new();
    if waves.len() > aslgen::validate::MAX_WAVES {
        details.push(Detail {
            path: "plan.waves".into(),
            message: format!(
                "{} waves; at most {}",
                waves.len(),
                aslgen::validate::MAX_WAVES
            ),
        });
    }
    for (i, wave) in waves.iter().enumerate().take(aslgen::validate::MAX_WAVES) {
        let groups = wave["groups"].as_array().map_or(0, Vec::len);
        if groups > aslgen::validate::MAX_GROUPS_PER_WAVE {
            details.push(Detail {
                path: format!("plan.waves[{i}].groups"),
                message: format!(
                    "{groups} groups; at most {} in a wave",
                    aslgen::validate::MAX_GROUPS_PER_WAVE
                ),
            });
        }
    }
    if details.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "the plan is larger than a plan may be",
            details,
        ))
    }
}

/// How deep a YAML or JSON text nests, read in one pass without parsing: brackets and
/// braces outside quotes, and indentation (a level per two columns). Parsers are slow
/// on pathological nesting; this refuses it first.
pub fn check_nesting(text: &str) -> Result<(), ApiError> {
    let mut depth: usize = 0;
    let mut deepest: usize = 0;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for line in text.lines() {
        let indent = line.chars().take_while(|c| *c == ' ').count();
        deepest = deepest.max(indent / 2);
        for c in line.chars() {
            if let Some(q) = quote {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
                continue;
            }
            match c {
                '"' | '\'' => quote = Some(c),
                '#' => break,
                '[' | '{' => {
                    depth += 1;
                    deepest = deepest.max(depth + indent / 2);
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        // A YAML single-quoted scalar does not span lines in plan files; a stray quote
        // must not hide the rest of the text from the count.
        if quote == Some('\'') {
            quote = None;
        }
    }
    if deepest > MAX_NESTING {
        return Err(ApiError::invalid(
            "the plan file nests too deeply",
            vec![Detail {
                path: "(document)".into(),
                message: format!("nests {deepest} levels; at most {MAX_NESTING}"),
            }],
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nesting_counts_brackets_and_indentation_not_quoted_text() {
        assert!(check_nesting("plan:\n  waves:\n    - name: a\n").is_ok());
        let deep = "[".repeat(10_000);
        let e = check_nesting(&deep).expect_err("too deep");
        assert!(e.details[0].message.contains("10000 levels"), "{e:?}");
        assert!(check_nesting(&format!("name: \"{deep}\"")).is_ok());
        let indented: String = (0..100)
            .map(|i| format!("{}a:\n", " ".repeat(i * 2)))
            .collect();
        assert!(check_nesting(&indented).is_err());
    }

    #[test]
    fn plan_shape_is_refused_before_reading_groups() {
        let groups: Vec<Value> = (0..50_000)
            .map(|i| json!({"group": format!("g{i}")}))
            .collect();
        let plan = json!({"waves": [{"name": "w", "groups": groups}]});
        let e = check_plan_shape(&plan).expect_err("too many groups");
        assert_eq!(e.details[0].path, "plan.waves[0].groups");
        assert!(check_plan_size(&plan).is_err());
        assert!(check_plan_shape(&json!({"waves": []})).is_ok());
    }
}
