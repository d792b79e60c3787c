use super::schema::api_tokens;
use super::{DbConnection, parse_stored, utc};
use crate::domain::Role;
use crate::domain::token::{self, CreatedToken, Token, TokenInput};
use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;

#[derive(Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
struct Row {
    id: i64,
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
            name: self.name,
            role: parse_stored(&self.role)?,
            created_at: utc(self.created_at),
            last_used_at: self.last_used_at.map(utc),
            revoked_at: self.revoked_at.map(utc),
        })
    }
}

pub fn create(
    conn: &mut DbConnection,
    input: &TokenInput,
    now: DateTime<Utc>,
) -> Result<CreatedToken> {
    let (secret, hash) = token::generate();
    let id: i64 = diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::name.eq(input.name.as_str()),
            api_tokens::role.eq(input.role.as_str()),
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

/// Revokes by id or by name. Revoking twice is harmless.
pub fn revoke(conn: &mut DbConnection, id_or_name: &str, now: DateTime<Utc>) -> Result<Token> {
    let id: i64 = match id_or_name.parse::<i64>() {
        Ok(id) => id,
        Err(_) => api_tokens::table
            .filter(api_tokens::name.eq(id_or_name))
            .select(api_tokens::id)
            .first(conn)
            .optional()?
            .ok_or_else(|| Error::not_found("token", id_or_name))?,
    };
    let updated = diesel::update(
        api_tokens::table
            .find(id)
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(now.naive_utc()))
    .execute(conn)?;
    let token = get(conn, id)?;
    if updated == 0 && token.revoked_at.is_none() {
        return Err(Error::not_found("token", id));
    }
    Ok(token)
}

/// The live token with this secret, if any. `last_used_at` is refreshed at most
/// once a minute so reads do not become writes.
pub fn authenticate(
    conn: &mut DbConnection,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Option<Token>> {
    if !secret.starts_with(token::PREFIX) {
        return Ok(None);
    }
    let hash = token::hash(secret);
    let Some(row) = api_tokens::table
        .filter(api_tokens::token_hash.eq(&hash))
        .filter(api_tokens::revoked_at.is_null())
        .select(Row::as_select())
        .first(conn)
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
    row.into_domain().map(Some)
}

/// Whether any admin token exists (the CLI suggests creating one when none does).
pub fn has_admin(conn: &mut DbConnection) -> Result<bool> {
    let n: i64 = api_tokens::table
        .filter(api_tokens::role.eq(Role::Admin.as_str()))
        .filter(api_tokens::revoked_at.is_null())
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}
