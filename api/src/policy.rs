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
        rule(Method::POST, "/api/executions/{id}/cancel", Some(OPERATORS)),
        rule(
            Method::POST,
            "/api/executions/{id}/cleanup",
            Some(OPERATORS),
        ),
        rule(
            Method::POST,
            "/api/executions/{id}/redrive",
            Some(OPERATORS),
        ),
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

/// Authenticates and authorizes by the table; puts the `Principal` in the request.
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
        return next.run(request).await;
    };
    let method = request.method().clone();
    let Some(rule) = state
        .rules
        .iter()
        .find(|r| r.path == path && r.method == method)
    else {
        if state.rules.iter().any(|r| r.path == path) {
            // A method the route does not have: the router answers 405 without a handler.
            return next.run(request).await;
        }
        // A route without a rule is a bug; refuse rather than serve it open.
        return ApiError::forbidden(format!("{method} {path} has no access rule")).into_response();
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
        Err(e) => return ApiError::unauthorized(e.to_string()).into_response(),
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
