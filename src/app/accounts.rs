//! People's accounts: create, change (name, language, role, active/disabled),
//! passwords, and the rule that the API is never left without an administrator.

use super::Actor;
use super::history::{self, Action, Entry, FieldChange};
use crate::db::{DbConnection, accounts as db, sessions};
use crate::domain::account::{
    Account, AccountInput, AccountKind, AccountStatus, AccountUpdate, normalise_email,
};
use crate::domain::{Role, password};
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use serde_json::json;

/// Refuses an operation the actor's role does not include (403).
pub(crate) fn require_role(actor: &Actor, needed: Role) -> Result<()> {
    if actor.role().includes(needed) {
        Ok(())
    } else {
        Err(Error::Forbidden(format!("this needs the {needed} role")))
    }
}

/// Creates a person's account (admin only). They get in with a sign-in link
/// (see `sessions::create_link`) and may then set a password.
pub fn create(
    actor: &Actor,
    now: DateTime<Utc>,
    conn: &mut DbConnection,
    input: &AccountInput,
) -> Result<Account> {
    require_role(actor, Role::Admin)?;
    let email = normalise_email(&input.email);
    let id = db::insert(
        conn,
        &db::NewAccount {
            kind: AccountKind::Person,
            email: Some(&email),
            name: input.name.as_str(),
            language: input.language,
            role: input.role,
        },
        now,
    )?;
    let account = db::get(conn, id)?;
    record_created(conn, actor, now, &account)?;
    Ok(account)
}

/// The history entry of a new account (the email is personal data: the entry
/// names the account by id only).
pub(super) fn record_created(
    conn: &mut DbConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    account: &Account,
) -> Result<()> {
    let field = |name: &str, after: serde_json::Value| FieldChange {
        field: name.into(),
        before: serde_json::Value::Null,
        after,
        personal: false,
    };
    history::record(
        conn,
        actor,
        now,
        Entry {
            entity: "account",
            entity_id: account.id,
            action: Action::Created,
            changes: vec![
                field("kind", json!(account.kind)),
                field("language", json!(account.language)),
                field("role", json!(account.role)),
                field("status", json!(account.status)),
            ],
            reason: None,
        },
    )
}

/// The account with this id, or with this email (for the CLI).
pub fn find(conn: &mut DbConnection, id_or_email: &str) -> Result<Account> {
    match id_or_email.parse::<i64>() {
        Ok(id) => db::get(conn, id),
        Err(_) => db::find_by_email(conn, id_or_email.trim())?
            .ok_or_else(|| Error::not_found("account", id_or_email)),
    }
}

/// An administrator's change to an account. Demoting or disabling the last
/// administrator who can reach the API is refused (409); disabling an account
/// ends its sessions at once (its tokens stop too: every request checks the
/// account).
pub fn update(
    actor: &Actor,
    now: DateTime<Utc>,
    conn: &mut DbConnection,
    id: i64,
    expected_version: i32,
    change: &AccountUpdate,
) -> Result<Account> {
    require_role(actor, Role::Admin)?;
    let before = db::get(conn, id)?;
    if matches!(before.kind, AccountKind::Seed | AccountKind::System) {
        return Err(Error::Conflict(format!(
            "the built-in {} account cannot be changed",
            before.kind
        )));
    }
    let loses_admin = before.role == Role::Admin
        && before.is_active()
        && (change.role != Role::Admin || change.status != AccountStatus::Active);
    if loses_admin && !admin_left(conn, Without::Account(id))? {
        return Err(Error::Conflict(format!(
            "account {id} is the last active administrator: make another account admin before {}",
            if change.status != AccountStatus::Active {
                "disabling it"
            } else {
                "demoting it"
            }
        )));
    }
    db::update(
        conn,
        id,
        expected_version,
        &db::Changes {
            name: change.name.as_str(),
            language: change.language,
            role: change.role,
            status: change.status,
        },
        now,
    )?;
    if change.status == AccountStatus::Disabled && before.is_active() {
        for session in sessions::revoke_all_of_account(conn, id, now)? {
            super::sessions::record_session_end(conn, actor, now, session)?;
        }
    }
    let after = db::get(conn, id)?;
    let mut changes = Vec::new();
    let mut diff = |field: &str, b: serde_json::Value, a: serde_json::Value| {
        if b != a {
            changes.push(FieldChange {
                field: field.into(),
                before: b,
                after: a,
                personal: false,
            });
        }
    };
    diff("language", json!(before.language), json!(after.language));
    diff("role", json!(before.role), json!(after.role));
    diff("status", json!(before.status), json!(after.status));
    if before.name != after.name {
        // The name is personal data: the history says it changed, not to what.
        changes.push(FieldChange {
            field: "name".into(),
            before: serde_json::Value::Null,
            after: serde_json::Value::Null,
            personal: true,
        });
    }
    if !changes.is_empty() {
        let action = if before.status != after.status {
            Action::StateChanged
        } else {
            Action::Updated
        };
        history::record(
            conn,
            actor,
            now,
            Entry {
                entity: "account",
                entity_id: id,
                action,
                changes,
                reason: None,
            },
        )?;
    }
    Ok(after)
}

/// `update` with only the role changed (the CLI's `user set-role`).
pub fn set_role(
    actor: &Actor,
    now: DateTime<Utc>,
    conn: &mut DbConnection,
    id: i64,
    role: Role,
) -> Result<Account> {
    let current = db::get(conn, id)?;
    let change = AccountUpdate {
        name: crate::domain::Name::parse(&current.name).map_err(|e| Error::invalid("name", e))?,
        language: current.language,
        role,
        status: current.status,
        version: None,
    };
    update(actor, now, conn, id, current.version, &change)
}

/// `update` with only the status changed (the CLI's `user disable` / `enable`).
pub fn set_status(
    actor: &Actor,
    now: DateTime<Utc>,
    conn: &mut DbConnection,
    id: i64,
    status: AccountStatus,
) -> Result<Account> {
    let current = db::get(conn, id)?;
    let change = AccountUpdate {
        name: crate::domain::Name::parse(&current.name).map_err(|e| Error::invalid("name", e))?,
        language: current.language,
        role: current.role,
        status,
        version: None,
    };
    update(actor, now, conn, id, current.version, &change)
}

/// Sets (or replaces) the password of the acting person. When one is already
/// set, the current one must be given: a stolen session alone cannot lock the
/// owner out. Every other session of the account ends (whoever knew the old
/// password is signed out); the one making the change stays.
pub fn set_own_password(
    actor: &Actor,
    now: DateTime<Utc>,
    conn: &mut DbConnection,
    current: Option<&str>,
    new: &str,
) -> Result<Account> {
    let account_id = actor
        .account_id()
        .ok_or_else(|| Error::Forbidden("only a person has a password".into()))?;
    let account = db::get(conn, account_id)?;
    if account.kind != AccountKind::Person {
        return Err(Error::Forbidden(
            "built-in accounts cannot have a password".into(),
        ));
    }
    if let Some(stored) = db::password_hash(conn, account_id)? {
        let given = current.ok_or_else(|| {
            Error::invalid("current_password", "give the current password to change it")
        })?;
        if !password::verify(given, &stored) {
            return Err(Error::invalid(
                "current_password",
                "this is not the current password",
            ));
        }
    }
    password::check(new).map_err(|e| Error::invalid("password", e))?;
    let hash = password::hash(new)?;
    db::set_password_hash(conn, account_id, &hash, now)?;
    let current_session = match actor {
        Actor::Account { session_id, .. } => *session_id,
        _ => None,
    };
    for ended in sessions::revoke_others(conn, account_id, current_session, now)? {
        super::sessions::record_session_end(conn, actor, now, ended)?;
    }
    history::record(
        conn,
        actor,
        now,
        Entry {
            entity: "account",
            entity_id: account_id,
            action: Action::Updated,
            // The fact only: never the password or its hash.
            changes: vec![FieldChange {
                field: "password".into(),
                before: json!(account.has_password),
                after: json!(true),
                personal: false,
            }],
            reason: None,
        },
    )?;
    db::get(conn, account_id)
}

/// What is taken away, for the last-administrator rule.
#[derive(Debug, Clone, Copy)]
pub(super) enum Without {
    Nothing,
    Account(i64),
    Token(i64),
}

/// Whether an administrator could still reach the API without `without`: an
/// active admin person (who can always sign in), or an active admin account
/// with a live admin token.
pub(super) fn admin_left(conn: &mut DbConnection, without: Without) -> Result<bool> {
    Ok(db::admin_access(conn)?.into_iter().any(|a| match without {
        Without::Account(id) if a.account_id == id => false,
        _ if a.kind == AccountKind::Person => true,
        Without::Token(id) => a.live_admin_tokens.iter().any(|t| *t != id),
        Without::Account(_) | Without::Nothing => !a.live_admin_tokens.is_empty(),
    }))
}

/// Whether any administrator can reach the API (the CLI suggests creating one
/// when none can).
pub fn any_admin(conn: &mut DbConnection) -> Result<bool> {
    admin_left(conn, Without::Nothing)
}

/// An account's preferences: the account itself, or an administrator.
pub fn preferences(
    actor: &Actor,
    conn: &mut DbConnection,
    id: i64,
) -> Result<crate::domain::account::AccountPreferences> {
    own_or_admin(actor, id)?;
    db::get(conn, id)?;
    Ok(crate::domain::account::AccountPreferences {
        weekly_digest: crate::db::reminders::weekly_digest(conn, id)?,
    })
}

/// Changes an account's preferences (the weekly digest on or off), by the
/// account itself or an administrator; recorded in the history.
pub fn set_preferences(
    actor: &Actor,
    now: DateTime<Utc>,
    conn: &mut DbConnection,
    id: i64,
    wanted: &crate::domain::account::AccountPreferences,
) -> Result<crate::domain::account::AccountPreferences> {
    let before = preferences(actor, conn, id)?;
    if before == *wanted {
        return Ok(before);
    }
    crate::db::reminders::set_weekly_digest(conn, id, wanted.weekly_digest, now)?;
    history::record(
        conn,
        actor,
        now,
        Entry {
            entity: "account",
            entity_id: id,
            action: Action::Updated,
            changes: vec![FieldChange {
                field: "preferences.weekly_digest".into(),
                before: json!(before.weekly_digest),
                after: json!(wanted.weekly_digest),
                personal: false,
            }],
            reason: None,
        },
    )?;
    preferences(actor, conn, id)
}

fn own_or_admin(actor: &Actor, id: i64) -> Result<()> {
    if actor.account_id() == Some(id) {
        Ok(())
    } else {
        require_role(actor, Role::Admin)
    }
}

/// The acting person's own language (the interface's and their emails'),
/// recorded in the history. Any role may change their own.
pub fn set_own_language(
    actor: &Actor,
    now: DateTime<Utc>,
    conn: &mut DbConnection,
    language: crate::domain::Language,
) -> Result<Account> {
    let account_id = actor
        .account_id()
        .ok_or_else(|| Error::Forbidden("only an account has a language".into()))?;
    let before = db::get(conn, account_id)?;
    if before.kind != AccountKind::Person {
        return Err(Error::Forbidden(
            "a built-in account's language is not its own to change".into(),
        ));
    }
    if before.language == language {
        return Ok(before);
    }
    db::update(
        conn,
        account_id,
        before.version,
        &db::Changes {
            name: &before.name,
            language,
            role: before.role,
            status: before.status,
        },
        now,
    )?;
    history::record(
        conn,
        actor,
        now,
        Entry {
            entity: "account",
            entity_id: account_id,
            action: Action::Updated,
            changes: vec![FieldChange {
                field: "language".into(),
                before: json!(before.language),
                after: json!(language),
                personal: false,
            }],
            reason: None,
        },
    )?;
    db::get(conn, account_id)
}
