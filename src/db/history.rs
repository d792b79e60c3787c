//! Queries on the append-only change history. What goes in an entry, and its
//! hash, is decided in `app::history`; this module stores and reads rows.

use super::schema::history;
use super::{DbConnection, on_backend, raw_sql};
use crate::error::Result;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::cell::Cell;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = history)]
pub struct Row {
    pub id: i64,
    pub at: NaiveDateTime,
    pub actor_kind: String,
    pub account_id: Option<i64>,
    pub token_id: Option<i64>,
    pub session_id: Option<i64>,
    pub organisation_id: Option<i64>,
    pub entity: String,
    pub entity_id: i64,
    pub action: String,
    pub changes: String,
    pub reason: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = history, treat_none_as_default_value = false)]
pub struct NewRow<'a> {
    pub at: NaiveDateTime,
    pub actor_kind: &'a str,
    pub account_id: Option<i64>,
    pub token_id: Option<i64>,
    pub session_id: Option<i64>,
    pub organisation_id: Option<i64>,
    pub entity: &'a str,
    pub entity_id: i64,
    pub action: &'a str,
    pub changes: &'a str,
    pub reason: Option<&'a str>,
    pub prev_hash: &'a str,
    pub hash: &'a str,
}

thread_local! {
    /// Entries appended on this thread that change what Pregón publishes. A write
    /// transaction runs on one thread, so `Db::transaction` compares this before
    /// and after to know whether caches of published data must be rebuilt.
    static PUBLISHED_CHANGES: Cell<u64> = const { Cell::new(0) };
}

pub fn published_changes_on_this_thread() -> u64 {
    PUBLISHED_CHANGES.with(Cell::get)
}

/// The hash of the newest entry, with appends serialised until the caller's
/// transaction ends: on PostgreSQL by a transaction-scoped advisory lock, on
/// SQLite by the IMMEDIATE transaction every write already runs in.
pub fn lock_head(conn: &mut DbConnection) -> Result<Option<String>> {
    if let DbConnection::Postgres(_) = conn {
        raw_sql!(conn, "SELECT pg_advisory_xact_lock(4242050)", execute;)?;
    }
    Ok(history::table
        .order(history::id.desc())
        .select(history::hash)
        .first(conn)
        .optional()?)
}

/// Rows a multi-row INSERT carries at most (PostgreSQL's 65,535 binds over
/// thirteen columns, with room to spare).
const APPEND_CHUNK: usize = 1000;

/// Appends `rows` in order, `published` of them about published records.
pub fn append(conn: &mut DbConnection, rows: &[NewRow<'_>], published: usize) -> Result<()> {
    for chunk in rows.chunks(APPEND_CHUNK) {
        on_backend!(conn, |c| diesel::insert_into(history::table)
            .values(chunk)
            .execute(c))?;
    }
    PUBLISHED_CHANGES.with(|c| c.set(c.get() + published as u64));
    Ok(())
}

/// The entries of one record, oldest first.
pub fn for_record(conn: &mut DbConnection, entity: &str, entity_id: i64) -> Result<Vec<Row>> {
    Ok(history::table
        .filter(history::entity.eq(entity))
        .filter(history::entity_id.eq(entity_id))
        .order(history::id)
        .select(Row::as_select())
        .load(conn)?)
}

/// Entries after `after_id`, oldest first, optionally of one kind of record.
pub fn after(
    conn: &mut DbConnection,
    after_id: i64,
    entity: Option<&str>,
    limit: i64,
) -> Result<Vec<Row>> {
    let mut query = history::table
        .filter(history::id.gt(after_id))
        .order(history::id)
        .limit(limit)
        .select(Row::as_select())
        .into_boxed();
    if let Some(entity) = entity {
        query = query.filter(history::entity.eq(entity.to_owned()));
    }
    Ok(query.load(conn)?)
}

/// The newest entry's id: the change signal other processes poll.
pub fn newest_id(conn: &mut DbConnection) -> Result<Option<i64>> {
    Ok(history::table
        .select(diesel::dsl::max(history::id))
        .first(conn)?)
}

/// The time of the newest entry about any of `entities`: one indexed lookup
/// per entity (`history_entity_at`); a single `max(at)` over `entity IN (…)`
/// reads every entry about them, which grows with every write.
pub fn last_change_of(conn: &mut DbConnection, entities: &[&str]) -> Result<Option<NaiveDateTime>> {
    let mut newest = None;
    for entity in entities {
        let at: Option<NaiveDateTime> = history::table
            .filter(history::entity.eq(*entity))
            .select(diesel::dsl::max(history::at))
            .first(conn)?;
        newest = newest.max(at);
    }
    Ok(newest)
}
