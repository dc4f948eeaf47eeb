//! Resolution: protection groups to servers, wave entries to launch units, and
//! dependencies to edges between units, with the problems found on the way.

use super::{MAX_PLAN_SERVERS, Problems, fields, graph};
use crate::inventory::Inventory;
use crate::model::{
    Condition, Criticality, Dependency, DrillCleanup, Duration, HealthProbe, OnUnmet, PlanDocument,
    Step, Wave,
};
use std::collections::{BTreeSet, HashMap};

/// SSM SendCommand takes at most this many instance IDs.
pub const MAX_INSTANCES_PER_COMMAND: usize = 50;

/// How far a unit has got; the same scale as a dependency's condition.
pub type Stage = Condition;
pub type UnitId = usize;

/// Servers of one group (or one server split out of it) that launch and progress together.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub id: UnitId,
    /// Stable key for progress records and the step map: `w1.db` or `w1.db.s-…`.
    pub key: String,
    /// Human label: the group's name, plus the server's hostname when split out.
    pub label: String,
    pub wave: usize,
    pub group: String,
    pub group_name: String,
    pub servers: Vec<String>,
    pub criticality: Criticality,
    pub steps: Vec<Step>,
    pub launch_timeout: Duration,
    pub running_timeout: Duration,
    /// Whether the unit waits for its instances to run with status checks ok.
    pub needs_running: bool,
    /// Stages before the unit's end that other units of its wave wait for.
    pub cuts: BTreeSet<Stage>,
    /// Path of the wave entry this unit comes from.
    pub path: String,
    /// The DRS launch settings its servers should have (the plan's, then the group's).
    pub launch_settings: crate::model::LaunchSettings,
}

impl Unit {
    pub fn final_stage(&self) -> Stage {
        if !self.steps.is_empty() {
            Stage::Healthy
        } else if self.needs_running {
            Stage::Running
        } else {
            Stage::Launched
        }
    }

    /// Servers per StartRecovery: DRS's per-job quota, or SSM's per-command limit when
    /// the unit runs SSM documents, so one batch's instances always fit one SendCommand.
    pub fn batch_size(&self) -> usize {
        let runs_commands = self.steps.iter().any(|step| {
            matches!(step, Step::Ssm(_))
                || matches!(step, Step::HealthCheck(h) if matches!(h.check, HealthProbe::Ssm { .. }))
        });
        if runs_commands {
            MAX_INSTANCES_PER_COMMAND
        } else {
            crate::flow::MAX_SERVERS_PER_JOB
        }
    }

    pub fn has_health_checks(&self) -> bool {
        self.steps.iter().any(|s| matches!(s, Step::HealthCheck(_)))
    }
}

/// `to` may start only once `from` has reached `stage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DepEdge {
    pub from: UnitId,
    pub stage: Stage,
    pub to: UnitId,
    pub on_unmet: OnUnmet,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedWave {
    pub index: usize,
    pub name: String,
    pub before: Vec<Step>,
    pub after: Vec<Step>,
    pub units: Vec<UnitId>,
    /// Dependencies between units of this wave.
    pub edges: Vec<DepEdge>,
}

/// A valid plan, resolved down to launch units.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub plan_id: String,
    pub plan_name: String,
    pub point_in_time: bool,
    pub drill_cleanup: DrillCleanup,
    pub notification_topic_arn: Option<String>,
    pub rto: Option<Duration>,
    pub units: Vec<Unit>,
    pub waves: Vec<ResolvedWave>,
    /// Every dependency edge, within and across waves (for graphs and reports).
    pub all_edges: Vec<DepEdge>,
    /// Hostnames from the inventory, for labels.
    pub hostnames: HashMap<String, String>,
}

impl Resolved {
    pub fn all_servers(&self) -> Vec<&str> {
        self.units
            .iter()
            .flat_map(|u| u.servers.iter().map(String::as_str))
            .collect()
    }

    /// Each server with declared launch settings, and those settings.
    pub fn launch_settings(&self) -> Vec<(&str, &crate::model::LaunchSettings)> {
        self.units
            .iter()
            .filter(|u| !u.launch_settings.is_empty())
            .flat_map(|u| {
                u.servers
                    .iter()
                    .map(move |s| (s.as_str(), &u.launch_settings))
            })
            .collect()
    }

    pub fn server_count(&self) -> usize {
        self.units.iter().map(|u| u.servers.len()).sum()
    }
}

pub(super) fn resolve(
    doc: &PlanDocument,
    inventory: Option<&Inventory>,
    p: &mut Problems,
) -> Resolved {
    let plan = &doc.plan;
    let groups = resolve_groups(doc, inventory, p);

    // Which wave entry uses each protection group.
    let mut entry_of: HashMap<&str, (usize, usize)> = HashMap::new();
    for (w, wave) in plan.waves.iter().enumerate() {
        for (g, entry) in wave.groups.iter().enumerate() {
            let path = format!("plan.waves[{w}].groups[{g}].group");
            if !groups.contains_key(entry.group.as_str()) {
                p.add(
                    path,
                    format!(
                        "protection group `{}` is not defined in protectionGroups",
                        entry.group
                    ),
                );
            } else if let Some(&(fw, fg)) = entry_of.get(entry.group.as_str()) {
                p.add(
                    path,
                    format!(
                        "protection group `{}` is already recovered by waves[{fw}].groups[{fg}]",
                        entry.group
                    ),
                );
            } else {
                entry_of.insert(&entry.group, (w, g));
            }
        }
    }

    // Servers that something depends on by name launch on their own.
    let mut targeted: BTreeSet<&str> = BTreeSet::new();
    for wave in &plan.waves {
        for entry in &wave.groups {
            let deps = entry
                .depends_on
                .iter()
                .chain(entry.servers.iter().flat_map(|s| s.depends_on.iter()));
            targeted.extend(deps.filter_map(|d| d.server.as_deref()));
        }
    }

    let hostnames: HashMap<String, String> = inventory
        .map(|inv| {
            inv.servers
                .iter()
                .map(|s| (s.id.clone(), s.hostname.clone()))
                .collect()
        })
        .unwrap_or_default();

    let mut units: Vec<Unit> = Vec::new();
    let mut units_of_group: HashMap<&str, Vec<UnitId>> = HashMap::new();
    let mut unit_of_server: HashMap<&str, UnitId> = HashMap::new();
    for (w, wave) in plan.waves.iter().enumerate() {
        for (g, entry) in wave.groups.iter().enumerate() {
            if entry_of.get(entry.group.as_str()) != Some(&(w, g)) {
                continue;
            }
            let Some(group) = groups.get(entry.group.as_str()) else {
                continue;
            };
            let path = format!("plan.waves[{w}].groups[{g}]");
            let unit_for = |key: String, label: String, servers: Vec<String>, criticality| Unit {
                id: 0,
                key,
                label,
                wave: w,
                group: entry.group.clone(),
                group_name: group.name.to_owned(),
                servers,
                criticality,
                steps: entry.steps.clone(),
                launch_timeout: entry.launch_timeout.unwrap_or(plan.defaults.launch_timeout),
                running_timeout: entry
                    .running_timeout
                    .unwrap_or(plan.defaults.running_timeout),
                needs_running: entry.steps.iter().any(Step::needs_instances),
                cuts: BTreeSet::new(),
                path: path.clone(),
                launch_settings: plan.launch_settings.merged(&entry.launch_settings),
            };
            let mut split: Vec<(String, Criticality)> = Vec::new();
            for (s, over) in entry.servers.iter().enumerate() {
                if !group.servers.contains(&over.id) {
                    p.add(
                        format!("{path}.servers[{s}].id"),
                        format!(
                            "server `{}` is not in protection group `{}`",
                            over.id, entry.group
                        ),
                    );
                } else if split.iter().any(|(id, _)| *id == over.id) {
                    p.add(
                        format!("{path}.servers[{s}].id"),
                        format!("server `{}` has two entries in this group", over.id),
                    );
                } else {
                    split.push((
                        over.id.clone(),
                        over.criticality.unwrap_or(entry.criticality),
                    ));
                }
            }
            for id in &group.servers {
                if targeted.contains(id.as_str()) && !split.iter().any(|(s, _)| s == id) {
                    split.push((id.clone(), entry.criticality));
                }
            }
            let rest: Vec<String> = group
                .servers
                .iter()
                .filter(|id| !split.iter().any(|(s, _)| s == *id))
                .cloned()
                .collect();
            let wave_key = format!("w{}", w + 1);
            let mut new_units = Vec::new();
            if !rest.is_empty() {
                new_units.push(unit_for(
                    format!("{wave_key}.{}", entry.group),
                    group.name.to_owned(),
                    rest,
                    entry.criticality,
                ));
            }
            for (id, criticality) in split {
                let host = hostnames.get(&id).cloned().unwrap_or_else(|| id.clone());
                new_units.push(unit_for(
                    format!("{wave_key}.{}.{id}", entry.group),
                    format!("{} · {host}", group.name),
                    vec![id],
                    criticality,
                ));
            }
            for mut unit in new_units {
                unit.id = units.len();
                for server in &unit.servers {
                    unit_of_server.insert(group.server_ref(server), unit.id);
                }
                units_of_group
                    .entry(&entry.group)
                    .or_default()
                    .push(unit.id);
                units.push(unit);
            }
        }
    }

    let total: usize = units.iter().map(|u| u.servers.len()).sum();
    if total > MAX_PLAN_SERVERS {
        p.add(
            "plan.waves",
            format!("the plan recovers {total} servers; the limit is {MAX_PLAN_SERVERS}"),
        );
    }

    // Dependencies become edges from the target units to the dependent units.
    let mut all_edges: BTreeSet<DepEdge> = BTreeSet::new();
    for (w, wave) in plan.waves.iter().enumerate() {
        for (g, entry) in wave.groups.iter().enumerate() {
            let Some(own_units) = units_of_group.get(entry.group.as_str()) else {
                continue;
            };
            let path = format!("plan.waves[{w}].groups[{g}]");
            let mut add = |dep: &Dependency, dep_path: String, dependents: &[UnitId]| {
                let Some(targets) = dependency_targets(
                    dep,
                    &dep_path,
                    &units,
                    &units_of_group,
                    &unit_of_server,
                    &plan.waves,
                    p,
                ) else {
                    return;
                };
                for &target in &targets {
                    let unit = &units[target];
                    if unit.wave > w {
                        p.add(
                            dep_path.clone(),
                            format!(
                                "`{}` is recovered in a later wave (`{}`) than its dependent (`{}`); a dependency must point to the same or an earlier wave",
                                dep_target_name(dep),
                                plan.waves[unit.wave].name,
                                wave.name
                            ),
                        );
                        return;
                    }
                    if dep.condition == Condition::Healthy && !unit.has_health_checks() {
                        p.add(
                            format!("{dep_path}.condition"),
                            format!(
                                "`healthy` needs health checks, and protection group `{}` has no healthCheck step; add one or use `running`",
                                unit.group
                            ),
                        );
                        return;
                    }
                }
                for &target in &targets {
                    for &dependent in dependents {
                        if target == dependent {
                            p.add(
                                dep_path.clone(),
                                format!("`{}` depends on itself", dep_target_name(dep)),
                            );
                            return;
                        }
                        all_edges.insert(DepEdge {
                            from: target,
                            stage: dep.condition,
                            to: dependent,
                            on_unmet: dep.on_unmet,
                        });
                    }
                }
            };
            for (d, dep) in entry.depends_on.iter().enumerate() {
                add(dep, format!("{path}.dependsOn[{d}]"), own_units);
            }
            for (s, over) in entry.servers.iter().enumerate() {
                let Some(&unit) = unit_of_server.get(over.id.as_str()) else {
                    continue;
                };
                for (d, dep) in over.depends_on.iter().enumerate() {
                    add(dep, format!("{path}.servers[{s}].dependsOn[{d}]"), &[unit]);
                }
            }
        }
    }

    for edge in &all_edges {
        if edge.stage >= Stage::Running {
            units[edge.from].needs_running = true;
        }
    }

    let mut waves = Vec::new();
    for (w, wave) in plan.waves.iter().enumerate() {
        let wave_units: Vec<UnitId> = units.iter().filter(|u| u.wave == w).map(|u| u.id).collect();
        let edges: Vec<DepEdge> = all_edges
            .iter()
            .filter(|e| units[e.from].wave == w && units[e.to].wave == w)
            .copied()
            .collect();
        let local: HashMap<UnitId, usize> = wave_units
            .iter()
            .enumerate()
            .map(|(i, &u)| (u, i))
            .collect();
        let local_edges: Vec<(usize, usize)> = edges
            .iter()
            .filter_map(|e| Some((*local.get(&e.from)?, *local.get(&e.to)?)))
            .collect();
        if let Some(cycle) = graph::find_cycle(wave_units.len(), &local_edges) {
            let names: Vec<String> = cycle
                .iter()
                .chain(cycle.first())
                .map(|&i| format!("`{}`", units[wave_units[i]].label))
                .collect();
            p.add(
                format!("plan.waves[{w}]"),
                format!(
                    "dependency cycle in wave `{}`: {}",
                    wave.name,
                    names.join(" → ")
                ),
            );
        }
        for edge in &edges {
            let final_stage = units[edge.from].final_stage();
            if edge.stage < final_stage {
                units[edge.from].cuts.insert(edge.stage);
            }
        }
        waves.push(ResolvedWave {
            index: w,
            name: wave.name.clone(),
            before: wave.before.clone(),
            after: wave.after.clone(),
            units: wave_units,
            edges,
        });
    }

    Resolved {
        plan_id: plan.id.clone(),
        plan_name: plan.name.clone(),
        point_in_time: plan.point_in_time,
        drill_cleanup: plan.drill.cleanup.clone(),
        notification_topic_arn: plan.notification_topic_arn.clone(),
        rto: plan.rto,
        units,
        waves,
        all_edges: all_edges.into_iter().collect(),
        hostnames,
    }
}

fn dep_target_name(dep: &Dependency) -> &str {
    dep.group
        .as_deref()
        .or(dep.server.as_deref())
        .unwrap_or("?")
}

fn dependency_targets(
    dep: &Dependency,
    path: &str,
    units: &[Unit],
    units_of_group: &HashMap<&str, Vec<UnitId>>,
    unit_of_server: &HashMap<&str, UnitId>,
    waves: &[Wave],
    p: &mut Problems,
) -> Option<Vec<UnitId>> {
    match (&dep.group, &dep.server) {
        (Some(group), None) => match units_of_group.get(group.as_str()) {
            Some(ids) => Some(ids.clone()),
            None => {
                let in_plan = waves
                    .iter()
                    .flat_map(|w| &w.groups)
                    .any(|e| &e.group == group);
                p.add(
                    format!("{path}.group"),
                    if in_plan {
                        format!("protection group `{group}` is not defined, or has no servers, so nothing can depend on it")
                    } else {
                        format!("`{group}` is not a protection group recovered by this plan")
                    },
                );
                None
            }
        },
        (None, Some(server)) => match unit_of_server.get(server.as_str()) {
            Some(&id) => Some(vec![units[id].id]),
            None => {
                if fields::is_server_id(server) {
                    p.add(
                        format!("{path}.server"),
                        format!("server `{server}` is not in any protection group of this plan"),
                    );
                }
                None
            }
        },
        // Shape problems were reported by the field checks.
        _ => None,
    }
}

struct GroupServers<'a> {
    name: &'a str,
    servers: Vec<String>,
}

impl GroupServers<'_> {
    fn server_ref<'s>(&'s self, id: &str) -> &'s str {
        self.servers
            .iter()
            .find(|s| *s == id)
            .map(String::as_str)
            .unwrap_or_default()
    }
}

fn resolve_groups<'a>(
    doc: &'a PlanDocument,
    inventory: Option<&Inventory>,
    p: &mut Problems,
) -> HashMap<&'a str, GroupServers<'a>> {
    let mut out = HashMap::new();
    let mut owner: HashMap<String, &str> = HashMap::new();
    for (i, group) in doc.protection_groups.iter().enumerate() {
        let path = format!("protectionGroups[{i}]");
        let servers: Vec<String> = match (&group.tag_selector, inventory) {
            (Some(selector), Some(inv)) if group.servers.is_empty() && !selector.is_empty() => {
                let found = inv.select(selector);
                if found.is_empty() {
                    let tags: Vec<String> =
                        selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    p.add(
                        format!("{path}.tagSelector"),
                        format!(
                            "tag selector `{}` matches no source server in the inventory",
                            tags.join(",")
                        ),
                    );
                }
                found
            }
            (Some(_), None) if group.servers.is_empty() => {
                p.add(
                    format!("{path}.tagSelector"),
                    format!("protection group `{}` selects servers by tag, so the plan needs an inventory of source servers (--inventory)", group.id),
                );
                Vec::new()
            }
            _ => {
                if let Some(inv) = inventory {
                    for (j, id) in group.servers.iter().enumerate() {
                        if fields::is_server_id(id) && inv.get(id).is_none() {
                            p.add(
                                format!("{path}.servers[{j}]"),
                                format!("server `{id}` is not in the inventory of source servers"),
                            );
                        }
                    }
                }
                let mut unique = Vec::new();
                for id in &group.servers {
                    if fields::is_server_id(id) && !unique.contains(id) {
                        unique.push(id.clone());
                    }
                }
                unique
            }
        };
        for id in &servers {
            if let Some(first) = owner.get(id) {
                if *first != group.id {
                    p.add(
                        path.clone(),
                        format!("server `{id}` is already in protection group `{first}`; a server belongs to at most one group"),
                    );
                }
            } else {
                owner.insert(id.clone(), &group.id);
            }
        }
        if !out.contains_key(group.id.as_str()) {
            out.insert(
                group.id.as_str(),
                GroupServers {
                    name: &group.name,
                    servers,
                },
            );
        }
    }
    out
}
