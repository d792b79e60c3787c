//! Who performs an operation: checked against the rules and written in the history.

use crate::domain::Role;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A person: signed in (a session) or through one of their API tokens. `role`
    /// is what this credential may do: the account's role, or less for a token
    /// created with a lower one.
    Account {
        account_id: i64,
        token_id: Option<i64>,
        session_id: Option<i64>,
        role: Role,
    },
    /// Pregón's own scheduled work (the dispatcher, reminders, retention).
    System,
    /// Loading the default plan (`pregon seed`, first start).
    Seed,
    /// An `.ics` import of this partner organisation's calendar.
    Import { organisation_id: i64 },
}

impl Actor {
    /// What this actor may do. Pregón's own work acts as an administrator; an
    /// import may only write what an editor may.
    pub fn role(&self) -> Role {
        match self {
            Actor::Account { role, .. } => *role,
            Actor::System | Actor::Seed => Role::Admin,
            Actor::Import { .. } => Role::Editor,
        }
    }

    pub fn account_id(&self) -> Option<i64> {
        match self {
            Actor::Account { account_id, .. } => Some(*account_id),
            _ => None,
        }
    }
}
