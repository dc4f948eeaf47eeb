//! Local sign-in for the SPA: user name and password to the emulator's Cognito
//! (USER_PASSWORD_AUTH), through the site's origin, since the emulator has no managed
//! login pages; and its renewal, the refresh token to the same Cognito
//! (REFRESH_TOKEN_AUTH), so a session outlasts its access token. In AWS the SPA uses
//! managed login (code flow with PKCE) and its token endpoint instead.
//!
//! Repeated failures are throttled, per user name and per client address: after
//! [`Limits::per_user`] failures for one user name (or [`Limits::per_address`] from one
//! address) every sign-in of that name (address) is answered 429 with `Retry-After` for
//! a second, then twice as long after each further failure, up to five minutes. The
//! password is not even checked while throttled, so the answer tells nothing about it.
//! A success clears the user name's failures, never the address's; failures are
//! forgotten after fifteen quiet minutes. A refused refresh token counts as a failure of
//! its address (a refresh token names no user), in the same count as sign-ins.
//!
//! moto issues every access token for an hour, whatever the app client's
//! `AccessTokenValidity` says. To check sessions older than a token without waiting an
//! hour, [`Reissue`] (local mode's `--test-token-lifetime`, for tests only) hands out
//! the emulator's tokens with a shorter `exp`, signed again with the key the emulator's
//! pool signs with: the API checks them as any other, and refuses them once expired.

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
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct SignIn {
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    pub client_id: String,
    /// Shared by sign-ins and refreshes.
    pub throttle: Throttle,
    /// Tests only: access tokens with a shorter lifetime than the emulator's hour.
    pub reissue: Option<Reissue>,
}

#[derive(Deserialize)]
pub struct Credentials {
    username: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Renewal {
    refresh_token: String,
}

/// Cognito's own limit on user names.
const MAX_USER_NAME: usize = 128;
/// Cognito's refresh tokens are about 1,800 characters; anything far longer is not one.
const MAX_REFRESH_TOKEN: usize = 8_192;

/// Tests only: access tokens that expire `lifetime` after they were issued, instead of the
/// emulator's hour (moto ignores the app client's `AccessTokenValidity`). The token the
/// emulator issued is checked against the emulator's own key, its `exp` moved, and it is
/// signed again with that key (moto ships it: every moto pool signs with it, key id
/// `dummy`), by the venv's Python, which has the JOSE library moto uses.
#[derive(Debug, Clone)]
pub struct Reissue {
    pub lifetime: Duration,
    /// The venv's `python` (it has moto and joserfc).
    pub python: PathBuf,
}

const REISSUE: &str = r#"
import gzip, importlib.util, json, os, sys
from joserfc import jwk, jwt
moto = importlib.util.find_spec("moto").submodule_search_locations[0]
with gzip.open(os.path.join(moto, "cognitoidp", "resources", "jwks-private.json.gz")) as f:
    key = jwk.RSAKey.import_key(json.load(f))
issued = jwt.decode(sys.stdin.read().strip(), key)
claims = dict(issued.claims)
claims["exp"] = int(claims["iat"]) + int(sys.argv[1])
print(jwt.encode(issued.header, claims, key))
"#;

impl Reissue {
    /// The emulator's access token with `exp` = `iat` + the lifetime.
    pub async fn apply(&self, token: &str) -> Result<String, String> {
        use tokio::io::AsyncWriteExt;
        let mut child = tokio::process::Command::new(&self.python)
            .arg("-c")
            .arg(REISSUE)
            .arg(self.lifetime.as_secs().to_string())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("{}: {e}", self.python.display()))?;
        // On stdin: a token is never in a process list.
        let mut stdin = child.stdin.take().ok_or("no stdin")?;
        stdin
            .write_all(token.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        drop(stdin);
        let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
            .await
            .map_err(|_| "re-signing took over 20 s".to_owned())?
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if !out.status.success() || text.split('.').count() != 3 {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(format!(
                "re-signing failed ({}): {}",
                out.status,
                err.lines().last().unwrap_or_default()
            ));
        }
        Ok(text)
    }
}

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

    /// How long this address must still wait, if it must (a refresh names no user).
    pub fn wait_address(&self, address: IpAddr) -> Option<Duration> {
        remaining(self.counts().addresses.get(&address), Instant::now())
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

    /// A failure that names no user (a refused refresh token): counted for the address.
    pub fn failed_address(&self, address: IpAddr) {
        let now = Instant::now();
        let limits = self.limits;
        fail(
            &mut self.counts().addresses,
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

fn too_many(wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = answer(
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequests",
        &format!("too many failed sign-ins; try again in {seconds} s"),
    );
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn unavailable() -> Response {
    answer(
        StatusCode::SERVICE_UNAVAILABLE,
        "Unavailable",
        "the user pool did not answer; try again shortly",
    )
}

/// Cognito's tokens as the SPA takes them (the access token re-issued when asked).
async fn tokens(
    state: &SignIn,
    tokens: aws_sdk_cognitoidentityprovider::types::AuthenticationResultType,
) -> Response {
    let (access, expires_in) = match (&state.reissue, tokens.access_token) {
        (_, None) => return unavailable(),
        (None, Some(token)) => (token, i64::from(tokens.expires_in)),
        (Some(reissue), Some(token)) => match reissue.apply(&token).await {
            Ok(token) => (
                token,
                i64::try_from(reissue.lifetime.as_secs()).unwrap_or(i64::MAX),
            ),
            Err(error) => {
                tracing::warn!(%error, "local sign-in: shortening the access token failed");
                return unavailable();
            }
        },
    };
    let body: Value = json!({
        "AccessToken": access,
        "RefreshToken": tokens.refresh_token,
        "ExpiresIn": expires_in,
    });
    (StatusCode::OK, Json(body)).into_response()
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
        return too_many(wait);
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
            self::tokens(&state, tokens).await
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
                unavailable()
            }
        },
    }
}

/// `POST /_local/refresh` `{"refreshToken"}` → a new access token (REFRESH_TOKEN_AUTH);
/// the refresh token stays the same (answered again only if Cognito sends a new one).
/// A refresh token Cognito refuses (revoked, expired, from another pool) is a 401 and a
/// failure of the address; while the address is throttled nothing is asked of Cognito.
pub async fn refresh(
    State(state): State<Arc<SignIn>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<Renewal>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(renewal)) = body else {
        return answer(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "send {\"refreshToken\": …}",
        );
    };
    if renewal.refresh_token.is_empty() || renewal.refresh_token.len() > MAX_REFRESH_TOKEN {
        return answer(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "the refresh token must have 1 to 8,192 characters",
        );
    }
    let address = peer.ip();
    if let Some(wait) = state.throttle.wait_address(address) {
        return too_many(wait);
    }
    let result = state
        .cognito
        .initiate_auth()
        .client_id(&state.client_id)
        .auth_flow(AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", &renewal.refresh_token)
        .send()
        .await;
    match result {
        Ok(out) => match out.authentication_result {
            Some(tokens) => self::tokens(&state, tokens).await,
            None => unavailable(),
        },
        Err(e) => match e.into_service_error() {
            InitiateAuthError::NotAuthorizedException(_)
            | InitiateAuthError::UserNotFoundException(_)
            | InitiateAuthError::PasswordResetRequiredException(_)
            | InitiateAuthError::UserNotConfirmedException(_) => {
                state.throttle.failed_address(address);
                answer(
                    StatusCode::UNAUTHORIZED,
                    "SessionEnded",
                    "the session has ended (its refresh token is no longer accepted); sign in again",
                )
            }
            other => {
                tracing::warn!(error = ?other, "local refresh: the emulator's Cognito failed");
                unavailable()
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
        if request["AuthFlow"] == "REFRESH_TOKEN_AUTH" {
            return if request["AuthParameters"]["REFRESH_TOKEN"] == "refresh" {
                (
                    StatusCode::OK,
                    Json(json!({"AuthenticationResult": {
                        "AccessToken": "renewed", "ExpiresIn": 3600, "TokenType": "Bearer"}})),
                )
                    .into_response()
            } else {
                (
                    StatusCode::BAD_REQUEST,
                    [("content-type", "application/x-amz-json-1.1")],
                    r#"{"__type":"NotAuthorizedException","message":"Refresh Token has been revoked"}"#,
                )
                    .into_response()
            };
        }
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
            reissue: None,
        });
        listen(
            Router::new()
                .route("/_local/sign-in", post(sign_in))
                .route("/_local/refresh", post(refresh))
                .with_state(state),
        )
        .await
    }

    async fn try_refresh(url: &str, token: &str) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(format!("{url}/_local/refresh"))
            .header("content-type", "application/json")
            .body(json!({"refreshToken": token}).to_string())
            .send()
            .await
            .expect("refresh answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or_default())
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

    #[tokio::test]
    async fn a_refresh_token_renews_the_access_token_and_keeps_the_refresh_token() {
        let url = start(Limits::default()).await;
        let (status, body) = try_refresh(&url, "refresh").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["AccessToken"], "renewed");
        assert_eq!(body["ExpiresIn"], 3600);
        // Cognito sent no new refresh token: the SPA keeps its own.
        assert_eq!(body["RefreshToken"], Value::Null);
    }

    #[tokio::test]
    async fn refused_refresh_tokens_count_with_failed_sign_ins_of_the_address() {
        let url = start(Limits {
            per_address: 4,
            ..Limits::default()
        })
        .await;
        let (status, body) = try_refresh(&url, "revoked").await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("SessionEnded"))
        );
        assert_eq!(try_sign_in(&url, "dave", "wrong").await.0, 401);
        assert_eq!(try_refresh(&url, "guessed-1").await.0, 401);
        assert_eq!(try_refresh(&url, "guessed-2").await.0, 401); // the 4th failure
        // Now the address waits, for refreshes and sign-ins alike, right or wrong.
        assert_eq!(try_refresh(&url, "refresh").await.0, 429);
        assert_eq!(try_sign_in(&url, "erin", RIGHT).await.0, 429);
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        assert_eq!(try_refresh(&url, "refresh").await.0, 200);
    }

    #[tokio::test]
    async fn malformed_refreshes_are_refused_without_counting() {
        let url = start(Limits {
            per_address: 2,
            ..Limits::default()
        })
        .await;
        for token in ["", &"x".repeat(MAX_REFRESH_TOKEN + 1)] {
            for _ in 0..3 {
                assert_eq!(try_refresh(&url, token).await.0, 400);
            }
        }
        let response = reqwest::Client::new()
            .post(format!("{url}/_local/refresh"))
            .header("content-type", "application/json")
            .body(r#"{"token": "refresh"}"#)
            .send()
            .await
            .expect("refresh answers");
        assert_eq!(response.status().as_u16(), 400);
        assert_eq!(try_refresh(&url, "refresh").await.0, 200);
    }

    /// The JSON of a JWT's payload.
    fn payload(token: &str) -> Value {
        let part = token.split('.').nth(1).unwrap_or_default();
        let mut bits = 0u32;
        let mut count = 0;
        let mut bytes = Vec::new();
        for c in part.bytes() {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'-' => 62,
                b'_' => 63,
                _ => continue,
            };
            bits = (bits << 6) | u32::from(v);
            count += 6;
            if count >= 8 {
                count -= 8;
                bytes.push((bits >> count) as u8);
                bits &= (1 << count) - 1;
            }
        }
        serde_json::from_slice(&bytes).unwrap_or_default()
    }

    /// With the venv (tests/run.sh makes it): a token signed with the emulator's key gets
    /// its new lifetime, signed again; a token signed otherwise is refused.
    #[tokio::test]
    async fn reissue_shortens_the_emulators_tokens_only() {
        let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
        if !python.exists() {
            eprintln!("skipped: no {}", python.display());
            return;
        }
        let minted = std::process::Command::new(&python)
            .arg("-c")
            .arg(concat!(
                "import gzip, importlib.util, json, os, time\n",
                "from joserfc import jwk, jwt\n",
                "m = importlib.util.find_spec('moto').submodule_search_locations[0]\n",
                "key = jwk.RSAKey.import_key(json.load(gzip.open(os.path.join(m, 'cognitoidp', 'resources', 'jwks-private.json.gz'))))\n",
                "now = int(time.time())\n",
                "print(jwt.encode({'alg': 'RS256', 'kid': 'dummy'}, {'sub': 's', 'username': 'u', 'token_use': 'access', 'iat': now, 'exp': now + 3600}, key))\n",
            ))
            .output()
            .expect("python runs");
        let token = String::from_utf8_lossy(&minted.stdout).trim().to_owned();
        let reissue = Reissue {
            lifetime: Duration::from_secs(20),
            python,
        };
        let short = reissue.apply(&token).await.expect("re-signed");
        let (before, after) = (payload(&token), payload(&short));
        assert_eq!(
            after["exp"].as_i64(),
            before["iat"].as_i64().map(|t| t + 20)
        );
        assert_eq!(
            (&after["sub"], &after["username"]),
            (&before["sub"], &before["username"])
        );
        let mut forged = short.clone();
        forged.truncate(short.len() - 4);
        forged.push_str("AAAA");
        assert!(reissue.apply(&forged).await.is_err());
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
