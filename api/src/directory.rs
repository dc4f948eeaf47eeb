//! People by name: in a user pool whose users sign in with their email address
//! (`UsernameAttributes: [email]`), Cognito's user name (the access token's `username`)
//! is a generated GUID, the same as `sub`. Runs, votes and audit records name people by
//! email instead, and plans name approvers by email, so the GUID is looked up once
//! (AdminGetUser) and kept for a while.

use async_trait::async_trait;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

#[async_trait]
pub trait Directory: Send + Sync {
    /// The user's email address; `None` when the pool has no such user or no email.
    async fn email(&self, username: &str) -> Result<Option<String>, String>;
}

pub struct CognitoDirectory {
    pub client: aws_sdk_cognitoidentityprovider::Client,
    pub pool_id: String,
}

#[async_trait]
impl Directory for CognitoDirectory {
    async fn email(&self, username: &str) -> Result<Option<String>, String> {
        match self
            .client
            .admin_get_user()
            .user_pool_id(&self.pool_id)
            .username(username)
            .send()
            .await
        {
            Ok(user) => Ok(user
                .user_attributes()
                .iter()
                .find(|a| a.name() == "email")
                .and_then(|a| a.value().map(str::to_owned))),
            Err(e) => {
                let e = e.into_service_error();
                if e.is_user_not_found_exception() {
                    Ok(None)
                } else {
                    Err(format!("AdminGetUser: {e}"))
                }
            }
        }
    }
}

/// How long a looked-up name is trusted (an email changed in Cognito shows after this).
const NAME_FRESH: Duration = Duration::from_secs(600);

/// Looks names up through a [`Directory`], keeping each for [`NAME_FRESH`].
pub struct Names {
    directory: Box<dyn Directory>,
    cache: RwLock<HashMap<String, (Instant, String)>>,
}

impl Names {
    pub fn new(directory: Box<dyn Directory>) -> Self {
        Self {
            directory,
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// The name a person is shown and recorded by: the email for a GUID user name (a
    /// pool with email sign-in), else the user name itself.
    pub async fn display(&self, username: &str, sub: &str) -> Result<String, String> {
        if username != sub {
            return Ok(username.to_owned());
        }
        if let Some((at, name)) = self.cache.read().await.get(username)
            && at.elapsed() < NAME_FRESH
        {
            return Ok(name.clone());
        }
        let name = self
            .directory
            .email(username)
            .await?
            .map(|e| e.to_lowercase())
            .unwrap_or_else(|| username.to_owned());
        self.cache
            .write()
            .await
            .insert(username.to_owned(), (Instant::now(), name.clone()));
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Twin {
        calls: Arc<AtomicUsize>,
    }

    #[async_trait]
    impl Directory for Twin {
        async fn email(&self, username: &str) -> Result<Option<String>, String> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Ok((username == "5f0c…guid").then(|| "Alice@Example.com".to_owned()))
        }
    }

    #[tokio::test]
    async fn a_guid_user_name_is_shown_as_the_email_and_looked_up_once() {
        let calls = Arc::new(AtomicUsize::new(0));
        let names = Names::new(Box::new(Twin {
            calls: calls.clone(),
        }));
        for _ in 0..3 {
            assert_eq!(
                names.display("5f0c…guid", "5f0c…guid").await.unwrap(),
                "alice@example.com"
            );
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // A real user name (a pool without email sign-in) is kept as is, with no lookup.
        assert_eq!(
            names.display("approver", "some-sub").await.unwrap(),
            "approver"
        );
        // A GUID with no email stays the GUID (never a blank name).
        assert_eq!(names.display("other", "other").await.unwrap(), "other");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
