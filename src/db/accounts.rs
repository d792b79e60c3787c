//! Accounts: queries only; the rules (last admin, roles) are in `app::accounts`.

use super::schema::{accounts, api_tokens};
use super::{DbConnection, check_updated, parse_stored, utc};
use crate::domain::account::{Account, AccountKind, AccountStatus};
use crate::domain::{Language, Role};
use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

#[derive(Queryable, Selectable)]
#[diesel(table_name = accounts)]
struct Row {
    id: i64,
    kind: String,
    email: Option<String>,
    name: String,
    language: String,
    role: String,
    status: String,
    password_hash: Option<String>,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl Row {
    fn into_domain(self) -> Result<Account> {
        Ok(Account {
            id: self.id,
            kind: parse_stored(&self.kind)?,
            email: self.email,
            name: self.name,
            language: parse_stored(&self.language)?,
            role: parse_stored(&self.role)?,
            status: parse_stored(&self.status)?,
            has_password: self.password_hash.is_some(),
            version: self.version,
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
        })
    }
}

/// The columns of a new account.
pub struct NewAccount<'a> {
    pub kind: AccountKind,
    pub email: Option<&'a str>,
    pub name: &'a str,
    pub language: Language,
    pub role: Role,
}

pub fn insert(conn: &mut DbConnection, new: &NewAccount<'_>, now: DateTime<Utc>) -> Result<i64> {
    if let Some(email) = new.email
        && find_by_email(conn, email)?.is_some()
    {
        return Err(Error::Conflict(format!(
            "an account with the email {email} already exists"
        )));
    }
    Ok(diesel::insert_into(accounts::table)
        .values((
            accounts::kind.eq(new.kind.as_str()),
            accounts::email.eq(new.email),
            accounts::name.eq(new.name),
            accounts::language.eq(new.language.as_str()),
            accounts::role.eq(new.role.as_str()),
            accounts::status.eq(AccountStatus::Active.as_str()),
            accounts::created_at.eq(now.naive_utc()),
            accounts::updated_at.eq(now.naive_utc()),
        ))
        .returning(accounts::id)
        .get_result(conn)?)
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<Account> {
    find(conn, id)?.ok_or_else(|| Error::not_found("account", id))
}

pub fn find(conn: &mut DbConnection, id: i64) -> Result<Option<Account>> {
    accounts::table
        .find(id)
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .map(Row::into_domain)
        .transpose()
}

/// The person with this (lowercased) email.
pub fn find_by_email(conn: &mut DbConnection, email: &str) -> Result<Option<Account>> {
    accounts::table
        .filter(accounts::email.eq(email.to_lowercase()))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .map(Row::into_domain)
        .transpose()
}

/// The built-in account of this kind and name (`token` accounts are named
/// after their token; `seed` and `system` after themselves).
pub fn find_built_in(
    conn: &mut DbConnection,
    kind: AccountKind,
    name: &str,
) -> Result<Option<Account>> {
    accounts::table
        .filter(accounts::kind.eq(kind.as_str()))
        .filter(accounts::name.eq(name))
        .filter(accounts::email.is_null())
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .map(Row::into_domain)
        .transpose()
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<Account>> {
    accounts::table
        .order(accounts::id)
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(Row::into_domain)
        .collect()
}

/// The stored PHC string of a person's password, if any.
pub fn password_hash(conn: &mut DbConnection, id: i64) -> Result<Option<String>> {
    Ok(accounts::table
        .find(id)
        .select(accounts::password_hash)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten())
}

/// The fields an administrator changes, with the usual version check.
pub struct Changes<'a> {
    pub name: &'a str,
    pub language: Language,
    pub role: Role,
    pub status: AccountStatus,
}

pub fn update(
    conn: &mut DbConnection,
    id: i64,
    expected: i32,
    changes: &Changes<'_>,
    now: DateTime<Utc>,
) -> Result<()> {
    let updated = diesel::update(
        accounts::table
            .find(id)
            .filter(accounts::version.eq(expected)),
    )
    .set((
        accounts::name.eq(changes.name),
        accounts::language.eq(changes.language.as_str()),
        accounts::role.eq(changes.role.as_str()),
        accounts::status.eq(changes.status.as_str()),
        accounts::version.eq(expected + 1),
        accounts::updated_at.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    check_updated(updated, "account", id, expected, || {
        Ok(find(conn, id)?.map(|a| a.version))
    })
}

pub fn set_password_hash(
    conn: &mut DbConnection,
    id: i64,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    diesel::update(accounts::table.find(id))
        .set((
            accounts::password_hash.eq(hash),
            accounts::version.eq(accounts::version + 1),
            accounts::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// One account that can reach the API as an administrator, for the last-admin
/// rule: its id, and its live admin tokens (a person can also sign in).
pub struct AdminAccess {
    pub account_id: i64,
    pub kind: AccountKind,
    pub live_admin_tokens: Vec<i64>,
}

/// Every active admin account of a person or a token, with its live admin tokens.
pub fn admin_access(conn: &mut DbConnection) -> Result<Vec<AdminAccess>> {
    let admins: Vec<(i64, String)> = accounts::table
        .filter(accounts::role.eq(Role::Admin.as_str()))
        .filter(accounts::status.eq(AccountStatus::Active.as_str()))
        .filter(
            accounts::kind
                .eq(AccountKind::Person.as_str())
                .or(accounts::kind.eq(AccountKind::Token.as_str())),
        )
        .select((accounts::id, accounts::kind))
        .load(conn)?;
    let tokens: Vec<(i64, i64)> = api_tokens::table
        .filter(api_tokens::role.eq(Role::Admin.as_str()))
        .filter(api_tokens::revoked_at.is_null())
        .filter(api_tokens::account_id.eq_any(admins.iter().map(|a| a.0).collect::<Vec<_>>()))
        .select((api_tokens::account_id, api_tokens::id))
        .load(conn)?;
    admins
        .into_iter()
        .map(|(account_id, kind)| {
            Ok(AdminAccess {
                account_id,
                kind: parse_stored(&kind)?,
                live_admin_tokens: tokens
                    .iter()
                    .filter(|(a, _)| *a == account_id)
                    .map(|(_, t)| *t)
                    .collect(),
            })
        })
        .collect()
}
