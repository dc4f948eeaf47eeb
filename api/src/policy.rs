//! The route × role table, enforced in one place: a middleware that authenticates the
//! caller and checks the table before any handler runs.

use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::error::ApiError;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Who may call a route. `None`: anyone, signed in or not.
pub struct Rule {
    pub method: Method,
    pub path: &'static str,
    pub roles: Option<&'static [Role]>,
}

const EVERYONE: &[Role] = &Role::ALL;
const AUTHORS: &[Role] = &[Role::Admin, Role::PlanAuthor];
const OPERATORS: &[Role] = &[Role::Admin, Role::Operator];
const APPROVERS: &[Role] = &[Role::Admin, Role::Approver];

pub fn rules() -> Vec<Rule> {
    let rule = |method: Method, path: &'static str, roles: Option<&'static [Role]>| Rule {
        method,
        path,
        roles,
    };
    vec![
        rule(Method::GET, "/api/health", None),
        rule(Method::GET, "/api/me", Some(EVERYONE)),
        rule(Method::GET, "/api/source-servers", Some(EVERYONE)),
        rule(Method::GET, "/api/protection-groups", Some(EVERYONE)),
        rule(Method::POST, "/api/protection-groups", Some(AUTHORS)),
        rule(
            Method::POST,
            "/api/protection-groups/preview",
            Some(AUTHORS),
        ),
        rule(Method::GET, "/api/protection-groups/{id}", Some(EVERYONE)),
        rule(Method::PUT, "/api/protection-groups/{id}", Some(AUTHORS)),
        rule(Method::DELETE, "/api/protection-groups/{id}", Some(AUTHORS)),
        rule(Method::GET, "/api/plans", Some(EVERYONE)),
        rule(Method::POST, "/api/plans", Some(AUTHORS)),
        rule(Method::POST, "/api/plans/import", Some(AUTHORS)),
        rule(Method::GET, "/api/plans/{id}", Some(EVERYONE)),
        rule(Method::PUT, "/api/plans/{id}", Some(AUTHORS)),
        rule(Method::DELETE, "/api/plans/{id}", Some(AUTHORS)),
        rule(Method::GET, "/api/plans/{id}/versions", Some(EVERYONE)),
        rule(Method::GET, "/api/plans/{id}/asl", Some(EVERYONE)),
        rule(Method::GET, "/api/plans/{id}/graph", Some(EVERYONE)),
        rule(Method::GET, "/api/plans/{id}/export", Some(EVERYONE)),
        rule(Method::GET, "/api/plans/{id}/preflight", Some(EVERYONE)),
        rule(
            Method::POST,
            "/api/plans/{id}/launch-settings",
            Some(AUTHORS),
        ),
        rule(Method::POST, "/api/plans/{id}/executions", Some(OPERATORS)),
        rule(Method::GET, "/api/executions", Some(EVERYONE)),
        rule(Method::GET, "/api/executions/{id}", Some(EVERYONE)),
        rule(
            Method::GET,
            "/api/executions/{id}/steps/{key}/logs",
            Some(EVERYONE),
        ),
        rule(
            Method::GET,
            "/api/executions/{id}/instances",
            Some(EVERYONE),
        ),
        rule(Method::GET, "/api/executions/{id}/servers", Some(EVERYONE)),
        rule(Method::POST, "/api/executions/{id}/cancel", Some(OPERATORS)),
        rule(
            Method::POST,
            "/api/executions/{id}/cleanup",
            Some(OPERATORS),
        ),
        rule(Method::POST, "/api/executions/{id}/rerun", Some(OPERATORS)),
        rule(Method::POST, "/api/executions/{id}/pause", Some(OPERATORS)),
        rule(Method::POST, "/api/executions/{id}/resume", Some(OPERATORS)),
        rule(Method::GET, "/api/approvals", Some(APPROVERS)),
        rule(Method::GET, "/api/approvals/{id}", Some(EVERYONE)),
        rule(Method::POST, "/api/approvals/{id}", Some(APPROVERS)),
    ]
}

fn bearer(request: &Request) -> Option<&str> {
    let value = request.headers().get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The rule for `method` on `path`: `HEAD` has exactly the rights of `GET` (axum answers
/// it with the GET handler); every other method needs its own rule.
pub fn rule_for<'a>(rules: &'a [Rule], method: &Method, path: &str) -> Option<&'a Rule> {
    let method = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    rules.iter().find(|r| r.path == path && r.method == *method)
}

/// The methods a route has, for a 405's `Allow` header.
pub fn allowed_methods(rules: &[Rule], path: &str) -> Vec<Method> {
    let mut methods: Vec<Method> = rules
        .iter()
        .filter(|r| r.path == path)
        .map(|r| r.method.clone())
        .collect();
    if methods.contains(&Method::GET) {
        methods.push(Method::HEAD);
    }
    methods
}

fn method_not_allowed(method: &Method, path: &str, allowed: &[Method]) -> Response {
    let list: Vec<&str> = allowed.iter().map(Method::as_str).collect();
    let mut response = ApiError::new_method_not_allowed(format!(
        "{method} is not a method of {path}; it has {}",
        list.join(", ")
    ))
    .into_response();
    if let Ok(value) = axum::http::HeaderValue::from_str(&list.join(", ")) {
        response
            .headers_mut()
            .insert(axum::http::header::ALLOW, value);
    }
    response
}

/// Authenticates and authorizes by the table, by route *and* method, denying by default:
/// a method without a rule is a 405 before any handler or token check; a route without
/// rules is refused. Puts the `Principal` in the request.
pub async fn enforce(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let Some(path) = path else {
        // No route matched: the fallback answers 404 and runs no handler.
        return next.run(request).await;
    };
    let method = request.method().clone();
    let Some(rule) = rule_for(&state.rules, &method, &path) else {
        let allowed = allowed_methods(&state.rules, &path);
        if allowed.is_empty() {
            // A route without a rule is a bug; refuse rather than serve it open.
            return ApiError::forbidden(format!("{path} has no access rule")).into_response();
        }
        return method_not_allowed(&method, &path, &allowed);
    };
    let Some(roles) = rule.roles else {
        return next.run(request).await;
    };
    let Some(token) = bearer(&request) else {
        return ApiError::unauthorized("sign in: send `Authorization: Bearer <token>`")
            .into_response();
    };
    let principal: Principal = match state.auth.authenticate(token).await {
        Ok(p) => p,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if !roles.iter().any(|r| principal.roles.contains(r)) {
        let need: Vec<&str> = roles.iter().map(|r| r.name()).collect();
        return ApiError::forbidden(format!(
            "{method} {path} needs one of the groups {}; `{}` is in none of them",
            need.join(", "),
            principal.user
        ))
        .into_response();
    }
    if let Some(slot) = request.extensions().get::<crate::app::PrincipalSlot>()
        && let Ok(mut guard) = slot.0.lock()
    {
        *guard = Some(principal.clone());
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The OpenAPI document names exactly the routes of the table, and marks exactly the
    /// public ones as needing no token.
    #[test]
    fn openapi_document_matches_the_route_table() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../openapi.json")).expect("openapi.json is JSON");
        let mut documented = BTreeSet::new();
        let mut public = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                let key = (method.to_uppercase(), path.clone());
                if op.get("security") == Some(&serde_json::json!([])) {
                    public.insert(key.clone());
                }
                documented.insert(key);
            }
        }
        let table: BTreeSet<(String, String)> = rules()
            .iter()
            .map(|r| (r.method.as_str().to_owned(), r.path.to_owned()))
            .collect();
        let table_public: BTreeSet<(String, String)> = rules()
            .iter()
            .filter(|r| r.roles.is_none())
            .map(|r| (r.method.as_str().to_owned(), r.path.to_owned()))
            .collect();
        assert_eq!(documented, table, "openapi.json and policy::rules() differ");
        assert_eq!(public, table_public);
    }
}
