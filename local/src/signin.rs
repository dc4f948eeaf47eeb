//! Local sign-in for the SPA: user name and password to the emulator's Cognito
//! (USER_PASSWORD_AUTH), through the site's origin, since the emulator has no managed
//! login pages. In AWS the SPA uses managed login (code flow with PKCE) instead.
//!
//! Repeated failures are throttled, per user name and per client address: after
//! [`Limits::per_user`] failures for one user name (or [`Limits::per_address`] from one
//! address) every sign-in of that name (address) is answered 429 with `Retry-After` for
//! a second, then twice as long after each further failure, up to five minutes. The
//! password is not even checked while throttled, so the answer tells nothing about it.
//! A success clears the user name's failures, never the address's; failures are
//! forgotten after fifteen quiet minutes.

use aws_sdk_cognitoidentityprovider::operation::initiate_auth::InitiateAuthError;
use aws_sdk_cognitoidentityprovider::types::AuthFlowType;
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct SignIn {
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    pub client_id: String,
    pub throttle: Throttle,
}

#[derive(Deserialize)]
pub struct Credentials {
    username: String,
    password: String,
}

/// Cognito's own limit on user names.
const MAX_USER_NAME: usize = 128;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Failures of one user name before it is throttled.
    pub per_user: u32,
    /// Failures from one client address (any user names) before it is throttled.
    pub per_address: u32,
    /// The first wait; it doubles with each further failure.
    pub first_wait: Duration,
    pub longest_wait: Duration,
    /// Failures older than this (with no failure since) are forgotten.
    pub forget_after: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_user: 5,
            per_address: 20,
            first_wait: Duration::from_secs(1),
            longest_wait: Duration::from_secs(300),
            forget_after: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    blocked_until: Option<Instant>,
}

/// Entries kept at most per map; beyond it the oldest quiet ones are dropped first.
const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
struct Counts {
    users: HashMap<String, Failures>,
    addresses: HashMap<IpAddr, Failures>,
}

/// Failed sign-ins per user name and per client address.
#[derive(Default)]
pub struct Throttle {
    limits: Limits,
    counts: Mutex<Counts>,
}

fn remaining(entry: Option<&Failures>, now: Instant) -> Option<Duration> {
    entry
        .and_then(|f| f.blocked_until)
        .filter(|until| *until > now)
        .map(|until| until - now)
}

fn fail<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, Failures>,
    key: K,
    limit: u32,
    limits: &Limits,
    now: Instant,
) {
    if map.len() >= MAX_ENTRIES {
        map.retain(|_, f| {
            now.duration_since(f.last) < limits.forget_after || remaining(Some(f), now).is_some()
        });
    }
    if map.len() >= MAX_ENTRIES && !map.contains_key(&key) {
        // Still full of recent failures: the address limit still applies.
        return;
    }
    let entry = map.entry(key).or_insert(Failures {
        count: 0,
        last: now,
        blocked_until: None,
    });
    if now.duration_since(entry.last) >= limits.forget_after {
        entry.count = 0;
    }
    entry.count = entry.count.saturating_add(1);
    entry.last = now;
    if entry.count >= limit {
        let doublings = (entry.count - limit).min(20);
        let wait = limits
            .first_wait
            .saturating_mul(1 << doublings)
            .min(limits.longest_wait);
        entry.blocked_until = Some(now + wait);
    }
}

impl Throttle {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            counts: Mutex::default(),
        }
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long this user name or address must still wait, if it must.
    pub fn wait(&self, user: &str, address: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        let counts = self.counts();
        let user = remaining(counts.users.get(&user.to_lowercase()), now);
        let address = remaining(counts.addresses.get(&address), now);
        user.max(address)
    }

    pub fn failed(&self, user: &str, address: IpAddr) {
        let now = Instant::now();
        let limits = self.limits;
        let mut counts = self.counts();
        fail(
            &mut counts.users,
            user.to_lowercase(),
            limits.per_user,
            &limits,
            now,
        );
        fail(
            &mut counts.addresses,
            address,
            limits.per_address,
            &limits,
            now,
        );
    }

    pub fn succeeded(&self, user: &str) {
        self.counts().users.remove(&user.to_lowercase());
    }
}

fn answer(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"error": code, "message": message}))).into_response()
}

/// `POST /_local/sign-in` `{"username", "password"}` → Cognito's tokens.
pub async fn sign_in(
    State(state): State<Arc<SignIn>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<Credentials>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(credentials)) = body else {
        return answer(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "send {\"username\": …, \"password\": …}",
        );
    };
    if credentials.username.is_empty() || credentials.username.chars().count() > MAX_USER_NAME {
        return answer(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "the user name must have 1 to 128 characters",
        );
    }
    let address = peer.ip();
    if let Some(wait) = state.throttle.wait(&credentials.username, address) {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let mut response = answer(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            &format!("too many failed sign-ins; try again in {seconds} s"),
        );
        if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    let result = state
        .cognito
        .initiate_auth()
        .client_id(&state.client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", &credentials.username)
        .auth_parameters("PASSWORD", &credentials.password)
        .send()
        .await;
    match result {
        Ok(out) => {
            let Some(tokens) = out.authentication_result else {
                // A challenge (new password, MFA) that local mode's demo users never get.
                return answer(
                    StatusCode::UNAUTHORIZED,
                    "Unauthorized",
                    "this user cannot sign in with a password here",
                );
            };
            state.throttle.succeeded(&credentials.username);
            let body: Value = json!({
                "AccessToken": tokens.access_token,
                "RefreshToken": tokens.refresh_token,
                "ExpiresIn": tokens.expires_in,
            });
            (StatusCode::OK, Json(body)).into_response()
        }
        Err(e) => match e.into_service_error() {
            InitiateAuthError::NotAuthorizedException(_)
            | InitiateAuthError::UserNotFoundException(_)
            | InitiateAuthError::PasswordResetRequiredException(_)
            | InitiateAuthError::UserNotConfirmedException(_) => {
                state.throttle.failed(&credentials.username, address);
                answer(
                    StatusCode::UNAUTHORIZED,
                    "Unauthorized",
                    "wrong user name or password",
                )
            }
            other => {
                tracing::warn!(error = ?other, "local sign-in: the emulator's Cognito failed");
                answer(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Unavailable",
                    "the user pool did not answer; try again shortly",
                )
            }
        },
    }
}

#[cfg(test)]
mod tests {
    //! Over the wire: the sign-in route on 127.0.0.1 in front of a stand-in Cognito
    //! (also on 127.0.0.1) that knows one password.
    use super::*;
    use axum::Router;
    use axum::routing::post;

    const RIGHT: &str = "right-Passw0rd!";

    async fn fake_cognito(body: String) -> Response {
        let request: Value = serde_json::from_str(&body).unwrap_or_default();
        if request["AuthParameters"]["PASSWORD"] == RIGHT {
            (
                StatusCode::OK,
                Json(json!({"AuthenticationResult": {
                    "AccessToken": "token", "RefreshToken": "refresh", "ExpiresIn": 3600,
                    "TokenType": "Bearer"}})),
            )
                .into_response()
        } else {
            (
                StatusCode::BAD_REQUEST,
                [("content-type", "application/x-amz-json-1.1")],
                r#"{"__type":"NotAuthorizedException","message":"Incorrect username or password."}"#,
            )
                .into_response()
        }
    }

    async fn listen(app: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        url
    }

    async fn start(limits: Limits) -> String {
        let cognito_url = listen(Router::new().fallback(post(fake_cognito))).await;
        let config = aws_sdk_cognitoidentityprovider::Config::builder()
            .behavior_version(aws_sdk_cognitoidentityprovider::config::BehaviorVersion::latest())
            .endpoint_url(cognito_url)
            .region(aws_sdk_cognitoidentityprovider::config::Region::new(
                "us-east-1",
            ))
            .credentials_provider(aws_sdk_cognitoidentityprovider::config::Credentials::new(
                "local", "local", None, None, "test",
            ))
            .build();
        let state = Arc::new(SignIn {
            cognito: aws_sdk_cognitoidentityprovider::Client::from_conf(config),
            client_id: "client".into(),
            throttle: Throttle::new(limits),
        });
        listen(
            Router::new()
                .route("/_local/sign-in", post(sign_in))
                .with_state(state),
        )
        .await
    }

    async fn try_sign_in(url: &str, user: &str, password: &str) -> (u16, Option<String>) {
        let response = reqwest::Client::new()
            .post(format!("{url}/_local/sign-in"))
            .header("content-type", "application/json")
            .body(json!({"username": user, "password": password}).to_string())
            .send()
            .await
            .expect("sign-in answers");
        let retry = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (response.status().as_u16(), retry)
    }

    #[tokio::test]
    async fn repeated_failures_of_one_user_are_throttled_and_others_still_sign_in() {
        let url = start(Limits::default()).await;
        for _ in 0..5 {
            assert_eq!(try_sign_in(&url, "alice", "wrong").await, (401, None));
        }
        let (status, retry) = try_sign_in(&url, "alice", "wrong").await;
        assert_eq!((status, retry.as_deref()), (429, Some("1")));
        // Even the right password waits: the answer must not tell it is right.
        assert_eq!(try_sign_in(&url, "Alice", RIGHT).await.0, 429);
        assert_eq!(try_sign_in(&url, "bob", RIGHT).await, (200, None));
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        assert_eq!(try_sign_in(&url, "alice", RIGHT).await.0, 200);
        // A success clears the user's failures.
        assert_eq!(try_sign_in(&url, "alice", "wrong").await.0, 401);
    }

    #[tokio::test]
    async fn the_wait_doubles_with_each_further_failure() {
        let url = start(Limits {
            first_wait: Duration::from_millis(200),
            ..Limits::default()
        })
        .await;
        for _ in 0..5 {
            try_sign_in(&url, "carol", "wrong").await;
        }
        assert_eq!(try_sign_in(&url, "carol", "wrong").await.0, 429);
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(try_sign_in(&url, "carol", "wrong").await.0, 401); // 6th failure: 400 ms
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(try_sign_in(&url, "carol", RIGHT).await.0, 429);
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(try_sign_in(&url, "carol", RIGHT).await.0, 200);
    }

    #[tokio::test]
    async fn many_user_names_from_one_address_throttle_the_address() {
        let url = start(Limits {
            per_address: 8,
            ..Limits::default()
        })
        .await;
        for n in 0..8 {
            assert_eq!(
                try_sign_in(&url, &format!("guess{n}"), "wrong").await.0,
                401
            );
        }
        let (status, retry) = try_sign_in(&url, "bob", RIGHT).await;
        assert_eq!((status, retry.as_deref()), (429, Some("1")));
    }

    #[tokio::test]
    async fn bad_requests_are_refused_without_counting() {
        let url = start(Limits::default()).await;
        let long = "x".repeat(129);
        for _ in 0..6 {
            assert_eq!(try_sign_in(&url, &long, "wrong").await.0, 400);
        }
        assert_eq!(try_sign_in(&url, "bob", RIGHT).await.0, 200);
    }

    #[test]
    fn the_maps_stay_bounded() {
        let throttle = Throttle::default();
        let address: IpAddr = [127, 0, 0, 1].into();
        for n in 0..(MAX_ENTRIES + 50) {
            throttle.failed(&format!("user{n}"), address);
        }
        assert!(throttle.counts().users.len() <= MAX_ENTRIES);
    }
}
