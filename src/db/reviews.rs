//! Queries on reviews (the approval state of activities and newsletter issues).

use super::DbConnection;
use super::schema::reviews;
use crate::error::Result;
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = reviews, treat_none_as_null = true)]
pub struct Row {
    pub entity: String,
    pub entity_id: i64,
    pub state: String,
    pub content_hash: String,
    pub approved_hash: Option<String>,
    pub author_account_id: Option<i64>,
    pub last_editor_account_id: Option<i64>,
    pub approved_by_account_id: Option<i64>,
    pub approved_by_kind: Option<String>,
    pub approved_at: Option<NaiveDateTime>,
    pub comment: Option<String>,
    pub updated_at: NaiveDateTime,
    /// After an edit of some variants of an approved social post: the
    /// approved hashes that still stand (the variants left as they were).
    pub standing_hash: Option<String>,
}

pub fn find(conn: &mut DbConnection, entity: &str, entity_id: i64) -> Result<Option<Row>> {
    Ok(reviews::table
        .find((entity, entity_id))
        .select(Row::as_select())
        .first(conn)
        .optional()?)
}

pub fn insert(conn: &mut DbConnection, row: &Row) -> Result<()> {
    diesel::insert_into(reviews::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn save(conn: &mut DbConnection, row: &Row) -> Result<()> {
    diesel::update(reviews::table.find((&row.entity, row.entity_id)))
        .set(row)
        .execute(conn)?;
    Ok(())
}

pub fn delete(conn: &mut DbConnection, entity: &str, entity_id: i64) -> Result<()> {
    diesel::delete(reviews::table.find((entity, entity_id))).execute(conn)?;
    Ok(())
}

/// Ids of records of `entity` that have no review yet (data from before reviews).
pub fn missing(conn: &mut DbConnection, entity: &str, ids: &[i64]) -> Result<Vec<i64>> {
    let have: Vec<i64> = reviews::table
        .filter(reviews::entity.eq(entity))
        .select(reviews::entity_id)
        .load(conn)?;
    let have: std::collections::HashSet<i64> = have.into_iter().collect();
    Ok(ids
        .iter()
        .copied()
        .filter(|id| !have.contains(id))
        .collect())
}
