//! A Cognito user pool in the emulator with one user per role, and their tokens.

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ExplicitAuthFlowsType};
use std::collections::HashMap;

pub const ROLES: [&str; 5] = ["Admin", "PlanAuthor", "Operator", "Approver", "Viewer"];
pub const PASSWORD: &str = "Drill-Passw0rd!";

pub struct Pool {
    pub id: String,
    pub client_id: String,
    pub issuer: String,
    /// Role name → access token of a user in (only) that group.
    pub tokens: HashMap<&'static str, String>,
}

impl Pool {
    pub fn token(&self, role: &str) -> &str {
        &self.tokens[role]
    }
}

/// The user name of the demo user of a role (`operator` for Operator).
pub fn user_for(role: &str) -> String {
    role.to_lowercase()
}

pub async fn create_pool(client: &Client, region: &str) -> Pool {
    let pool = client
        .create_user_pool()
        .pool_name("drs-orchestrator")
        .send()
        .await
        .expect("create pool")
        .user_pool
        .expect("pool");
    let id = pool.id.expect("pool id");
    let app = client
        .create_user_pool_client()
        .user_pool_id(&id)
        .client_name("spa")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .expect("create client")
        .user_pool_client
        .expect("client");
    let client_id = app.client_id.expect("client id");
    let mut tokens = HashMap::new();
    for role in ROLES {
        client
            .create_group()
            .user_pool_id(&id)
            .group_name(role)
            .send()
            .await
            .expect("group");
        let user = user_for(role);
        client
            .admin_create_user()
            .user_pool_id(&id)
            .username(&user)
            .send()
            .await
            .expect("user");
        client
            .admin_set_user_password()
            .user_pool_id(&id)
            .username(&user)
            .password(PASSWORD)
            .permanent(true)
            .send()
            .await
            .expect("password");
        client
            .admin_add_user_to_group()
            .user_pool_id(&id)
            .username(&user)
            .group_name(role)
            .send()
            .await
            .expect("add to group");
        let auth = client
            .initiate_auth()
            .client_id(&client_id)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", &user)
            .auth_parameters("PASSWORD", PASSWORD)
            .send()
            .await
            .expect("sign in")
            .authentication_result
            .expect("tokens");
        tokens.insert(role, auth.access_token.expect("access token"));
    }
    Pool {
        issuer: format!("https://cognito-idp.{region}.amazonaws.com/{id}"),
        id,
        client_id,
        tokens,
    }
}
