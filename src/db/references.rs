//! What still refers to a record, read from the database's own catalogue of
//! foreign keys, so a refused delete can say what holds it (409) instead of
//! surfacing the foreign-key error. Rows that would go with the record
//! (`ON DELETE CASCADE`) are followed: what refers to *them* holds it too.

use super::DbConnection;
use crate::error::{Error, Reference, Result};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

#[derive(QueryableByName, Debug, Clone)]
struct ForeignKey {
    #[diesel(sql_type = Text)]
    tbl: String,
    #[diesel(sql_type = Text)]
    col: String,
    #[diesel(sql_type = Text)]
    target: String,
    /// `CASCADE`, `SET NULL`, `SET DEFAULT`, or anything else (RESTRICT, NO ACTION).
    #[diesel(sql_type = Text)]
    on_delete: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn foreign_keys(conn: &mut DbConnection) -> Result<Vec<ForeignKey>> {
    let keys = match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(
            "SELECT m.name AS tbl, p.\"from\" AS col, p.\"table\" AS target, \
                    upper(p.on_delete) AS on_delete \
             FROM sqlite_master m, pragma_foreign_key_list(m.name) p \
             WHERE m.type = 'table' ORDER BY m.name, p.\"from\"",
        )
        .load::<ForeignKey>(c)?,
        DbConnection::Postgres(c) => diesel::sql_query(
            "SELECT cl.relname::text AS tbl, a.attname::text AS col, tg.relname::text AS target, \
                    CASE c.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' \
                         WHEN 'd' THEN 'SET DEFAULT' ELSE 'RESTRICT' END AS on_delete \
             FROM pg_constraint c \
             JOIN pg_class cl ON cl.oid = c.conrelid \
             JOIN pg_class tg ON tg.oid = c.confrelid \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
             WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace \
             ORDER BY 1, 2",
        )
        .load::<ForeignKey>(c)?,
    };
    Ok(keys)
}

/// Every reference that would stop `table`'s row `id` from being deleted,
/// with how many rows hold it. Empty: the delete can go ahead.
pub fn holding(conn: &mut DbConnection, table: &str, id: i64) -> Result<Vec<Reference>> {
    let keys = foreign_keys(conn)?;
    let mut found: Vec<Reference> = Vec::new();
    // (table, SQL selecting the ids of its rows that the delete would remove)
    let mut frontier = vec![(table.to_owned(), id.to_string())];
    let mut depth = 0;
    while let Some((target, ids)) = frontier.pop() {
        depth += 1;
        if depth > 64 {
            break;
        }
        for key in keys.iter().filter(|k| k.target == target) {
            let rows = format!(
                "SELECT id FROM {} WHERE {} IN ({ids})",
                quote(&key.tbl),
                quote(&key.col)
            );
            match key.on_delete.as_str() {
                "SET NULL" | "SET DEFAULT" => {}
                // Rows that go with it hold it only if something refers to them
                // (and only then need an `id` to be referred to by).
                "CASCADE" if keys.iter().any(|k| k.target == key.tbl) => {
                    frontier.push((key.tbl.clone(), rows))
                }
                "CASCADE" => {}
                _ => {
                    let n = diesel::sql_query(format!(
                        "SELECT COUNT(*) AS n FROM {} WHERE {} IN ({ids})",
                        quote(&key.tbl),
                        quote(&key.col)
                    ))
                    .get_result::<Count>(conn)?
                    .n;
                    if n > 0 {
                        found.push(Reference {
                            table: key.tbl.clone(),
                            column: key.col.clone(),
                            count: n,
                        });
                    }
                }
            }
        }
    }
    Ok(found)
}

/// Names come from the catalogue, not from input; quoted all the same.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// 409 listing what holds `table`'s row `id`, or Ok when nothing does.
pub fn ensure_unreferenced(
    conn: &mut DbConnection,
    table: &str,
    entity: &'static str,
    id: i64,
) -> Result<()> {
    let by = holding(conn, table, id)?;
    if by.is_empty() {
        Ok(())
    } else {
        Err(Error::Referenced {
            entity,
            id: id.to_string(),
            by,
        })
    }
}
