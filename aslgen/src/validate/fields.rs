//! Checks of single fields and local rules: ids, names, durations, steps.

use super::{MAX_GROUPS_PER_WAVE, MAX_NAME_LEN, MAX_STEPS_PER_SCOPE, MAX_WAVES, Problems};
use crate::model::{
    ApprovalStep, DrillCleanup, Duration, HealthProbe, PlanDocument, SsmStep, Step,
};
use std::collections::HashMap;

const ONE_YEAR: u64 = 365 * 86_400;

pub(crate) fn is_server_id(id: &str) -> bool {
    hex_id(id, "s-")
}

pub(crate) fn is_snapshot_id(id: &str) -> bool {
    hex_id(id, "pit-")
}

fn hex_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .is_some_and(|hex| hex.len() == 17 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Lowercase letters, digits and dashes; starts with a letter or digit; at most 40.
pub(crate) fn is_slug(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 40
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-')
}

fn slug_problem(p: &mut Problems, path: String, what: &str, id: &str) {
    if !is_slug(id) {
        p.add(
            path,
            format!("{what} id `{id}` must be 1 to 40 lowercase letters, digits or dashes, not starting or ending with a dash"),
        );
    }
}

fn name_problem(p: &mut Problems, path: String, what: &str, name: &str) {
    if name.trim().is_empty() {
        p.add(path, format!("{what} name is empty"));
    } else if name.chars().count() > MAX_NAME_LEN {
        p.add(
            path,
            format!("{what} name `{name}` is longer than {MAX_NAME_LEN} characters"),
        );
    } else if name.chars().any(char::is_control) {
        p.add(
            path,
            format!(
                "{what} name `{}` contains a control character",
                name.escape_debug()
            ),
        );
    }
}

fn duration_range(p: &mut Problems, path: String, what: &str, d: Duration, min: u64, max: u64) {
    let secs = d.as_secs();
    if secs < min || secs > max {
        p.add(
            path,
            format!(
                "{what} `{d}` is out of range ({} to {})",
                Duration::from_secs(min),
                Duration::from_secs(max)
            ),
        );
    }
}

pub(crate) fn check(doc: &PlanDocument, p: &mut Problems) {
    let plan = &doc.plan;
    slug_problem(p, "plan.id".into(), "plan", &plan.id);
    name_problem(p, "plan.name".into(), "plan", &plan.name);
    if let Some(arn) = &plan.notification_topic_arn {
        let parts: Vec<&str> = arn.split(':').collect();
        if parts.len() != 6 || parts[0] != "arn" || parts[2] != "sns" || parts[5].is_empty() {
            p.add(
                "plan.notificationTopicArn",
                format!("`{arn}` is not an SNS topic ARN (arn:PARTITION:sns:REGION:ACCOUNT:NAME)"),
            );
        }
    }
    if let Some(rto) = plan.rto {
        duration_range(p, "plan.rto".into(), "RTO", rto, 60, 30 * 86_400);
    }
    duration_range(
        p,
        "plan.defaults.launchTimeout".into(),
        "launch timeout",
        plan.defaults.launch_timeout,
        60,
        86_400,
    );
    duration_range(
        p,
        "plan.defaults.runningTimeout".into(),
        "running timeout",
        plan.defaults.running_timeout,
        60,
        86_400,
    );
    match &plan.drill.cleanup {
        DrillCleanup::After(d) => duration_range(
            p,
            "plan.drill.cleanup.after".into(),
            "drill cleanup delay",
            *d,
            60,
            ONE_YEAR / 2,
        ),
        DrillCleanup::OnApproval(a) => approval(p, "plan.drill.cleanup.onApproval", a),
        DrillCleanup::Immediate | DrillCleanup::Keep => {}
    }

    let mut group_ids: HashMap<&str, usize> = HashMap::new();
    let mut group_names: HashMap<&str, usize> = HashMap::new();
    for (i, g) in doc.protection_groups.iter().enumerate() {
        let path = format!("protectionGroups[{i}]");
        if let Some(first) = group_ids.insert(&g.id, i) {
            p.add(
                format!("{path}.id"),
                format!(
                    "protection group id `{}` is already used by protectionGroups[{first}]",
                    g.id
                ),
            );
        }
        if let Some(first) = group_names.insert(&g.name, i) {
            p.add(
                format!("{path}.name"),
                format!(
                    "protection group name `{}` is already used by protectionGroups[{first}]",
                    g.name
                ),
            );
        }
        group(p, &format!("{path}."), g);
    }

    if plan.waves.is_empty() {
        p.add("plan.waves", "the plan has no waves");
    }
    if plan.waves.len() > MAX_WAVES {
        p.add(
            "plan.waves",
            format!(
                "the plan has {} waves; the limit is {MAX_WAVES}",
                plan.waves.len()
            ),
        );
    }
    let mut wave_names: HashMap<&str, usize> = HashMap::new();
    for (w, wave) in plan.waves.iter().enumerate() {
        let path = format!("plan.waves[{w}]");
        name_problem(p, format!("{path}.name"), "wave", &wave.name);
        if let Some(first) = wave_names.insert(&wave.name, w) {
            p.add(
                format!("{path}.name"),
                format!(
                    "wave name `{}` is already used by waves[{first}]",
                    wave.name
                ),
            );
        }
        if wave.groups.is_empty() {
            p.add(
                format!("{path}.groups"),
                format!("wave `{}` has no groups", wave.name),
            );
        }
        if wave.groups.len() > MAX_GROUPS_PER_WAVE {
            p.add(
                format!("{path}.groups"),
                format!(
                    "wave `{}` has {} groups; the limit is {MAX_GROUPS_PER_WAVE}",
                    wave.name,
                    wave.groups.len()
                ),
            );
        }
        steps(p, &format!("{path}.before"), &wave.before, false);
        steps(p, &format!("{path}.after"), &wave.after, false);
        for (g, entry) in wave.groups.iter().enumerate() {
            let gpath = format!("{path}.groups[{g}]");
            steps(p, &format!("{gpath}.steps"), &entry.steps, true);
            if let Some(d) = entry.launch_timeout {
                duration_range(
                    p,
                    format!("{gpath}.launchTimeout"),
                    "launch timeout",
                    d,
                    60,
                    86_400,
                );
            }
            if let Some(d) = entry.running_timeout {
                duration_range(
                    p,
                    format!("{gpath}.runningTimeout"),
                    "running timeout",
                    d,
                    60,
                    86_400,
                );
            }
            for (d, dep) in entry.depends_on.iter().enumerate() {
                dependency_shape(p, &format!("{gpath}.dependsOn[{d}]"), dep);
            }
            for (s, server) in entry.servers.iter().enumerate() {
                let spath = format!("{gpath}.servers[{s}]");
                if !is_server_id(&server.id) {
                    p.add(
                        format!("{spath}.id"),
                        format!(
                            "`{}` is not a DRS source server ID (`s-` followed by 17 hex digits)",
                            server.id
                        ),
                    );
                }
                for (d, dep) in server.depends_on.iter().enumerate() {
                    dependency_shape(p, &format!("{spath}.dependsOn[{d}]"), dep);
                }
            }
        }
    }
}

/// Checks one protection group; `prefix` is prepended to every path (`protectionGroups[0].`).
pub(crate) fn group(p: &mut Problems, prefix: &str, g: &crate::model::ProtectionGroup) {
    slug_problem(p, format!("{prefix}id"), "protection group", &g.id);
    name_problem(p, format!("{prefix}name"), "protection group", &g.name);
    let whole = prefix.trim_end_matches('.');
    let whole = if whole.is_empty() { "(group)" } else { whole };
    match (&g.servers.is_empty(), &g.tag_selector) {
        (false, Some(_)) => p.add(
            whole,
            format!(
                "protection group `{}` has both `servers` and `tagSelector`; choose one",
                g.id
            ),
        ),
        (true, None) => p.add(
            whole,
            format!(
                "protection group `{}` selects no servers: give `servers` or `tagSelector`",
                g.id
            ),
        ),
        (true, Some(sel)) if sel.is_empty() => p.add(
            format!("{prefix}tagSelector"),
            format!("protection group `{}` has an empty tag selector", g.id),
        ),
        _ => {}
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (j, id) in g.servers.iter().enumerate() {
        if !is_server_id(id) {
            p.add(
                format!("{prefix}servers[{j}]"),
                format!("`{id}` is not a DRS source server ID (`s-` followed by 17 hex digits)"),
            );
        } else if let Some(first) = seen.insert(id, j) {
            p.add(
                format!("{prefix}servers[{j}]"),
                format!("server `{id}` is listed twice (also servers[{first}])"),
            );
        }
    }
}

fn dependency_shape(p: &mut Problems, path: &str, dep: &crate::model::Dependency) {
    match (&dep.group, &dep.server) {
        (Some(_), Some(_)) => p.add(
            path,
            "a dependency names either a `group` or a `server`, not both",
        ),
        (None, None) => p.add(path, "a dependency must name a `group` or a `server`"),
        (None, Some(id)) if !is_server_id(id) => p.add(
            format!("{path}.server"),
            format!("`{id}` is not a DRS source server ID (`s-` followed by 17 hex digits)"),
        ),
        _ => {}
    }
}

fn steps(p: &mut Problems, path: &str, steps: &[Step], in_group: bool) {
    if steps.len() > MAX_STEPS_PER_SCOPE {
        p.add(
            path,
            format!("{} steps; the limit is {MAX_STEPS_PER_SCOPE}", steps.len()),
        );
    }
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, step) in steps.iter().enumerate() {
        let spath = format!("{path}[{i}]");
        if let Some(name) = step.name() {
            name_problem(p, format!("{spath}.name"), "step", name);
            if let Some(first) = names.insert(name, i) {
                p.add(
                    format!("{spath}.name"),
                    format!("step name `{name}` is already used by [{first}]"),
                );
            }
        }
        if !in_group && step.needs_instances() {
            p.add(
                spath.clone(),
                format!(
                    "a `{}` step acts on recovered instances, so it belongs in a group's `steps`, not in a wave's before/after",
                    step.kind()
                ),
            );
        }
        match step {
            Step::Approval(a) => approval(p, &spath, a),
            Step::Wait(w) => duration_range(
                p,
                format!("{spath}.duration"),
                "wait",
                w.duration,
                1,
                ONE_YEAR / 2,
            ),
            Step::Ssm(s) => ssm(p, &spath, s),
            Step::HealthCheck(h) => {
                duration_range(
                    p,
                    format!("{spath}.timeout"),
                    "health check timeout",
                    h.timeout,
                    10,
                    86_400,
                );
                match &h.check {
                    HealthProbe::Tcp { port } if *port == 0 => p.add(
                        format!("{spath}.check.tcp.port"),
                        "port `0` is not a TCP port",
                    ),
                    HealthProbe::Http(http) => {
                        if http.port == 0 {
                            p.add(
                                format!("{spath}.check.http.port"),
                                "port `0` is not a TCP port",
                            );
                        }
                        if !(100..=599).contains(&http.expect_status) {
                            p.add(
                                format!("{spath}.check.http.expectStatus"),
                                format!("`{}` is not an HTTP status code", http.expect_status),
                            );
                        }
                        if !http.path.starts_with('/') || http.path.chars().any(char::is_whitespace)
                        {
                            p.add(
                                format!("{spath}.check.http.path"),
                                format!("`{}` is not a URL path (it must start with `/` and have no spaces)", http.path),
                            );
                        }
                    }
                    HealthProbe::Ssm {
                        document,
                        parameters,
                    } => {
                        document_name(p, &format!("{spath}.check.ssm.document"), document);
                        ssm_parameters(p, &format!("{spath}.check.ssm.parameters"), parameters);
                    }
                    HealthProbe::Tcp { .. } | HealthProbe::Ec2Status => {}
                }
            }
        }
    }
}

fn approval(p: &mut Problems, path: &str, a: &ApprovalStep) {
    duration_range(
        p,
        format!("{path}.timeout"),
        "approval timeout",
        a.timeout,
        60,
        ONE_YEAR / 2,
    );
    if !(1..=2).contains(&a.recovery_quorum) {
        p.add(
            format!("{path}.recoveryQuorum"),
            format!("recovery quorum `{}` must be 1 or 2", a.recovery_quorum),
        );
    }
    if !(1..=2).contains(&a.drill_quorum) {
        p.add(
            format!("{path}.drillQuorum"),
            format!("drill quorum `{}` must be 1 or 2", a.drill_quorum),
        );
    }
    if let Some(message) = &a.message
        && message.chars().count() > 2_000
    {
        p.add(
            format!("{path}.message"),
            "the message is longer than 2,000 characters",
        );
    }
}

fn ssm(p: &mut Problems, path: &str, s: &SsmStep) {
    document_name(p, &format!("{path}.document"), &s.document);
    ssm_parameters(p, &format!("{path}.parameters"), &s.parameters);
    duration_range(
        p,
        format!("{path}.timeout"),
        "SSM timeout",
        s.timeout,
        30,
        48 * 3_600,
    );
}

/// Document parameters that would choose where, or as whom, an SSM step runs. The machine
/// targets every SSM step at its group's recovered instances itself (SendCommand's
/// `InstanceIds`, a runbook's `InstanceId`), and runbooks run with the machine's role.
fn steering_parameter(name: &str) -> Option<&'static str> {
    let key: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if key.contains("instanceid") {
        Some("chooses instances")
    } else if matches!(
        key.as_str(),
        "targets" | "targetmaps" | "targetlocations" | "targetparametername" | "targetsmaxerrors"
    ) {
        Some("chooses targets")
    } else if key == "automationassumerole" {
        Some("chooses the role the runbook runs as")
    } else {
        None
    }
}

fn ssm_parameters(
    p: &mut Problems,
    path: &str,
    parameters: &indexmap::IndexMap<String, Vec<String>>,
) {
    for (name, values) in parameters {
        if name.ends_with(".$") {
            p.add(
                format!("{path}.{name}"),
                format!("parameter name `{name}` ends in `.$`, which Step Functions reads as a path into the machine's data, not a document parameter"),
            );
        } else if let Some(what) = steering_parameter(name) {
            p.add(
                format!("{path}.{name}"),
                format!(
                    "parameter `{name}` = `{}` {what}; an SSM step runs only on its group's recovered instances, which the machine sets itself",
                    values.join(",")
                ),
            );
        }
    }
}

fn document_name(p: &mut Problems, path: &str, name: &str) {
    let ok = (3..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.:/".contains(&b));
    if !ok {
        p.add(
            path,
            format!("`{name}` is not an SSM document name (3 to 128 letters, digits, `_ - . : /`)"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steering_parameters() {
        for name in [
            "InstanceId",
            "InstanceIds",
            "instance_ids",
            "TargetInstanceId",
            "UnreachableInstanceId",
            "Targets",
            "TargetParameterName",
            "TargetMaps",
            "TargetLocations",
            "AutomationAssumeRole",
        ] {
            assert!(steering_parameter(name).is_some(), "{name}");
        }
        for name in [
            "commands",
            "services",
            "SourceAmiId",
            "Instance",
            "TargetType",
        ] {
            assert_eq!(steering_parameter(name), None, "{name}");
        }
    }

    #[test]
    fn ids() {
        assert!(is_server_id("s-0123456789abcdef0"));
        assert!(!is_server_id("s-0123456789abcdef"));
        assert!(!is_server_id("i-0123456789abcdef0"));
        assert!(!is_server_id("s-0123456789abcdefg"));
        assert!(is_slug("shop-dr-1"));
        assert!(!is_slug("Shop"));
        assert!(!is_slug("-x"));
        assert!(!is_slug(""));
    }
}
