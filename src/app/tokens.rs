//! API tokens: each belongs to an account and acts as it, with at most its role.

use super::Actor;
use super::accounts::{Without, admin_left, record_created, require_role};
use super::history::{self, Action, Entry, FieldChange};
use crate::db::{DbConnection, accounts, tokens as db};
use crate::domain::Role;
use crate::domain::account::{AccountKind, AccountStatus};
use crate::domain::token::{CreatedToken, Token, TokenInput};
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use serde_json::json;

/// Creates a token (admin only). With `account_id` it acts as that account and
/// may not have a role above the account's; without, it gets a built-in
/// account of its own, named after it, with the token's role (what a token was
/// before accounts existed).
pub fn create(
    actor: &Actor,
    now: DateTime<Utc>,
    conn: &mut DbConnection,
    input: &TokenInput,
) -> Result<CreatedToken> {
    require_role(actor, Role::Admin)?;
    create_checked(actor, now, conn, input)
}

/// A token of the acting account's own (any role): it acts as that account,
/// with at most what the acting credential may do (a token with a lower role
/// cannot make one with a higher).
pub fn create_own(
    actor: &Actor,
    now: DateTime<Utc>,
    conn: &mut DbConnection,
    name: crate::domain::text::Name,
    role: Role,
) -> Result<CreatedToken> {
    let account_id = actor
        .account_id()
        .ok_or_else(|| Error::Forbidden("only an account has tokens".into()))?;
    if !actor.role().includes(role) {
        return Err(Error::invalid(
            "role",
            format!(
                "a token cannot do more than who creates it: this is {}",
                actor.role()
            ),
        ));
    }
    create_checked(
        actor,
        now,
        conn,
        &TokenInput {
            name,
            role,
            account_id: Some(account_id),
        },
    )
}

/// The tokens the actor may see: every one for an administrator, else the
/// acting account's own. Never their secrets.
pub fn visible(actor: &Actor, conn: &mut DbConnection) -> Result<Vec<Token>> {
    if actor.role().includes(Role::Admin) {
        return db::list(conn);
    }
    let account_id = actor
        .account_id()
        .ok_or_else(|| Error::Forbidden("only an account has tokens".into()))?;
    db::list_of_account(conn, account_id)
}

/// Revokes one of the acting account's own tokens (any role; 404 for anyone
/// else's, unless the actor is an administrator, who may revoke any).
pub fn revoke_own(
    actor: &Actor,
    now: DateTime<Utc>,
    conn: &mut DbConnection,
    id: i64,
) -> Result<Token> {
    if actor.role().includes(Role::Admin) {
        return revoke(actor, now, conn, &id.to_string());
    }
    let token = db::get(conn, id)?;
    if Some(token.account_id) != actor.account_id() {
        return Err(Error::not_found("token", id));
    }
    revoke_checked(actor, now, conn, token)
}

/// `create` once the actor is known to be allowed.
fn create_checked(
    actor: &Actor,
    now: DateTime<Utc>,
    conn: &mut DbConnection,
    input: &TokenInput,
) -> Result<CreatedToken> {
    let name = input.name.as_str();
    if db::find_by_name(conn, name)?.is_some() {
        return Err(Error::Conflict(format!(
            "a token named {name:?} already exists"
        )));
    }
    let account = match input.account_id {
        Some(id) => {
            let account = accounts::find(conn, id)?
                .ok_or_else(|| Error::invalid("account_id", format!("no account with id {id}")))?;
            if !matches!(account.kind, AccountKind::Person | AccountKind::Token) {
                return Err(Error::invalid(
                    "account_id",
                    format!("the built-in {} account cannot have tokens", account.kind),
                ));
            }
            if account.status != AccountStatus::Active {
                return Err(Error::invalid(
                    "account_id",
                    format!("account {id} is disabled"),
                ));
            }
            account
        }
        None => match accounts::find_built_in(conn, AccountKind::Token, name)? {
            Some(account) => account,
            None => {
                let id = accounts::insert(
                    conn,
                    &accounts::NewAccount {
                        kind: AccountKind::Token,
                        email: None,
                        name,
                        language: crate::domain::Language::En,
                        role: input.role,
                    },
                    now,
                )?;
                let account = accounts::get(conn, id)?;
                record_created(conn, actor, now, &account)?;
                account
            }
        },
    };
    if !account.role.includes(input.role) {
        return Err(Error::invalid(
            "role",
            format!(
                "a token cannot do more than its account: account {} is {}",
                account.id, account.role
            ),
        ));
    }
    let created = db::create(conn, account.id, name, input.role, now)?;
    history::record(
        conn,
        actor,
        now,
        Entry {
            entity: "token",
            entity_id: created.token.id,
            action: Action::Created,
            changes: vec![
                FieldChange {
                    field: "account_id".into(),
                    before: serde_json::Value::Null,
                    after: json!(account.id),
                    personal: false,
                },
                FieldChange {
                    field: "name".into(),
                    before: serde_json::Value::Null,
                    after: json!(created.token.name),
                    personal: false,
                },
                FieldChange {
                    field: "role".into(),
                    before: serde_json::Value::Null,
                    after: json!(created.token.role),
                    personal: false,
                },
            ],
            reason: None,
        },
    )?;
    Ok(created)
}

/// Revokes a token by id or name (admin only). The last way in as an
/// administrator cannot be revoked (409): the API would be locked.
pub fn revoke(
    actor: &Actor,
    now: DateTime<Utc>,
    conn: &mut DbConnection,
    id_or_name: &str,
) -> Result<Token> {
    require_role(actor, Role::Admin)?;
    let token = db::find_by_id_or_name(conn, id_or_name)?;
    revoke_checked(actor, now, conn, token)
}

/// `revoke` once the actor is known to be allowed.
fn revoke_checked(
    actor: &Actor,
    now: DateTime<Utc>,
    conn: &mut DbConnection,
    token: Token,
) -> Result<Token> {
    if token.revoked_at.is_some() {
        return Ok(token);
    }
    if token.role == Role::Admin && !admin_left(conn, Without::Token(token.id))? {
        let which = match actor {
            Actor::Account {
                token_id: Some(t), ..
            } if *t == token.id => "this token".to_owned(),
            _ => format!("token {}", token.id),
        };
        return Err(Error::Conflict(format!(
            "{which} is the last way in as an administrator: create another admin token or account first"
        )));
    }
    let revoked = db::revoke(conn, token.id, now)?;
    history::record(
        conn,
        actor,
        now,
        Entry {
            entity: "token",
            entity_id: token.id,
            action: Action::StateChanged,
            changes: vec![FieldChange {
                field: "revoked_at".into(),
                before: serde_json::Value::Null,
                after: json!(revoked.revoked_at),
                personal: false,
            }],
            reason: None,
        },
    )?;
    Ok(revoked)
}
