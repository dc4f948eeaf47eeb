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
    let mut grants: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    walk(&machine.states, &mut |resource, params| {
        for (action, arn) in needs(resource, params, deployment) {
            grants.entry(action).or_default().insert(arn);
        }
    });
    if deployment.log_group_arn.is_some() {
        // Step Functions delivers logs through CloudWatch Logs' vended-log APIs, which
        // take no resource-level permissions.
        for action in LOG_DELIVERY_ACTIONS {
            grants
                .entry((*action).to_owned())
                .or_default()
                .insert("*".into());
        }
    }
    // Actions that share exactly the same resources go in one statement.
    let mut by_resources: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    for (action, resources) in grants {
        by_resources
            .entry(resources.into_iter().collect())
            .or_default()
            .push(action);
    }
    let mut statement: Vec<Statement> = by_resources
        .into_iter()
        .map(|(resource, action)| Statement {
            sid: sid(&action),
            effect: "Allow",
            action,
            resource,
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

/// (IAM action, resource ARN) pairs for one task.
fn needs(resource: &Resource, params: Option<&Value>, d: &Deployment) -> Vec<(String, String)> {
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
            (action, d.arn("drs", "source-server/*")),
            // StartRecovery creates the recovery instances and tags the job it starts.
            (
                "drs:CreateRecoveryInstanceForDrs".into(),
                d.arn("drs", "source-server/*"),
            ),
            ("drs:TagResource".into(), d.arn("drs", "job/*")),
        ],
        ("drs", "terminateRecoveryInstances") => {
            vec![(action, d.arn("drs", "recovery-instance/*"))]
        }
        // List and describe calls support no resource-level permissions.
        ("drs", _) | ("ec2", _) => vec![(action, any)],
        ("ssm", "sendCommand") => {
            let document = param("DocumentName").unwrap_or_default();
            vec![
                (action.clone(), ssm_document_arn(d, &document)),
                (
                    action,
                    format!(
                        "arn:{}:ec2:{}:{}:instance/*",
                        d.partition, d.region, d.account
                    ),
                ),
            ]
        }
        ("ssm", "startAutomationExecution") => {
            let document = param("DocumentName").unwrap_or_default();
            let arn = if document.starts_with("AWS-") {
                format!(
                    "arn:{}:ssm:{}::automation-definition/{document}:*",
                    d.partition, d.region
                )
            } else {
                d.arn("ssm", &format!("automation-definition/{document}:*"))
            };
            vec![(action, arn)]
        }
        ("ssm", "getAutomationExecution") => {
            vec![(action, d.arn("ssm", "automation-execution/*"))]
        }
        ("ssm", _) => vec![(action, any)],
        ("sns", _) => vec![(action, param("TopicArn").unwrap_or_else(|| d.topic_arn()))],
        ("dynamodb", _) => vec![(action, d.table_arn())],
        ("lambda", _) => {
            let arn = param("FunctionName").unwrap_or_else(|| d.probe_function_arn());
            vec![(action.clone(), arn.clone()), (action, format!("{arn}:*"))]
        }
        _ => vec![(action, any)],
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
