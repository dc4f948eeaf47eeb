//! Deciding an approval: once, by a named approver who did not start the run, while the
//! run still waits; a quorum counts distinct people, recorded in one conditional write
//! each.

use crate::auth::{Principal, Role};
use crate::error::{ApiError, Detail};
use crate::machines::{CallbackError, Runs};
use crate::store::{DecisionRecord, Item, RunStore, number, text};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A comment's limit, in characters.
pub const MAX_COMMENT_CHARS: usize = 2_000;

/// Approval statuses as the machines write them (`PENDING`) and the API moves them.
pub mod status {
    pub const PENDING: &str = "PENDING";
    pub const APPROVED: &str = "APPROVED";
    pub const REJECTED: &str = "REJECTED";
    /// The run ended (cancelled, failed, restarted) before a decision: void.
    pub const CANCELLED: &str = "CANCELLED";
    /// Shown, never stored: pending past its deadline.
    pub const EXPIRED: &str = "EXPIRED";
}

/// When the approval stops accepting decisions.
pub fn expires_at(approval: &Item) -> Option<OffsetDateTime> {
    let requested = OffsetDateTime::parse(&text(approval, "requestedAt"), &Rfc3339).ok()?;
    Some(requested + time::Duration::seconds(number(approval, "timeoutSeconds") as i64))
}

/// Whether `principal` is among those the approval names: the named approvers (user
/// names, emails or groups), or any Approver when none are named. Admins always are.
/// (Whether they may decide *this run* is `separation_of_duties`.)
pub fn may_decide(approval: &Item, principal: &Principal) -> bool {
    if principal.roles.contains(&Role::Admin) {
        return true;
    }
    let named: Vec<String> = approval
        .get("approvers")
        .and_then(|v| v.as_l().ok())
        .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
        .unwrap_or_default();
    if named.is_empty() {
        return principal.roles.contains(&Role::Approver);
    }
    // Emails are matched whatever their case (people are recorded by lower-case email).
    named.iter().any(|n| {
        n.eq_ignore_ascii_case(&principal.user)
            || Role::parse(n).is_some_and(|r| principal.roles.contains(&r))
    })
}

/// How many distinct people must approve: the plan's quorum for the run's mode.
pub fn quorum(approval: &Item) -> u64 {
    let field = if text(approval, "mode") == "RECOVERY" {
        "recoveryQuorum"
    } else {
        "drillQuorum"
    };
    number(approval, field).max(1)
}

/// What a decision came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Decided and handed to the run.
    Decided { status: &'static str },
    /// A vote toward a quorum; more are needed.
    Counted { votes: u64, needed: u64 },
}

pub struct Decision<'a> {
    pub id: &'a str,
    pub approve: bool,
    pub comment: &'a str,
}

/// Checks the comment's length in characters, not bytes.
pub fn check_comment(comment: &str) -> Result<(), ApiError> {
    let chars = comment.chars().count();
    if chars > MAX_COMMENT_CHARS {
        return Err(ApiError::invalid(
            "the comment is too long",
            vec![Detail {
                path: "comment".into(),
                message: format!("{chars} characters; at most {MAX_COMMENT_CHARS}"),
            }],
        ));
    }
    Ok(())
}

/// Decides: every rule is checked before anything is written, and every write is one
/// conditional write, so concurrent deciders cannot double-count or decide twice.
pub async fn decide(
    records: &dyn RunStore,
    runs: &dyn Runs,
    principal: &Principal,
    d: Decision<'_>,
) -> Result<Outcome, ApiError> {
    check_comment(d.comment)?;
    let id = d.id;
    let approval = records
        .approval(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("approval `{id}` does not exist")))?;
    let current = text(&approval, "status");
    if current == status::CANCELLED {
        return Err(ApiError::conflict(format!(
            "approval `{id}` is void: {}",
            text(&approval, "statusNote")
        )));
    }
    if current != status::PENDING {
        return Err(ApiError::conflict(format!(
            "approval `{id}` was already decided: {current} by `{}`",
            text(&approval, "decidedBy")
        )));
    }
    if expires_at(&approval).is_some_and(|t| t <= OffsetDateTime::now_utc()) {
        return Err(ApiError::gone(format!("approval `{id}` has expired")));
    }
    if !may_decide(&approval, principal) {
        return Err(ApiError::forbidden(format!(
            "`{}` is not among the approvers of `{id}`",
            principal.user
        )));
    }
    separation_of_duties(records, &approval, principal).await?;
    let run = text(&approval, "executionArn");
    let engine = runs.status(&run).await?;
    if engine.as_deref() != Some("RUNNING") {
        let ended = engine.unwrap_or_else(|| "gone".into());
        void(
            records,
            id,
            &format!("the run ended ({ended}) before a decision"),
        )
        .await?;
        return Err(ApiError::conflict(format!(
            "approval `{id}` is void: its run ended ({ended}); nothing was decided"
        )));
    }
    let user = principal.user.as_str();
    let needed = quorum(&approval);
    if d.approve && needed > 1 {
        let Some(votes) = records.vote(id, user, d.comment).await? else {
            return Err(ApiError::conflict(format!(
                "`{user}` has already approved `{id}`, or it was decided meanwhile; a different approver must give the next approval"
            )));
        };
        if votes < needed {
            return Ok(Outcome::Counted { votes, needed });
        }
    }
    let decided = if d.approve {
        status::APPROVED
    } else {
        status::REJECTED
    };
    let record = DecisionRecord {
        id,
        status: decided,
        user,
        comment: d.comment,
        quorum: (d.approve && needed > 1).then_some(needed),
    };
    if !records.decide(&record).await? {
        return Err(ApiError::conflict(format!(
            "approval `{id}` was decided meanwhile"
        )));
    }
    let token = text(&approval, "taskToken");
    let answered = if d.approve {
        let output = serde_json::json!({"decision": decided, "by": user, "comment": d.comment});
        runs.approve(&token, &output.to_string()).await
    } else {
        let cause = if d.comment.is_empty() {
            format!("rejected by {user}")
        } else {
            format!("rejected by {user}: {}", d.comment)
        };
        runs.reject(&token, aslgen::compile::errors::APPROVAL_REJECTED, &cause)
            .await
    };
    match answered {
        Ok(()) => Ok(Outcome::Decided { status: decided }),
        Err(CallbackError::Gone(why)) => {
            records
                .set_approval_status(id, decided, status::CANCELLED, &why)
                .await?;
            Err(ApiError::conflict(format!(
                "approval `{id}` is void: its run no longer waits for it; nothing was decided"
            )))
        }
        Err(CallbackError::Failed(e)) => {
            // The engine did not take it: reopen, so the decision can be given again.
            records
                .set_approval_status(
                    id,
                    decided,
                    status::PENDING,
                    "the decision did not reach the run; decide again",
                )
                .await?;
            Err(e)
        }
    }
}

/// The person who started a run never decides its gates (an Admin neither).
async fn separation_of_duties(
    records: &dyn RunStore,
    approval: &Item,
    principal: &Principal,
) -> Result<(), ApiError> {
    let run = text(approval, "executionName");
    let started_by = records
        .execution_record(&run)
        .await?
        .map(|r| text(&r, "startedBy"))
        .unwrap_or_default();
    if !started_by.is_empty() && started_by == principal.user {
        return Err(ApiError::forbidden(format!(
            "`{}` started run `{run}` and cannot approve its gates: another person must decide",
            principal.user
        )));
    }
    Ok(())
}

/// Voids a pending approval (conditional on PENDING: a decision taken meanwhile stays).
pub async fn void(records: &dyn RunStore, id: &str, why: &str) -> Result<bool, ApiError> {
    Ok(records
        .set_approval_status(id, status::PENDING, status::CANCELLED, why)
        .await?)
}

/// Voids every pending approval of a run that ended (cancel): they leave the inbox.
pub async fn void_all_of_run(
    records: &dyn RunStore,
    execution_name: &str,
    why: &str,
) -> Result<usize, ApiError> {
    let mut voided = 0;
    for approval in records.approvals().await? {
        if text(&approval, "executionName") == execution_name
            && text(&approval, "status") == status::PENDING
            && void(records, &text(&approval, "approvalId"), why).await?
        {
            voided += 1;
        }
    }
    Ok(voided)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    fn approval(fields: &[(&str, AttributeValue)]) -> Item {
        fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn quorum_follows_the_mode() {
        let n = |v: &str| AttributeValue::N(v.into());
        let s = |v: &str| AttributeValue::S(v.into());
        let both = [("recoveryQuorum", n("2")), ("drillQuorum", n("3"))];
        let mut recovery = approval(&both);
        recovery.insert("mode".into(), s("RECOVERY"));
        let mut drill = approval(&both);
        drill.insert("mode".into(), s("DRILL"));
        assert_eq!((quorum(&recovery), quorum(&drill)), (2, 3));
        assert_eq!(quorum(&approval(&[("mode", s("DRILL"))])), 1);
    }

    #[test]
    fn comments_are_counted_in_characters() {
        assert!(check_comment(&"é".repeat(MAX_COMMENT_CHARS)).is_ok());
        let e = check_comment(&"é".repeat(MAX_COMMENT_CHARS + 1)).expect_err("too long");
        assert_eq!(e.details[0].message, "2001 characters; at most 2000");
    }

    #[test]
    fn named_approvers_match_user_names_and_groups() {
        let named = approval(&[(
            "approvers",
            AttributeValue::L(vec![
                AttributeValue::S("dana@example.com".into()),
                AttributeValue::S("Operator".into()),
            ]),
        )]);
        let who = |user: &str, role: Role| Principal {
            user: user.into(),
            roles: [role].into(),
        };
        assert!(may_decide(&named, &who("dana@example.com", Role::Viewer)));
        assert!(may_decide(&named, &who("olga", Role::Operator)));
        assert!(!may_decide(&named, &who("arne", Role::Approver)));
        assert!(may_decide(&approval(&[]), &who("arne", Role::Approver)));
    }
}
