//! A Cognito user pool in the emulator with one demo user per role: local mode prints
//! them, the tests sign in with them.

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::types::{
    AuthFlowType, AuthenticationResultType, ExplicitAuthFlowsType, TimeUnitsType,
    TokenValidityUnitsType,
};
use std::collections::HashMap;

pub const ROLES: [&str; 5] = ["Admin", "PlanAuthor", "Operator", "Approver", "Viewer"];
/// The demo users' password (local mode only; it meets the deployed pool's policy).
pub const PASSWORD: &str = "Drill-Passw0rd!";

#[derive(Debug, thiserror::Error)]
#[error("Cognito (emulated) {step}: {message}")]
pub struct PoolError {
    step: &'static str,
    message: String,
}

fn fail<E: std::fmt::Debug>(step: &'static str) -> impl FnOnce(E) -> PoolError {
    move |e| PoolError {
        step,
        message: format!("{e:?}"),
    }
}

pub struct Pool {
    pub id: String,
    pub client_id: String,
    pub issuer: String,
    /// Role name → access token of the demo user in (only) that group.
    pub tokens: HashMap<&'static str, String>,
}

impl Pool {
    pub fn token(&self, role: &str) -> &str {
        self.tokens
            .get(role)
            .map(String::as_str)
            .unwrap_or_default()
    }
}

/// The user name of the demo user of a role (`operator` for Operator).
pub fn user_for(role: &str) -> String {
    role.to_lowercase()
}

/// Signs a user in with USER_PASSWORD_AUTH; returns the tokens.
pub async fn authenticate(
    client: &Client,
    client_id: &str,
    user: &str,
    password: &str,
) -> Result<AuthenticationResultType, PoolError> {
    client
        .initiate_auth()
        .client_id(client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", user)
        .auth_parameters("PASSWORD", password)
        .send()
        .await
        .map_err(fail("sign in"))?
        .authentication_result
        .ok_or_else(|| fail("sign in")("no tokens"))
}

/// Signs a user in with USER_PASSWORD_AUTH; returns the access token.
pub async fn sign_in(
    client: &Client,
    client_id: &str,
    user: &str,
    password: &str,
) -> Result<String, PoolError> {
    authenticate(client, client_id, user, password)
        .await?
        .access_token
        .ok_or_else(|| fail("sign in")("no access token"))
}

pub async fn create_pool(client: &Client, region: &str) -> Result<Pool, PoolError> {
    let pool = client
        .create_user_pool()
        .pool_name("drs-orchestrator")
        .send()
        .await
        .map_err(fail("create pool"))?
        .user_pool
        .ok_or_else(|| fail("create pool")("no pool"))?;
    let id = pool.id.ok_or_else(|| fail("create pool")("no pool id"))?;
    // Token lifetimes as the deployed app client's (templates/frontend.yaml). moto keeps
    // them but issues every access and ID token for an hour regardless, and never expires
    // refresh tokens; local mode's `--test-token-lifetime` shortens access tokens.
    let app = client
        .create_user_pool_client()
        .user_pool_id(&id)
        .client_name("spa")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .access_token_validity(60)
        .id_token_validity(60)
        .refresh_token_validity(12)
        .token_validity_units(
            TokenValidityUnitsType::builder()
                .access_token(TimeUnitsType::Minutes)
                .id_token(TimeUnitsType::Minutes)
                .refresh_token(TimeUnitsType::Hours)
                .build(),
        )
        .enable_token_revocation(true)
        .send()
        .await
        .map_err(fail("create app client"))?
        .user_pool_client
        .ok_or_else(|| fail("create app client")("no client"))?;
    let client_id = app
        .client_id
        .ok_or_else(|| fail("create app client")("no client id"))?;
    let mut tokens = HashMap::new();
    for role in ROLES {
        client
            .create_group()
            .user_pool_id(&id)
            .group_name(role)
            .send()
            .await
            .map_err(fail("create group"))?;
        let user = user_for(role);
        client
            .admin_create_user()
            .user_pool_id(&id)
            .username(&user)
            .send()
            .await
            .map_err(fail("create user"))?;
        client
            .admin_set_user_password()
            .user_pool_id(&id)
            .username(&user)
            .password(PASSWORD)
            .permanent(true)
            .send()
            .await
            .map_err(fail("set password"))?;
        client
            .admin_add_user_to_group()
            .user_pool_id(&id)
            .username(&user)
            .group_name(role)
            .send()
            .await
            .map_err(fail("add to group"))?;
        tokens.insert(role, sign_in(client, &client_id, &user, PASSWORD).await?);
    }
    Ok(Pool {
        issuer: format!("https://cognito-idp.{region}.amazonaws.com/{id}"),
        id,
        client_id,
        tokens,
    })
}
