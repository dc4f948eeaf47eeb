//! Local sign-in for the SPA: user name and password to the emulator's Cognito
//! (USER_PASSWORD_AUTH), through the site's origin, since the emulator has no managed
//! login pages. In AWS the SPA uses managed login (code flow with PKCE) instead.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

pub struct SignIn {
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    pub client_id: String,
}

#[derive(Deserialize)]
pub struct Credentials {
    username: String,
    password: String,
}

pub async fn sign_in(
    State(state): State<Arc<SignIn>>,
    body: Result<Json<Credentials>, axum::extract::rejection::JsonRejection>,
) -> (StatusCode, Json<Value>) {
    let Ok(Json(credentials)) = body else {
        return (
            StatusCode::BAD_REQUEST,
            Json(
                json!({"error": "BadRequest", "message": "send {\"username\": …, \"password\": …}"}),
            ),
        );
    };
    let result = state
        .cognito
        .initiate_auth()
        .client_id(&state.client_id)
        .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", &credentials.username)
        .auth_parameters("PASSWORD", &credentials.password)
        .send()
        .await;
    match result.map(|r| r.authentication_result) {
        Ok(Some(tokens)) => (
            StatusCode::OK,
            Json(json!({
                "AccessToken": tokens.access_token,
                "RefreshToken": tokens.refresh_token,
                "ExpiresIn": tokens.expires_in,
            })),
        ),
        _ => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "Unauthorized", "message": "wrong user name or password"})),
        ),
    }
}
