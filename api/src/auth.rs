//! Who is calling: Cognito JWTs verified here too (issuer, client, expiry, RS256
//! signature from the pool's JWKS), and roles from `cognito:groups`.

use async_trait::async_trait;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

/// The Cognito groups the product knows; every route names the ones it admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Admin,
    PlanAuthor,
    Operator,
    Approver,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::PlanAuthor,
        Role::Operator,
        Role::Approver,
        Role::Viewer,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "Admin",
            Role::PlanAuthor => "PlanAuthor",
            Role::Operator => "Operator",
            Role::Approver => "Approver",
            Role::Viewer => "Viewer",
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// A verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: String,
    pub roles: BTreeSet<Role>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the token is malformed: {0}")]
    Malformed(String),
    #[error("the token was not signed by a key of the user pool")]
    UnknownKey,
    #[error("the token is invalid: {0}")]
    Invalid(String),
    #[error("the token was issued for another app client")]
    WrongClient,
    #[error("the user pool's keys could not be fetched from {url}: {reason}")]
    Keys { url: String, reason: String },
    #[error("the user pool could not say who signed in: {0}")]
    Directory(String),
}

#[async_trait]
pub trait Authenticator: Send + Sync {
    async fn authenticate(&self, token: &str) -> Result<Principal, AuthError>;
}

#[derive(Debug, Deserialize)]
struct Claims {
    token_use: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default, rename = "cognito:username")]
    cognito_username: Option<String>,
    sub: String,
    #[serde(default, rename = "cognito:groups")]
    groups: Vec<String>,
}

/// Verifies Cognito access tokens (ID tokens are refused). The issuer and the JWKS URL are configured
/// separately: locally the keys are served by the emulator, not by Cognito's host.
pub struct CognitoJwt {
    issuer: String,
    client_id: String,
    jwks_url: String,
    http: reqwest::Client,
    keys: RwLock<Option<(Instant, JwkSet)>>,
    /// Emails for GUID user names (pools with email sign-in); none: user names as they are.
    names: Option<crate::directory::Names>,
}

/// How long fetched keys are trusted before an unknown key id may refetch them.
const KEYS_FRESH: Duration = Duration::from_secs(300);

impl CognitoJwt {
    pub fn new(issuer: &str, client_id: &str, jwks_url: &str, http: reqwest::Client) -> Self {
        Self {
            issuer: issuer.to_owned(),
            client_id: client_id.to_owned(),
            jwks_url: jwks_url.to_owned(),
            http,
            keys: RwLock::new(None),
            names: None,
        }
    }

    /// People shown by email where the pool's user names are GUIDs.
    pub fn with_names(mut self, names: crate::directory::Names) -> Self {
        self.names = Some(names);
        self
    }

    async fn fetch(&self) -> Result<JwkSet, AuthError> {
        let failed = |reason: String| AuthError::Keys {
            url: self.jwks_url.clone(),
            reason,
        };
        let response = self
            .http
            .get(&self.jwks_url)
            .send()
            .await
            .map_err(|e| failed(e.to_string()))?;
        if !response.status().is_success() {
            return Err(failed(format!("HTTP {}", response.status())));
        }
        let text = response.text().await.map_err(|e| failed(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| failed(e.to_string()))
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, AuthError> {
        {
            let cached = self.keys.read().await;
            if let Some((fetched, set)) = cached.as_ref() {
                if let Some(jwk) = set.find(kid) {
                    return DecodingKey::from_jwk(jwk)
                        .map_err(|e| AuthError::Invalid(e.to_string()));
                }
                if fetched.elapsed() < KEYS_FRESH {
                    return Err(AuthError::UnknownKey);
                }
            }
        }
        let set = self.fetch().await?;
        let key = set
            .find(kid)
            .map(DecodingKey::from_jwk)
            .transpose()
            .map_err(|e| AuthError::Invalid(e.to_string()))?;
        *self.keys.write().await = Some((Instant::now(), set));
        key.ok_or(AuthError::UnknownKey)
    }
}

#[async_trait]
impl Authenticator for CognitoJwt {
    async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        let header = decode_header(token).map_err(|e| AuthError::Malformed(e.to_string()))?;
        if header.alg != Algorithm::RS256 {
            return Err(AuthError::Invalid(format!(
                "algorithm {:?} is not RS256",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| AuthError::Malformed("no key id".into()))?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.validate_nbf = true;
        // Access tokens carry `client_id`, not `aud`; it is checked below.
        validation.validate_aud = false;
        let claims = decode::<Claims>(token, &key, &validation)
            .map_err(|e| AuthError::Invalid(e.to_string()))?
            .claims;
        // Only access tokens: an ID token proves who signed in to the app, not what the
        // API may be asked (and API Gateway's authorizer with scopes takes access tokens).
        if claims.token_use != "access" {
            return Err(AuthError::Invalid(format!(
                "token_use `{}` is not access; send the access token",
                claims.token_use
            )));
        }
        if claims.client_id.as_deref() != Some(self.client_id.as_str()) {
            return Err(AuthError::WrongClient);
        }
        let username = claims
            .username
            .or(claims.cognito_username)
            .unwrap_or_else(|| claims.sub.clone());
        let user = match &self.names {
            Some(names) => names
                .display(&username, &claims.sub)
                .await
                .map_err(AuthError::Directory)?,
            None => username,
        };
        let roles = claims
            .groups
            .iter()
            .filter_map(|g| Role::parse(g))
            .collect();
        Ok(Principal { user, roles })
    }
}
