//! Source servers' EC2 launch templates in the emulator. DRS keeps one per server and
//! launches from its *default* version; here a server's template is created in moto the
//! first time its launch configuration is read or changed, and a launch reads the
//! default version's subnet and security groups. A server whose template was never
//! asked for launches into EC2's defaults (no extra calls for large fleets).

use crate::ec2::{Created, Ec2, Ec2Error, Network};
use crate::world::World;
use std::sync::Mutex;

/// The name DRS-style templates get here.
pub fn name(server: &str) -> String {
    format!("drs-{server}")
}

/// Server `server`'s template ID, created in moto if it has none yet; `None` for an
/// unknown server. `creating` serializes creations so two requests make one template.
pub async fn ensure(
    ec2: &Ec2,
    world: &Mutex<World>,
    creating: &tokio::sync::Mutex<()>,
    server: &str,
) -> Result<Option<String>, Ec2Error> {
    let known = |world: &Mutex<World>| {
        let world = crate::server::lock(world);
        (
            world.servers.contains_key(server),
            world.templates.get(server).cloned(),
        )
    };
    match known(world) {
        (false, _) => return Ok(None),
        (true, Some(id)) => return Ok(Some(id)),
        (true, None) => {}
    }
    let _one_at_a_time = creating.lock().await;
    if let (_, Some(id)) = known(world) {
        return Ok(Some(id));
    }
    let id = ec2.create_launch_template(&name(server)).await?;
    crate::server::lock(world)
        .templates
        .insert(server.to_owned(), id.clone());
    Ok(Some(id))
}

/// Instances for `sources`, each in the network of its template's default version;
/// returned in `sources`' order.
pub async fn launch(
    ec2: &Ec2,
    world: &Mutex<World>,
    image: &str,
    sources: &[String],
    drill: bool,
) -> Result<Vec<Created>, Ec2Error> {
    let mut by_source = std::collections::HashMap::new();
    for (network, members) in by_network(ec2, world, sources).await {
        let created = ec2.run_instances(image, &members, drill, &network).await?;
        by_source.extend(members.into_iter().zip(created));
    }
    Ok(sources.iter().filter_map(|s| by_source.remove(s)).collect())
}

/// `sources` grouped by where DRS would launch them, keeping their order in each group.
pub async fn by_network(
    ec2: &Ec2,
    world: &Mutex<World>,
    sources: &[String],
) -> Vec<(Network, Vec<String>)> {
    let templates: Vec<Option<String>> = {
        let world = crate::server::lock(world);
        sources
            .iter()
            .map(|s| world.templates.get(s).cloned())
            .collect()
    };
    let mut groups: Vec<(Network, Vec<String>)> = Vec::new();
    for (source, template) in sources.iter().zip(templates) {
        let network = match template {
            Some(id) => ec2.default_network(&id).await.unwrap_or_else(|e| {
                tracing::warn!(server = %source, template = %id, error = %e, "reading the launch template failed; launching into EC2's defaults");
                Network::default()
            }),
            None => Network::default(),
        };
        match groups.iter_mut().find(|(n, _)| *n == network) {
            Some((_, members)) => members.push(source.clone()),
            None => groups.push((network, vec![source.clone()])),
        }
    }
    groups
}
