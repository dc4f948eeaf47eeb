//! A source server's DRS launch settings (GetLaunchConfiguration,
//! UpdateLaunchConfiguration), validated as the DRS service model constrains them.
//! The EC2 launch template they name is read-only here, as in DRS.

use crate::error::DrsError;
use crate::world::World;
use serde_json::{Map, Value, json};

const DISPOSITIONS: [&str; 2] = ["STOPPED", "STARTED"];
const RIGHT_SIZING: [&str; 3] = ["NONE", "BASIC", "IN_AWS"];

/// One server's launch settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchConfig {
    pub name: String,
    pub launch_disposition: String,
    pub right_sizing: String,
    pub copy_private_ip: bool,
    pub copy_tags: bool,
    pub os_byol: bool,
    pub post_launch_enabled: bool,
    pub launch_into_instance: Option<String>,
}

impl LaunchConfig {
    /// What DRS gives a server added with the simulator's default launch settings.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            launch_disposition: "STARTED".into(),
            right_sizing: "BASIC".into(),
            copy_private_ip: false,
            copy_tags: true,
            os_byol: true,
            post_launch_enabled: true,
            launch_into_instance: None,
        }
    }
}

/// The launch template DRS keeps for server `id`: the one created in the emulator, or
/// (without an emulator) a stable stand-in.
pub fn template_id(world: &World, id: &str) -> String {
    if let Some(created) = world.templates.get(id) {
        return created.clone();
    }
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("lt-{hash:017x}")
}

fn server_id(body: &Value) -> Result<&str, DrsError> {
    let id = body
        .get("sourceServerID")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            DrsError::Validation("`sourceServerID` is required and must be a string".into())
        })?;
    let rest = id.strip_prefix("s-").unwrap_or_default();
    if rest.len() != 17 || !rest.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(DrsError::Validation(format!(
            "sourceServerID `{id}` does not match s-[0-9a-zA-Z]{{17}}"
        )));
    }
    Ok(id)
}

fn config<'a>(world: &'a mut World, id: &str) -> Result<&'a mut LaunchConfig, DrsError> {
    let name = world
        .servers
        .get(id)
        .map(|s| s.hostname.clone())
        .ok_or_else(|| DrsError::NotFound(format!("source server `{id}` does not exist")))?;
    Ok(world
        .launch_configs
        .entry(id.to_owned())
        .or_insert_with(|| LaunchConfig::new(&name)))
}

fn document(id: &str, template: String, config: &LaunchConfig) -> Value {
    let mut doc = json!({
        "sourceServerID": id,
        "name": config.name,
        "ec2LaunchTemplateID": template,
        "launchDisposition": config.launch_disposition,
        "targetInstanceTypeRightSizingMethod": config.right_sizing,
        "copyPrivateIp": config.copy_private_ip,
        "copyTags": config.copy_tags,
        "licensing": {"osByol": config.os_byol},
        "postLaunchEnabled": config.post_launch_enabled,
    });
    if let Some(instance) = &config.launch_into_instance {
        doc["launchIntoInstanceProperties"] = json!({"launchIntoEC2InstanceID": instance});
    }
    doc
}

pub fn get(world: &mut World, body: &Value) -> Result<Value, DrsError> {
    let id = server_id(body)?;
    let template = template_id(world, id);
    let config = config(world, id)?;
    Ok(document(id, template, config))
}

/// Validates every member before changing anything: a bad request changes nothing.
pub fn update(world: &mut World, body: &Value) -> Result<Value, DrsError> {
    let id = server_id(body)?.to_owned();
    let mut next = config(world, &id)?.clone();
    let members = body.as_object().cloned().unwrap_or_default();
    apply(&mut next, &members)?;
    let template = template_id(world, &id);
    let config = config(world, &id)?;
    *config = next;
    Ok(document(&id, template, config))
}

fn apply(next: &mut LaunchConfig, members: &Map<String, Value>) -> Result<(), DrsError> {
    for (key, value) in members {
        match key.as_str() {
            "sourceServerID" => {}
            "name" => {
                let name = value
                    .as_str()
                    .ok_or_else(|| invalid(key, value, "a string"))?;
                if name.chars().count() > 128 {
                    return Err(invalid(key, value, "at most 128 characters"));
                }
                next.name = name.to_owned();
            }
            "launchDisposition" => next.launch_disposition = one_of(key, value, &DISPOSITIONS)?,
            "targetInstanceTypeRightSizingMethod" => {
                next.right_sizing = one_of(key, value, &RIGHT_SIZING)?;
            }
            "copyPrivateIp" => next.copy_private_ip = boolean(key, value)?,
            "copyTags" => next.copy_tags = boolean(key, value)?,
            "postLaunchEnabled" => next.post_launch_enabled = boolean(key, value)?,
            "licensing" => {
                let byol = value
                    .get("osByol")
                    .ok_or_else(|| invalid(key, value, "an object with `osByol`"))?;
                next.os_byol = boolean("licensing.osByol", byol)?;
            }
            "launchIntoInstanceProperties" => {
                next.launch_into_instance = match value.get("launchIntoEC2InstanceID") {
                    None | Some(Value::Null) => None,
                    Some(instance) => Some(instance_id(instance)?),
                };
            }
            // DRS sets the template; UpdateLaunchConfiguration has no such member.
            "ec2LaunchTemplateID" => {
                return Err(DrsError::Validation(
                    "`ec2LaunchTemplateID` cannot be updated: DRS owns the launch template".into(),
                ));
            }
            // Like AWS's JSON protocols, members the model does not have are ignored.
            _ => {}
        }
    }
    Ok(())
}

fn invalid(key: &str, value: &Value, expected: &str) -> DrsError {
    DrsError::Validation(format!("`{key}` must be {expected}, not {value}"))
}

fn boolean(key: &str, value: &Value) -> Result<bool, DrsError> {
    value
        .as_bool()
        .ok_or_else(|| invalid(key, value, "a boolean"))
}

fn one_of(key: &str, value: &Value, allowed: &[&str]) -> Result<String, DrsError> {
    match value.as_str() {
        Some(text) if allowed.contains(&text) => Ok(text.to_owned()),
        _ => Err(invalid(
            key,
            value,
            &format!("one of {}", allowed.join(", ")),
        )),
    }
}

fn instance_id(value: &Value) -> Result<String, DrsError> {
    let key = "launchIntoInstanceProperties.launchIntoEC2InstanceID";
    let id = value
        .as_str()
        .ok_or_else(|| invalid(key, value, "a string"))?;
    let hex = id.strip_prefix("i-").unwrap_or_default();
    if hex.len() < 8 || hex.len() > 17 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(invalid(
            key,
            value,
            "an EC2 instance ID (i-[0-9a-fA-F]{8,})",
        ));
    }
    Ok(id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::world::Timing;

    fn world() -> World {
        let inventory = aslgen::synth::inventory(2);
        World::new(Clock::new(1.0), Timing::default(), &inventory)
    }

    fn first(world: &World) -> String {
        world.servers.keys().next().cloned().unwrap_or_default()
    }

    #[test]
    fn an_update_changes_what_get_returns_and_nothing_else() {
        let mut world = world();
        let id = first(&world);
        let before = get(&mut world, &json!({"sourceServerID": id})).unwrap_or_default();
        let after = update(
            &mut world,
            &json!({"sourceServerID": id, "copyPrivateIp": true, "launchDisposition": "STOPPED",
                    "licensing": {"osByol": false}}),
        )
        .unwrap_or_default();
        assert_eq!(after["copyPrivateIp"], true);
        assert_eq!(after["launchDisposition"], "STOPPED");
        assert_eq!(after["licensing"]["osByol"], false);
        assert_eq!(after["copyTags"], before["copyTags"]);
        assert_eq!(after["ec2LaunchTemplateID"], before["ec2LaunchTemplateID"]);
        let read = get(&mut world, &json!({"sourceServerID": id})).unwrap_or_default();
        assert_eq!(read, after);
    }

    #[test]
    fn a_bad_member_is_named_and_changes_nothing() {
        let mut world = world();
        let id = first(&world);
        let before = get(&mut world, &json!({"sourceServerID": id})).unwrap_or_default();
        for (body, named) in [
            (
                json!({"sourceServerID": id, "copyTags": false, "launchDisposition": "PAUSED"}),
                "`launchDisposition`",
            ),
            (
                json!({"sourceServerID": id, "copyPrivateIp": "yes"}),
                "`copyPrivateIp`",
            ),
            (
                json!({"sourceServerID": id, "targetInstanceTypeRightSizingMethod": "HUGE"}),
                "HUGE",
            ),
            (
                json!({"sourceServerID": id, "launchIntoInstanceProperties": {"launchIntoEC2InstanceID": "i-xyz"}}),
                "i-xyz",
            ),
            (
                json!({"sourceServerID": id, "ec2LaunchTemplateID": "lt-0"}),
                "ec2LaunchTemplateID",
            ),
            (json!({"sourceServerID": "s-short"}), "s-short"),
        ] {
            let error = update(&mut world, &body)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(error.contains(named), "{body}: {error}");
        }
        let after = get(&mut world, &json!({"sourceServerID": id})).unwrap_or_default();
        assert_eq!(after, before, "nothing changed");
    }

    #[test]
    fn an_unknown_server_is_not_found() {
        let mut world = world();
        let error = update(
            &mut world,
            &json!({"sourceServerID": "s-0000000000000000f"}),
        );
        assert!(matches!(error, Err(DrsError::NotFound(_))), "{error:?}");
    }

    #[test]
    fn each_server_has_its_own_template() {
        let world = world();
        let (a, b) = (
            template_id(&world, "s-0a1b2c3d4e5f60001"),
            template_id(&world, "s-0a1b2c3d4e5f60002"),
        );
        assert_ne!(a, b);
        assert_eq!(a.len(), 20);
    }
}
