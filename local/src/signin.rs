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
    let result = crate::cognito::authenticate(
        &state.cognito,
        &state.client_id,
        &credentials.username,
        &credentials.password,
    )
    .await;
    match result {
        Ok(tokens) => (
            StatusCode::OK,
            Json(json!({
                "AccessToken": tokens.access_token,
                "RefreshToken": tokens.refresh_token,
                "ExpiresIn": tokens.expires_in,
            })),
        ),
        Err(_) => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "Unauthorized", "message": "wrong user name or password"})),
        ),
    }
}
