use super::schema::{accounts, api_tokens};
use super::{DbConnection, parse_stored, utc};
use crate::domain::Role;
use crate::domain::account::AccountStatus;
use crate::domain::token::{self, CreatedToken, Token};
use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;

#[derive(Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
struct Row {
    id: i64,
    account_id: i64,
    name: String,
    role: String,
    created_at: NaiveDateTime,
    last_used_at: Option<NaiveDateTime>,
    revoked_at: Option<NaiveDateTime>,
}

impl Row {
    fn into_domain(self) -> Result<Token> {
        Ok(Token {
            id: self.id,
            account_id: self.account_id,
            name: self.name,
            role: parse_stored(&self.role)?,
            created_at: utc(self.created_at),
            last_used_at: self.last_used_at.map(utc),
            revoked_at: self.revoked_at.map(utc),
        })
    }
}

/// Inserts a token of `account_id`; the secret is returned, only its hash kept.
pub fn create(
    conn: &mut DbConnection,
    account_id: i64,
    name: &str,
    role: Role,
    now: DateTime<Utc>,
) -> Result<CreatedToken> {
    if find_by_name(conn, name)?.is_some() {
        return Err(Error::Conflict(format!(
            "a token named {name:?} already exists"
        )));
    }
    let (secret, hash) = token::generate();
    let id: i64 = diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::account_id.eq(account_id),
            api_tokens::name.eq(name),
            api_tokens::role.eq(role.as_str()),
            api_tokens::token_hash.eq(&hash),
            api_tokens::created_at.eq(now.naive_utc()),
        ))
        .returning(api_tokens::id)
        .get_result(conn)?;
    Ok(CreatedToken {
        token: get(conn, id)?,
        secret,
    })
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<Token> {
    api_tokens::table
        .find(id)
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::not_found("token", id))?
        .into_domain()
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<Token>> {
    api_tokens::table
        .order(api_tokens::id)
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(Row::into_domain)
        .collect()
}

/// The token with this id (digits) or name.
pub fn find_by_id_or_name(conn: &mut DbConnection, id_or_name: &str) -> Result<Token> {
    match id_or_name.parse::<i64>() {
        Ok(id) => get(conn, id),
        Err(_) => {
            find_by_name(conn, id_or_name)?.ok_or_else(|| Error::not_found("token", id_or_name))
        }
    }
}

pub fn find_by_name(conn: &mut DbConnection, name: &str) -> Result<Option<Token>> {
    api_tokens::table
        .filter(api_tokens::name.eq(name))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .map(Row::into_domain)
        .transpose()
}

/// The tokens of one account.
pub fn list_of_account(conn: &mut DbConnection, account_id: i64) -> Result<Vec<Token>> {
    api_tokens::table
        .filter(api_tokens::account_id.eq(account_id))
        .order(api_tokens::id)
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(Row::into_domain)
        .collect()
}

/// Marks a token revoked. Revoking twice is harmless (the first date stays).
pub fn revoke(conn: &mut DbConnection, id: i64, now: DateTime<Utc>) -> Result<Token> {
    diesel::update(
        api_tokens::table
            .find(id)
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(now.naive_utc()))
    .execute(conn)?;
    get(conn, id)
}

/// A live token and what its account lets it do now.
pub struct Authenticated {
    pub token: Token,
    pub account_name: String,
    pub account_role: Role,
}

/// The live token with this secret whose account is active, if any. Both are
/// read on every request, so a revoked token or a disabled account stops at
/// once. `last_used_at` is refreshed at most once a minute so reads do not
/// become writes.
pub fn authenticate(
    conn: &mut DbConnection,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Option<Authenticated>> {
    if !secret.starts_with(token::PREFIX) {
        return Ok(None);
    }
    let hash = token::hash(secret);
    let Some((row, account_name, account_role)) = api_tokens::table
        .inner_join(accounts::table)
        .filter(api_tokens::token_hash.eq(&hash))
        .filter(api_tokens::revoked_at.is_null())
        .filter(accounts::status.eq(AccountStatus::Active.as_str()))
        .select((Row::as_select(), accounts::name, accounts::role))
        .first::<(Row, String, String)>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let stale = row
        .last_used_at
        .is_none_or(|t| now.naive_utc() - t > TimeDelta::minutes(1));
    if stale {
        diesel::update(api_tokens::table.find(row.id))
            .set(api_tokens::last_used_at.eq(now.naive_utc()))
            .execute(conn)?;
    }
    Ok(Some(Authenticated {
        token: row.into_domain()?,
        account_name,
        account_role: parse_stored(&account_role)?,
    }))
}
