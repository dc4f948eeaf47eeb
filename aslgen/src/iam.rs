//! IAM statements derived from the machine itself: each task declares what it calls, so
//! the execution role can be checked against exactly what the compiler emits.

use crate::asl::{Resource, State, StateMachine, States};
use crate::compile::Deployment;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Policy {
    pub version: &'static str,
    pub statement: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    pub sid: String,
    pub effect: &'static str,
    pub action: Vec<String>,
    pub resource: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition>,
}

/// An IAM `Condition` block: operator → condition key → value.
pub type Condition = BTreeMap<String, BTreeMap<String, String>>;

/// The tag DRS puts on every instance it launches: its service-linked role may run an
/// instance only with this tag in the request, and may stop or terminate only instances
/// that carry it (AWS managed policy `AWSElasticDisasterRecoveryServiceRolePolicy`).
pub const DRS_MANAGED_TAG: &str = "AWSElasticDisasterRecoveryManaged";

/// A narrowing of a grant to some resources of its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Only {
    /// EC2 instances DRS launched (they carry [`DRS_MANAGED_TAG`]), by the instance's tag
    /// as Systems Manager sees it (`ssm:resourceTag/…`, Run Command's documented key for
    /// restricting commands to tagged instances; a service key, so the rule that
    /// SendCommand policies with global keys also need `aws:ViaAWSService` does not apply).
    RecoveryInstances,
}

impl Only {
    fn condition(self) -> Condition {
        match self {
            Only::RecoveryInstances => BTreeMap::from([(
                "Null".to_owned(),
                BTreeMap::from([(
                    format!("ssm:resourceTag/{DRS_MANAGED_TAG}"),
                    "false".to_owned(),
                )]),
            )]),
        }
    }

    fn sid_suffix(self) -> &'static str {
        match self {
            Only::RecoveryInstances => "OnRecoveryInstances",
        }
    }
}

/// One (action, resource) a task needs, possibly only for some resources of the type.
struct Need {
    action: String,
    resource: String,
    only: Option<Only>,
}

impl Need {
    fn new(action: impl Into<String>, resource: impl Into<String>) -> Self {
        Need {
            action: action.into(),
            resource: resource.into(),
            only: None,
        }
    }

    fn only(mut self, only: Only) -> Self {
        self.only = Some(only);
        self
    }
}

/// What a machine created with a logging configuration needs (Step Functions guide,
/// "IAM policies for logging to CloudWatch Logs").
pub const LOG_DELIVERY_ACTIONS: &[&str] = &[
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:UpdateLogDelivery",
];

/// The least-privilege policy for a machine's execution role.
pub fn policy_for(machine: &StateMachine, deployment: &Deployment) -> Policy {
    policy_for_all(&[machine], deployment)
}

/// The least-privilege policy for the one role a plan's machines share (its machine and
/// the child machines it runs).
pub fn policy_for_all(machines: &[&StateMachine], deployment: &Deployment) -> Policy {
    // (action, narrowing) → resources: a narrowed grant is a statement of its own, since
    // a condition applies to every resource of its statement.
    let mut grants: BTreeMap<(String, Option<Only>), BTreeSet<String>> = BTreeMap::new();
    for machine in machines {
        walk(&machine.states, &mut |resource, params| {
            for need in needs(resource, params, deployment) {
                grants
                    .entry((need.action, need.only))
                    .or_default()
                    .insert(need.resource);
            }
        });
    }
    if deployment.log_group_arn.is_some() {
        // Step Functions delivers logs through CloudWatch Logs' vended-log APIs, which
        // take no resource-level permissions.
        for action in LOG_DELIVERY_ACTIONS {
            grants
                .entry(((*action).to_owned(), None))
                .or_default()
                .insert("*".into());
        }
    }
    // Actions that share exactly the same resources and narrowing go in one statement.
    let mut by_resources: BTreeMap<(Vec<String>, Option<Only>), Vec<String>> = BTreeMap::new();
    for ((action, only), resources) in grants {
        by_resources
            .entry((resources.into_iter().collect(), only))
            .or_default()
            .push(action);
    }
    let mut statement: Vec<Statement> = by_resources
        .into_iter()
        .map(|((resource, only), action)| Statement {
            sid: sid(&action) + only.map_or("", Only::sid_suffix),
            effect: "Allow",
            action,
            resource,
            condition: only.map(Only::condition),
        })
        .collect();
    statement.sort_by(|a, b| a.sid.cmp(&b.sid));
    Policy {
        version: "2012-10-17",
        statement,
    }
}

fn sid(actions: &[String]) -> String {
    let services: BTreeSet<&str> = actions.iter().filter_map(|a| a.split(':').next()).collect();
    let mut sid: String = services
        .iter()
        .map(|s| {
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    let first = actions
        .first()
        .and_then(|a| a.split(':').nth(1))
        .unwrap_or("");
    sid.push_str(first);
    sid.retain(|c| c.is_ascii_alphanumeric());
    sid
}

fn walk(states: &States, visit: &mut dyn FnMut(&Resource, Option<&Value>)) {
    for state in states.values() {
        match state {
            State::Task(task) => visit(&task.resource, task.parameters.as_ref()),
            State::Parallel(parallel) => {
                for branch in &parallel.branches {
                    walk(&branch.states, visit);
                }
            }
            State::Map(map) => walk(&map.item_processor.states, visit),
            _ => {}
        }
    }
}

/// What one task needs: (IAM action, resource ARN), possibly narrowed.
fn needs(resource: &Resource, params: Option<&Value>, d: &Deployment) -> Vec<Need> {
    let action = resource.iam_action();
    let param = |key: &str| {
        params
            .and_then(|p| p.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let any = "*".to_owned();
    match (resource.service(), resource.action()) {
        ("drs", "startRecovery") => vec![
            Need::new(action, d.arn("drs", "source-server/*")),
            // StartRecovery creates the recovery instances and tags the job it starts.
            Need::new(
                "drs:CreateRecoveryInstanceForDrs",
                d.arn("drs", "source-server/*"),
            ),
            Need::new("drs:TagResource", d.arn("drs", "job/*")),
        ],
        ("drs", "terminateRecoveryInstances") => {
            vec![Need::new(action, d.arn("drs", "recovery-instance/*"))]
        }
        // List and describe calls support no resource-level permissions.
        ("drs", _) | ("ec2", _) => vec![Need::new(action, any)],
        ("ssm", "sendCommand") => {
            let document = param("DocumentName").unwrap_or_default();
            vec![
                Need::new(action.clone(), ssm_document_arn(d, &document)),
                // The machine sends to the run's recovered instances; the role may send
                // to no instance DRS did not launch.
                Need::new(
                    action,
                    format!(
                        "arn:{}:ec2:{}:{}:instance/*",
                        d.partition, d.region, d.account
                    ),
                )
                .only(Only::RecoveryInstances),
            ]
        }
        ("ssm", "startAutomationExecution") => {
            // StartAutomationExecution authorises the runbook only: which instance it
            // acts on is a document parameter IAM cannot see (templates/rules/exceptions.md).
            // The runbook runs with this role's permissions, so a command it sends is
            // bound by the narrowed SendCommand grant above.
            let document = param("DocumentName").unwrap_or_default();
            let arn = if document.starts_with("AWS-") {
                format!(
                    "arn:{}:ssm:{}::automation-definition/{document}:*",
                    d.partition, d.region
                )
            } else {
                d.arn("ssm", &format!("automation-definition/{document}:*"))
            };
            vec![Need::new(action, arn)]
        }
        ("ssm", "getAutomationExecution") => {
            vec![Need::new(action, d.arn("ssm", "automation-execution/*"))]
        }
        ("ssm", _) => vec![Need::new(action, any)],
        ("sns", _) => vec![Need::new(
            action,
            param("TopicArn").unwrap_or_else(|| d.topic_arn()),
        )],
        ("dynamodb", _) => vec![Need::new(action, d.table_arn())],
        // A child execution run to completion: start it (its versions too), follow and
        // stop it, through the managed rule Step Functions uses to hear that it ended.
        ("states", a) if a.starts_with("startExecution") => {
            let machine = param("StateMachineArn").unwrap_or_default();
            let executions = format!("{}:*", machine.replacen(":stateMachine:", ":execution:", 1));
            let rule = format!(
                "arn:{}:events:{}:{}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule",
                d.partition, d.region, d.account
            );
            vec![
                Need::new("states:StartExecution", machine.clone()),
                Need::new("states:StartExecution", format!("{machine}:*")),
                Need::new("states:DescribeExecution", executions.clone()),
                Need::new("states:StopExecution", executions),
                Need::new("events:PutTargets", rule.clone()),
                Need::new("events:PutRule", rule.clone()),
                Need::new("events:DescribeRule", rule),
            ]
        }
        ("lambda", _) => {
            let arn = param("FunctionName").unwrap_or_else(|| d.probe_function_arn());
            vec![
                Need::new(action.clone(), arn.clone()),
                Need::new(action, format!("{arn}:*")),
            ]
        }
        _ => vec![Need::new(action, any)],
    }
}

fn ssm_document_arn(d: &Deployment, document: &str) -> String {
    if document.starts_with("arn:") {
        document.to_owned()
    } else if document.starts_with("AWS-") || document.starts_with("AWSEC2-") {
        // Documents owned by AWS have no account in their ARN.
        format!("arn:{}:ssm:{}::document/{document}", d.partition, d.region)
    } else {
        d.arn("ssm", &format!("document/{document}"))
    }
}
