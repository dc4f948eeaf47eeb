//! Launch settings as code: a plan's declared DRS launch settings applied to its
//! servers, and readiness's drift — where DRS no longer has what the plan declares.

use crate::error::ApiError;
use crate::launch_configs::LaunchConfigs;
use aslgen::model::LaunchSettings;
use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;

/// DRS calls at once: well under its API rate, fast for thousands of servers.
const CONCURRENCY: usize = 8;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    pub servers: usize,
    /// `{server, message}` of each server whose settings DRS did not take.
    pub failed: Vec<Value>,
}

/// Applies each server's declared settings; one server's failure does not stop the rest.
pub async fn apply(configs: &dyn LaunchConfigs, wanted: &[(&str, &LaunchSettings)]) -> Applied {
    // Owned items: the futures must not borrow with lifetimes the executor cannot name.
    let failed: Vec<Value> = futures::stream::iter(owned(wanted))
        .map(|(server, settings)| async move {
            configs
                .apply(&server, &settings)
                .await
                .err()
                .map(|e| serde_json::json!({"server": server, "message": e.message}))
        })
        .buffer_unordered(CONCURRENCY)
        .filter_map(|failure| async move { failure })
        .collect()
        .await;
    Applied {
        servers: wanted.len(),
        failed,
    }
}

/// Applies the declared settings of the servers whose launch configuration differs;
/// what was applied and what failed (a server DRS could not be read counts as failed).
pub async fn reconcile(
    configs: &dyn LaunchConfigs,
    wanted: &[(&str, &LaunchSettings)],
) -> Result<Applied, ApiError> {
    let drifted: std::collections::BTreeSet<String> = drift(configs, wanted)
        .await?
        .into_iter()
        .map(|d| d.server)
        .collect();
    let todo: Vec<(&str, &LaunchSettings)> = wanted
        .iter()
        .copied()
        .filter(|(server, _)| drifted.contains(*server))
        .collect();
    Ok(apply(configs, &todo).await)
}

fn owned(wanted: &[(&str, &LaunchSettings)]) -> Vec<(String, LaunchSettings)> {
    wanted
        .iter()
        .map(|(server, settings)| ((*server).to_owned(), (*settings).clone()))
        .collect()
}

/// One setting DRS has otherwise than the plan declares.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    pub server: String,
    pub setting: String,
    pub wanted: Value,
    pub found: Value,
}

/// Every declared setting that differs in DRS, in the plan's server order.
pub async fn drift(
    configs: &dyn LaunchConfigs,
    wanted: &[(&str, &LaunchSettings)],
) -> Result<Vec<Drift>, ApiError> {
    let found: Vec<Result<Vec<Drift>, ApiError>> = futures::stream::iter(owned(wanted))
        .map(|(server, settings)| async move {
            let actual = configs.read(&server).await?;
            Ok(settings
                .members()
                .into_iter()
                .filter(|(name, value)| actual.get(*name) != Some(value))
                .map(|(name, value)| Drift {
                    server: server.clone(),
                    setting: name.to_owned(),
                    wanted: value,
                    found: actual.get(name).cloned().unwrap_or(Value::Null),
                })
                .collect())
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    found
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map(|d| d.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::launch_configs::MemoryLaunchConfigs;

    fn settings(json: &str) -> LaunchSettings {
        serde_json::from_str(json).unwrap_or_default()
    }

    #[tokio::test]
    async fn applied_settings_leave_no_drift_until_someone_changes_one() {
        let configs = MemoryLaunchConfigs::default();
        let wanted = settings(r#"{"launchDisposition": "STOPPED", "copyTags": false}"#);
        let servers = [("s-1", &wanted), ("s-2", &wanted)];
        assert_eq!(
            drift(&configs, &servers).await.map(|d| d.len()).ok(),
            Some(4)
        );
        let applied = apply(&configs, &servers).await;
        assert_eq!((applied.servers, applied.failed.len()), (2, 0));
        assert_eq!(drift(&configs, &servers).await.ok(), Some(vec![]));
        // By hand, in the console.
        configs
            .apply("s-2", &settings(r#"{"copyTags": true}"#))
            .await
            .unwrap_or_default();
        assert_eq!(
            drift(&configs, &servers).await.ok(),
            Some(vec![Drift {
                server: "s-2".into(),
                setting: "copyTags".into(),
                wanted: false.into(),
                found: true.into(),
            }])
        );
    }

    #[tokio::test]
    async fn a_refusal_is_named_and_the_rest_are_applied() {
        let configs = MemoryLaunchConfigs {
            refusing: vec!["s-2".into()],
            ..MemoryLaunchConfigs::default()
        };
        let wanted = settings(r#"{"postLaunchEnabled": false}"#);
        let servers = [("s-1", &wanted), ("s-2", &wanted), ("s-3", &wanted)];
        let applied = apply(&configs, &servers).await;
        assert_eq!(applied.failed.len(), 1, "{applied:?}");
        assert_eq!(applied.failed[0]["server"], "s-2");
        let left = drift(&configs, &servers).await.unwrap_or_default();
        assert_eq!(
            left.iter().map(|d| d.server.as_str()).collect::<Vec<_>>(),
            ["s-2"]
        );
    }
}
