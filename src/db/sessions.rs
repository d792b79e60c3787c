//! Sign-in links, sessions and failed sign-ins: queries only (the rules are
//! in `app::sessions`).

use super::schema::{accounts, sessions, sign_in_failures, sign_in_links};
use super::{DbConnection, parse_stored, utc};
use crate::domain::Role;
use crate::domain::account::{AccountKind, AccountStatus};
use crate::domain::session::{Session, SignInMethod};
use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;

pub fn insert_link(
    conn: &mut DbConnection,
    account_id: i64,
    secret_hash: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<i64> {
    Ok(diesel::insert_into(sign_in_links::table)
        .values((
            sign_in_links::account_id.eq(account_id),
            sign_in_links::secret_hash.eq(secret_hash),
            sign_in_links::created_at.eq(now.naive_utc()),
            sign_in_links::expires_at.eq(expires_at.naive_utc()),
        ))
        .returning(sign_in_links::id)
        .get_result(conn)?)
}

/// How many links were created for the account after `since`.
pub fn links_since(conn: &mut DbConnection, account_id: i64, since: DateTime<Utc>) -> Result<i64> {
    Ok(sign_in_links::table
        .filter(sign_in_links::account_id.eq(account_id))
        .filter(sign_in_links::created_at.gt(since.naive_utc()))
        .count()
        .get_result(conn)?)
}

/// Marks the unused, unexpired link with this hash used, and returns its
/// account; None when there is no such link (unknown, used or expired). The
/// conditional UPDATE makes it single-use even with two redemptions at once.
pub fn use_link(
    conn: &mut DbConnection,
    secret_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
    Ok(diesel::update(
        sign_in_links::table
            .filter(sign_in_links::secret_hash.eq(secret_hash))
            .filter(sign_in_links::used_at.is_null())
            .filter(sign_in_links::expires_at.gt(now.naive_utc())),
    )
    .set(sign_in_links::used_at.eq(now.naive_utc()))
    .returning(sign_in_links::account_id)
    .get_result(conn)
    .optional()?)
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = sessions)]
struct Row {
    id: i64,
    account_id: i64,
    method: String,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    last_seen_at: NaiveDateTime,
    revoked_at: Option<NaiveDateTime>,
}

impl Row {
    fn into_domain(self) -> Result<Session> {
        Ok(Session {
            id: self.id,
            account_id: self.account_id,
            method: parse_stored(&self.method)?,
            created_at: utc(self.created_at),
            expires_at: utc(self.expires_at),
            last_seen_at: utc(self.last_seen_at),
            revoked_at: self.revoked_at.map(utc),
            current: false,
        })
    }
}

pub fn insert_session(
    conn: &mut DbConnection,
    account_id: i64,
    secret_hash: &str,
    method: SignInMethod,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<Session> {
    let id: i64 = diesel::insert_into(sessions::table)
        .values((
            sessions::account_id.eq(account_id),
            sessions::secret_hash.eq(secret_hash),
            sessions::method.eq(method.as_str()),
            sessions::created_at.eq(now.naive_utc()),
            sessions::expires_at.eq(expires_at.naive_utc()),
            sessions::last_seen_at.eq(now.naive_utc()),
        ))
        .returning(sessions::id)
        .get_result(conn)?;
    get_session(conn, id)
}

pub fn get_session(conn: &mut DbConnection, id: i64) -> Result<Session> {
    sessions::table
        .find(id)
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::not_found("session", id))?
        .into_domain()
}

/// A live session and its account, as authentication needs them.
pub struct Authenticated {
    pub session_id: i64,
    pub account_id: i64,
    pub account_name: String,
    pub role: Role,
}

/// The live (unrevoked, unexpired) session with this hash whose account is an
/// active person. `last_seen_at` is refreshed at most once a minute.
pub fn authenticate(
    conn: &mut DbConnection,
    secret_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<Authenticated>> {
    let Some((id, account_id, last_seen, name, role)) = sessions::table
        .inner_join(accounts::table)
        .filter(sessions::secret_hash.eq(secret_hash))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(now.naive_utc()))
        .filter(accounts::status.eq(AccountStatus::Active.as_str()))
        .filter(accounts::kind.eq(AccountKind::Person.as_str()))
        .select((
            sessions::id,
            sessions::account_id,
            sessions::last_seen_at,
            accounts::name,
            accounts::role,
        ))
        .first::<(i64, i64, NaiveDateTime, String, String)>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    if now.naive_utc() - last_seen > TimeDelta::minutes(1) {
        diesel::update(sessions::table.find(id))
            .set(sessions::last_seen_at.eq(now.naive_utc()))
            .execute(conn)?;
    }
    Ok(Some(Authenticated {
        session_id: id,
        account_id,
        account_name: name,
        role: parse_stored(&role)?,
    }))
}

/// The account's sessions that are still live, newest first.
pub fn live_sessions(
    conn: &mut DbConnection,
    account_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<Session>> {
    sessions::table
        .filter(sessions::account_id.eq(account_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(now.naive_utc()))
        .order(sessions::id.desc())
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(Row::into_domain)
        .collect()
}

/// Revokes one session; false when it is not a live session of this account.
pub fn revoke_session(
    conn: &mut DbConnection,
    account_id: i64,
    id: i64,
    now: DateTime<Utc>,
) -> Result<bool> {
    let n = diesel::update(
        sessions::table
            .find(id)
            .filter(sessions::account_id.eq(account_id))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(now.naive_utc()))
    .execute(conn)?;
    Ok(n > 0)
}

/// Revokes every live session of the account (but `keep`); returns their ids.
pub fn revoke_all_of_account(
    conn: &mut DbConnection,
    account_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<i64>> {
    revoke_others(conn, account_id, None, now)
}

pub fn revoke_others(
    conn: &mut DbConnection,
    account_id: i64,
    keep: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Vec<i64>> {
    Ok(diesel::update(
        sessions::table
            .filter(sessions::account_id.eq(account_id))
            .filter(sessions::id.ne(keep.unwrap_or(0)))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(now.naive_utc()))
    .returning(sessions::id)
    .get_results(conn)?)
}

pub fn record_failure(
    conn: &mut DbConnection,
    account_id: Option<i64>,
    ip: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    diesel::insert_into(sign_in_failures::table)
        .values((
            sign_in_failures::account_id.eq(account_id),
            sign_in_failures::ip.eq(ip),
            sign_in_failures::failed_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Forgets failures older than `since` (they no longer count).
pub fn prune_failures(conn: &mut DbConnection, since: DateTime<Utc>) -> Result<()> {
    diesel::delete(
        sign_in_failures::table.filter(sign_in_failures::failed_at.le(since.naive_utc())),
    )
    .execute(conn)?;
    Ok(())
}

/// The times of the failures after `since` for this account, oldest first.
pub fn account_failures(
    conn: &mut DbConnection,
    account_id: i64,
    since: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>> {
    Ok(sign_in_failures::table
        .filter(sign_in_failures::account_id.eq(account_id))
        .filter(sign_in_failures::failed_at.gt(since.naive_utc()))
        .order(sign_in_failures::failed_at)
        .select(sign_in_failures::failed_at)
        .load::<NaiveDateTime>(conn)?
        .into_iter()
        .map(utc)
        .collect())
}

/// The times of the failures after `since` from this address, oldest first.
pub fn ip_failures(
    conn: &mut DbConnection,
    ip: &str,
    since: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>> {
    Ok(sign_in_failures::table
        .filter(sign_in_failures::ip.eq(ip))
        .filter(sign_in_failures::failed_at.gt(since.naive_utc()))
        .order(sign_in_failures::failed_at)
        .select(sign_in_failures::failed_at)
        .load::<NaiveDateTime>(conn)?
        .into_iter()
        .map(utc)
        .collect())
}

/// After a successful sign-in the account's own count starts again.
pub fn clear_account_failures(conn: &mut DbConnection, account_id: i64) -> Result<()> {
    diesel::delete(sign_in_failures::table.filter(sign_in_failures::account_id.eq(account_id)))
        .execute(conn)?;
    Ok(())
}
