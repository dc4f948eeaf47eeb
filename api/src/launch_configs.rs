//! DRS launch configurations: where a plan's declared launch settings are applied and
//! what readiness compares them with. One port, its DRS adapter and its in-memory twin.

use crate::drs::drs_error;
use crate::error::ApiError;
use aslgen::model::LaunchSettings;
use async_trait::async_trait;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// A launch configuration as DRS members (`licensing.osByol` for the nested one).
pub type Members = BTreeMap<String, Value>;

#[async_trait]
pub trait LaunchConfigs: Send + Sync {
    async fn read(&self, server: &str) -> Result<Members, ApiError>;
    /// Sets the declared settings on the server's launch configuration, the rest as is.
    async fn apply(&self, server: &str, settings: &LaunchSettings) -> Result<(), ApiError>;
}

pub struct DrsLaunchConfigs(pub aws_sdk_drs::Client);

#[async_trait]
impl LaunchConfigs for DrsLaunchConfigs {
    async fn read(&self, server: &str) -> Result<Members, ApiError> {
        let c = self
            .0
            .get_launch_configuration()
            .source_server_id(server)
            .send()
            .await
            .map_err(|e| drs_error("GetLaunchConfiguration", e.into_service_error()))?;
        let mut members = Members::new();
        let mut put = |name: &str, value: Option<Value>| {
            if let Some(value) = value {
                members.insert(name.to_owned(), value);
            }
        };
        put(
            "launchDisposition",
            c.launch_disposition().map(|v| v.as_str().into()),
        );
        put("copyPrivateIp", c.copy_private_ip().map(Value::from));
        put("copyTags", c.copy_tags().map(Value::from));
        put(
            "targetInstanceTypeRightSizingMethod",
            c.target_instance_type_right_sizing_method()
                .map(|v| v.as_str().into()),
        );
        put(
            "licensing.osByol",
            c.licensing().and_then(|l| l.os_byol()).map(Value::from),
        );
        put(
            "postLaunchEnabled",
            c.post_launch_enabled().map(Value::from),
        );
        Ok(members)
    }

    async fn apply(&self, server: &str, settings: &LaunchSettings) -> Result<(), ApiError> {
        use aws_sdk_drs::types::{
            LaunchDisposition, Licensing, TargetInstanceTypeRightSizingMethod,
        };
        self.0
            .update_launch_configuration()
            .source_server_id(server)
            .set_launch_disposition(
                settings
                    .launch_disposition
                    .map(|d| LaunchDisposition::from(wire(&d).as_str())),
            )
            .set_copy_private_ip(settings.copy_private_ip)
            .set_copy_tags(settings.copy_tags)
            .set_target_instance_type_right_sizing_method(
                settings
                    .target_instance_type_right_sizing_method
                    .map(|m| TargetInstanceTypeRightSizingMethod::from(wire(&m).as_str())),
            )
            .set_licensing(
                settings
                    .licensing
                    .map(|l| Licensing::builder().os_byol(l.os_byol).build()),
            )
            .set_post_launch_enabled(settings.post_launch_enabled)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| drs_error("UpdateLaunchConfiguration", e.into_service_error()))
    }
}

/// DRS's wire value of a launch settings enum (its serde name).
fn wire<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// In-memory launch configurations: DRS's defaults until changed.
#[derive(Default)]
pub struct MemoryLaunchConfigs {
    pub configs: Mutex<HashMap<String, Members>>,
    /// Servers whose UpdateLaunchConfiguration fails.
    pub refusing: Vec<String>,
}

impl MemoryLaunchConfigs {
    fn defaults() -> Members {
        [
            ("launchDisposition", Value::from("STARTED")),
            ("copyPrivateIp", false.into()),
            ("copyTags", true.into()),
            ("targetInstanceTypeRightSizingMethod", "BASIC".into()),
            ("licensing.osByol", true.into()),
            ("postLaunchEnabled", true.into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

#[async_trait]
impl LaunchConfigs for MemoryLaunchConfigs {
    async fn read(&self, server: &str) -> Result<Members, ApiError> {
        let configs = self.configs.lock().unwrap_or_else(|p| p.into_inner());
        Ok(configs.get(server).cloned().unwrap_or_else(Self::defaults))
    }

    async fn apply(&self, server: &str, settings: &LaunchSettings) -> Result<(), ApiError> {
        if self.refusing.iter().any(|s| s == server) {
            return Err(drs_error("UpdateLaunchConfiguration", "throttled"));
        }
        let mut configs = self.configs.lock().unwrap_or_else(|p| p.into_inner());
        let config = configs
            .entry(server.to_owned())
            .or_insert_with(Self::defaults);
        for (name, value) in settings.members() {
            config.insert(name.to_owned(), value);
        }
        Ok(())
    }
}
