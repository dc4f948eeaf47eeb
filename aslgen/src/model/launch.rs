//! DRS launch settings a plan (or one of its groups) declares, applied to its servers'
//! launch configurations with UpdateLaunchConfiguration. Member names and values are
//! DRS's own (`LaunchConfiguration`), so the settings serialize to the request as-is.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LaunchSettings {
    /// The recovery instance's state after launch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_disposition: Option<LaunchDisposition>,
    /// Copy the source server's private IP to the recovery instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_private_ip: Option<bool>,
    /// Copy the source server's tags to the recovery instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_tags: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_instance_type_right_sizing_method: Option<RightSizing>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licensing: Option<Licensing>,
    /// Run the server's DRS post-launch actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_launch_enabled: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LaunchDisposition {
    Stopped,
    Started,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RightSizing {
    None,
    Basic,
    InAws,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Licensing {
    /// Bring your own license.
    pub os_byol: bool,
}

impl LaunchSettings {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// These settings with `over`'s where it sets them (a group's over its plan's).
    pub fn merged(&self, over: &Self) -> Self {
        Self {
            launch_disposition: over.launch_disposition.or(self.launch_disposition),
            copy_private_ip: over.copy_private_ip.or(self.copy_private_ip),
            copy_tags: over.copy_tags.or(self.copy_tags),
            target_instance_type_right_sizing_method: over
                .target_instance_type_right_sizing_method
                .or(self.target_instance_type_right_sizing_method),
            licensing: over.licensing.or(self.licensing),
            post_launch_enabled: over.post_launch_enabled.or(self.post_launch_enabled),
        }
    }

    /// Each declared setting as (DRS member, value): what to compare with a launch
    /// configuration (`licensing.osByol` for the nested one).
    pub fn members(&self) -> Vec<(&'static str, serde_json::Value)> {
        let mut out = Vec::new();
        let mut put = |name: &'static str, value: serde_json::Value| out.push((name, value));
        if let Some(v) = self.launch_disposition {
            put("launchDisposition", serde_json::json!(v));
        }
        if let Some(v) = self.copy_private_ip {
            put("copyPrivateIp", v.into());
        }
        if let Some(v) = self.copy_tags {
            put("copyTags", v.into());
        }
        if let Some(v) = self.target_instance_type_right_sizing_method {
            put("targetInstanceTypeRightSizingMethod", serde_json::json!(v));
        }
        if let Some(v) = self.licensing {
            put("licensing.osByol", v.os_byol.into());
        }
        if let Some(v) = self.post_launch_enabled {
            put("postLaunchEnabled", v.into());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_groups_settings_win_over_its_plans() {
        let plan: LaunchSettings = serde_json::from_str(
            r#"{"launchDisposition": "STARTED", "copyTags": true, "licensing": {"osByol": true}}"#,
        )
        .unwrap_or_default();
        let group: LaunchSettings = serde_json::from_str(
            r#"{"copyTags": false, "targetInstanceTypeRightSizingMethod": "IN_AWS"}"#,
        )
        .unwrap_or_default();
        let merged = plan.merged(&group);
        assert_eq!(
            serde_json::to_value(&merged).unwrap_or_default(),
            serde_json::json!({"launchDisposition": "STARTED", "copyTags": false,
                "targetInstanceTypeRightSizingMethod": "IN_AWS", "licensing": {"osByol": true}})
        );
        assert_eq!(
            merged.members().iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            [
                "launchDisposition",
                "copyTags",
                "targetInstanceTypeRightSizingMethod",
                "licensing.osByol"
            ]
        );
    }

    #[test]
    fn a_value_drs_does_not_have_is_refused_by_name() {
        let error = serde_json::from_str::<LaunchSettings>(r#"{"launchDisposition": "PAUSED"}"#)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("PAUSED"), "{error}");
        assert!(serde_json::from_str::<LaunchSettings>(r#"{"copyTag": true}"#).is_err());
    }
}
