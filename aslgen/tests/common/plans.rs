//! Random plans from a seed: valid by construction, or broken on purpose.

use aslgen::model::*;
use indexmap::IndexMap;

/// xorshift64*: tiny, deterministic, good enough to shape test plans.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

fn duration(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

fn random_step(rng: &mut Rng, in_group: bool, index: usize) -> Step {
    let kinds = if in_group { 5 } else { 2 };
    let name = Some(format!("Step {index}"));
    match rng.below(kinds) {
        0 => Step::Approval(ApprovalStep {
            name,
            message: rng.chance(50).then(|| "Go? It's {ready} \\ now".to_owned()),
            approvers: if rng.chance(50) {
                vec!["Approver".into()]
            } else {
                vec![]
            },
            timeout: duration(3_600),
            on_timeout: if rng.chance(50) {
                OnTimeout::Fail
            } else {
                OnTimeout::Continue
            },
            recovery_quorum: 1 + rng.below(2) as u8,
            drill_quorum: 1 + rng.below(2) as u8,
        }),
        1 => Step::Wait(WaitStep {
            name,
            duration: duration(1 + rng.below(600)),
        }),
        2 => Step::Ssm(SsmStep {
            name,
            document: "AWS-RunShellScript".into(),
            kind: if rng.chance(70) {
                SsmKind::Command
            } else {
                SsmKind::Automation
            },
            parameters: IndexMap::from([("commands".to_owned(), vec!["true".to_owned()])]),
            timeout: duration(300),
            on_failure: if rng.chance(50) {
                OnFailure::Fail
            } else {
                OnFailure::Continue
            },
        }),
        3 => Step::HealthCheck(HealthCheckStep {
            name,
            check: match rng.below(4) {
                0 => HealthProbe::Ec2Status,
                1 => HealthProbe::Tcp { port: 5432 },
                2 => HealthProbe::Http(HttpProbe {
                    port: 8080,
                    path: "/health".into(),
                    https: false,
                    expect_status: 200,
                }),
                _ => HealthProbe::Ssm {
                    document: "DRS-Check".into(),
                    parameters: IndexMap::new(),
                },
            },
            timeout: duration(600),
        }),
        _ => Step::Wait(WaitStep {
            name,
            duration: duration(5),
        }),
    }
}

/// A valid plan: dependencies only point backwards (earlier wave, or earlier in the wave).
pub fn valid_plan(seed: u64) -> PlanDocument {
    let mut rng = Rng::new(seed);
    let wave_count = 1 + rng.below(4) as usize;
    let mut groups: Vec<ProtectionGroup> = Vec::new();
    let mut waves: Vec<Wave> = Vec::new();
    let mut placed: Vec<(String, bool, Vec<String>)> = Vec::new(); // id, has health check, servers
    let mut next_server = 0u64;
    for w in 0..wave_count {
        let mut entries = Vec::new();
        for _ in 0..1 + rng.below(4) {
            let id = format!("g{}", groups.len() + 1);
            let count = if rng.chance(8) {
                101 + rng.below(30)
            } else {
                1 + rng.below(4)
            };
            let servers: Vec<String> = (0..count)
                .map(|_| {
                    next_server += 1;
                    aslgen::synth::server_id(next_server)
                })
                .collect();
            let steps: Vec<Step> = (0..rng.below(3))
                .map(|i| random_step(&mut rng, true, i as usize))
                .collect();
            let has_health = steps.iter().any(|s| matches!(s, Step::HealthCheck(_)));
            let mut depends_on = Vec::new();
            let mut overrides = Vec::new();
            for _ in 0..rng.below(3) {
                if placed.is_empty() {
                    break;
                }
                let (target, target_health, target_servers) = rng.pick(&placed).clone();
                let mut condition =
                    *rng.pick(&[Condition::Launched, Condition::Running, Condition::Healthy]);
                if condition == Condition::Healthy && !target_health {
                    condition = Condition::Running;
                }
                let on_unmet = if rng.chance(20) {
                    aslgen::model::OnUnmet::Proceed
                } else {
                    aslgen::model::OnUnmet::Skip
                };
                let dep = if rng.chance(25) {
                    Dependency {
                        group: None,
                        server: Some(rng.pick(&target_servers).clone()),
                        condition,
                        on_unmet,
                    }
                } else {
                    Dependency {
                        group: Some(target),
                        server: None,
                        condition,
                        on_unmet,
                    }
                };
                if rng.chance(20) {
                    overrides.push(ServerOverride {
                        id: servers[0].clone(),
                        criticality: Some(Criticality::Optional),
                        depends_on: vec![dep],
                    });
                } else if !depends_on.contains(&dep) {
                    depends_on.push(dep);
                }
            }
            overrides.dedup_by(|a, b| a.id == b.id);
            entries.push(WaveGroup {
                launch_settings: Default::default(),
                group: id.clone(),
                criticality: if rng.chance(30) {
                    Criticality::Optional
                } else {
                    Criticality::Critical
                },
                depends_on,
                steps,
                launch_timeout: None,
                running_timeout: None,
                servers: overrides,
            });
            placed.push((id.clone(), has_health, servers.clone()));
            groups.push(ProtectionGroup {
                id: id.clone(),
                name: format!("Group {id}"),
                description: None,
                servers,
                tag_selector: None,
            });
        }
        let before = (0..rng.below(2))
            .map(|i| random_step(&mut rng, false, i as usize))
            .collect();
        let after = (0..rng.below(2))
            .map(|i| random_step(&mut rng, false, i as usize))
            .collect();
        waves.push(Wave {
            name: format!("Wave {}", w + 1),
            before,
            groups: entries,
            after,
        });
    }
    let cleanup = match rng.below(4) {
        0 => DrillCleanup::Immediate,
        1 => DrillCleanup::Keep,
        2 => DrillCleanup::After(duration(600)),
        _ => DrillCleanup::OnApproval(ApprovalStep {
            name: None,
            message: None,
            approvers: vec![],
            timeout: duration(3_600),
            on_timeout: OnTimeout::Continue,
            recovery_quorum: 1,
            drill_quorum: 1,
        }),
    };
    PlanDocument {
        protection_groups: groups,
        plan: RecoveryPlan {
            launch_settings: Default::default(),
            id: format!("p{seed:x}").chars().take(40).collect(),
            name: format!("Plan {seed}"),
            description: None,
            rto: None,
            notification_topic_arn: None,
            point_in_time: rng.chance(20),
            defaults: Timeouts::default(),
            drill: DrillPolicy { cleanup },
            waves,
        },
    }
}

/// A plan broken in a way validation must catch; returns the plan and what was done.
pub fn invalid_plan(seed: u64) -> (PlanDocument, &'static str) {
    let mut doc = valid_plan(seed);
    let mut rng = Rng::new(seed ^ 0xDEAD_BEEF);
    let waves = doc.plan.waves.len();
    let w = rng.below(waves as u64) as usize;
    let g = rng.below(doc.plan.waves[w].groups.len() as u64) as usize;
    let what = match rng.below(10) {
        0 => {
            doc.plan.waves[w].groups[g].group = "no-such-group".into();
            "unknown group"
        }
        1 => {
            let own = doc.plan.waves[w].groups[g].group.clone();
            doc.plan.waves[w].groups[g].depends_on.push(Dependency {
                group: Some(own),
                server: None,
                condition: Condition::Launched,
                on_unmet: Default::default(),
            });
            "self dependency"
        }
        2 => {
            doc.plan.waves[w].groups.clear();
            "empty wave"
        }
        3 => {
            doc.protection_groups[0].servers.push("s-123".into());
            "malformed server id"
        }
        4 => {
            doc.plan.defaults.launch_timeout = duration(0);
            "zero launch timeout"
        }
        5 => {
            let dup = doc.protection_groups[0].servers[0].clone();
            let last = doc.protection_groups.len() - 1;
            if last == 0 {
                doc.protection_groups[0].servers.push(dup);
            } else {
                doc.protection_groups[last].servers.push(dup);
            }
            "server in two groups"
        }
        6 => {
            // A dependency on a later wave.
            doc.plan.waves.push(Wave {
                name: "Later".into(),
                before: vec![],
                groups: vec![WaveGroup {
                    launch_settings: Default::default(),
                    group: "late".into(),
                    criticality: Criticality::Critical,
                    depends_on: vec![],
                    steps: vec![],
                    launch_timeout: None,
                    running_timeout: None,
                    servers: vec![],
                }],
                after: vec![],
            });
            doc.protection_groups.push(ProtectionGroup {
                id: "late".into(),
                name: "Late".into(),
                description: None,
                servers: vec![aslgen::synth::server_id(999_999)],
                tag_selector: None,
            });
            doc.plan.waves[0].groups[0].depends_on.push(Dependency {
                group: Some("late".into()),
                server: None,
                condition: Condition::Launched,
                on_unmet: Default::default(),
            });
            "dependency on a later wave"
        }
        7 => {
            // A two-group cycle inside wave w.
            let wave = &mut doc.plan.waves[w];
            wave.groups.push(WaveGroup {
                launch_settings: Default::default(),
                group: "cyc-a".into(),
                criticality: Criticality::Critical,
                depends_on: vec![Dependency {
                    group: Some("cyc-b".into()),
                    server: None,
                    condition: Condition::Launched,
                    on_unmet: Default::default(),
                }],
                steps: vec![],
                launch_timeout: None,
                running_timeout: None,
                servers: vec![],
            });
            wave.groups.push(WaveGroup {
                launch_settings: Default::default(),
                group: "cyc-b".into(),
                criticality: Criticality::Critical,
                depends_on: vec![Dependency {
                    group: Some("cyc-a".into()),
                    server: None,
                    condition: Condition::Running,
                    on_unmet: Default::default(),
                }],
                steps: vec![],
                launch_timeout: None,
                running_timeout: None,
                servers: vec![],
            });
            for id in ["cyc-a", "cyc-b"] {
                doc.protection_groups.push(ProtectionGroup {
                    id: id.into(),
                    name: id.into(),
                    description: None,
                    servers: vec![aslgen::synth::server_id(if id == "cyc-a" {
                        888_001
                    } else {
                        888_002
                    })],
                    tag_selector: None,
                });
            }
            "dependency cycle"
        }
        8 => {
            // An SSM step aimed at an instance the plan did not recover.
            doc.plan.waves[w].groups[g].steps.push(Step::Ssm(SsmStep {
                name: Some("Aimed elsewhere".into()),
                document: "AWS-RestartEC2Instance".into(),
                kind: SsmKind::Automation,
                parameters: IndexMap::from([(
                    "InstanceId".to_owned(),
                    vec!["i-0123456789abcdef0".to_owned()],
                )]),
                timeout: duration(300),
                on_failure: OnFailure::Fail,
            }));
            "SSM step naming its instance"
        }
        _ => {
            doc.plan.id = "Not A Slug!".into();
            "bad plan id"
        }
    };
    (doc, what)
}
