//! Who may do what: the one table. Routes state the same roles in their
//! extractors (for an early 401/403 and the OpenAPI document); the operations
//! check this table whoever calls them (API, web pages, CLI, import).

use super::Actor;
use crate::domain::Role;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Read any record of the plan.
    Read,
    /// Create or edit plans, campaigns, activities, issues, lists, people, …
    Write,
    /// Send a draft for review; answer changes requested.
    SubmitForReview,
    /// Approve what goes out, or ask for changes.
    Approve,
    /// Send an approved newsletter issue, invite participants.
    SendApproved,
    /// Delete records.
    Delete,
    /// Accounts, tokens, private feeds.
    Administer,
}

/// The least role each operation needs.
pub const TABLE: &[(Operation, Role)] = &[
    (Operation::Read, Role::Viewer),
    (Operation::Write, Role::Editor),
    (Operation::SubmitForReview, Role::Editor),
    (Operation::SendApproved, Role::Editor),
    (Operation::Approve, Role::Approver),
    (Operation::Delete, Role::Admin),
    (Operation::Administer, Role::Admin),
];

pub fn needed(op: Operation) -> Role {
    TABLE
        .iter()
        .find(|(o, _)| *o == op)
        .map(|(_, r)| *r)
        .unwrap_or(Role::Admin)
}

pub fn require(actor: &Actor, op: Operation) -> Result<()> {
    let needed = needed(op);
    if actor.role().includes(needed) {
        Ok(())
    } else {
        Err(Error::Forbidden(format!("this needs the {needed} role")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(role: Role) -> Actor {
        Actor::Account {
            account_id: 1,
            token_id: None,
            session_id: None,
            role,
        }
    }

    #[test]
    fn each_role_includes_the_ones_below() {
        use Operation::*;
        let allowed = |role| {
            [
                Read,
                Write,
                SubmitForReview,
                SendApproved,
                Approve,
                Delete,
                Administer,
            ]
            .into_iter()
            .filter(|op| require(&account(role), *op).is_ok())
            .count()
        };
        assert_eq!(allowed(Role::Viewer), 1);
        assert_eq!(allowed(Role::Editor), 4);
        assert_eq!(allowed(Role::Approver), 5);
        assert_eq!(allowed(Role::Admin), 7);
        assert!(require(&Actor::Import { organisation_id: 1 }, Approve).is_err());
        assert!(require(&Actor::Seed, Approve).is_ok());
    }
}
