//! Persistence on SQLite (the embedded default) or PostgreSQL, chosen by URL, both
//! compiled into one binary. Blocking diesel work runs on tokio's blocking pool via
//! `Db::run`, never on the async executor.

pub mod accounts;
pub mod activities;
pub(crate) mod cached;
pub mod campaigns;
pub mod changes;
pub mod channel_accounts;
pub mod channels;
pub mod deliveries;
pub mod engagement;
pub mod feeds;
pub mod history;
pub mod inbound;
pub mod invitations;
pub mod issues;
pub mod jobs;
pub mod metrics;
pub mod organisations;
pub mod outbound_schema;
pub mod participations;
pub mod people;
pub mod plans;
pub mod posts;
pub mod references;
pub mod reminders;
pub mod reports;
pub mod reviews;
pub mod schema;
pub mod sessions;
pub mod subscriber_csv;
pub mod subscribers;
pub mod tokens;
pub mod webhooks;

use crate::error::{Error, Result};
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection, Pool};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Set on every SQLite connection: WAL so readers never block the writer, a busy
/// timeout so concurrent writers wait instead of failing, and enforced foreign keys.
/// The busy timeout comes first: switching to WAL takes a lock that the pool's
/// other new connections must wait for.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;";

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// `sqlite://var/pregon.db` or a bare path → the path SQLite opens.
fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://").unwrap_or(url)
}

pub fn establish(url: &str) -> Result<DbConnection> {
    let conn = match Backend::of_url(url) {
        Backend::Postgres => DbConnection::Postgres(
            PgConnection::establish(url).map_err(|e| Error::Pool(e.to_string()))?,
        ),
        Backend::Sqlite => {
            let path = sqlite_path(url);
            if let Some(dir) = std::path::Path::new(path).parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Error::Pool(format!("cannot create {}: {e}", dir.display())))?;
            }
            let mut conn =
                SqliteConnection::establish(path).map_err(|e| Error::Pool(e.to_string()))?;
            conn.batch_execute(SQLITE_PRAGMAS)?;
            DbConnection::Sqlite(conn)
        }
    };
    Ok(conn)
}

pub struct Manager {
    url: String,
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> std::result::Result<DbConnection, r2d2::Error> {
        establish(&self.url).map_err(|e| {
            r2d2::Error::ConnectionError(diesel::ConnectionError::BadConnection(e.to_string()))
        })
    }

    fn is_valid(&self, conn: &mut DbConnection) -> std::result::Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

/// A pool of connections and the way to use one off the async executor.
#[derive(Clone)]
pub struct Db {
    pool: Pool<Manager>,
    backend: Backend,
    /// Counts committed changes to published data (told by the history entries a
    /// transaction appended, or seen from other processes): caches built from the
    /// data compare it to know they are fresh.
    generation: Arc<AtomicU64>,
}

impl Db {
    pub fn connect(url: &str, pool_size: u32) -> Result<Db> {
        let backend = Backend::of_url(url);
        let pool = Pool::builder()
            .max_size(pool_size.max(1))
            .connection_timeout(Duration::from_secs(10))
            .build(Manager { url: url.into() })?;
        Ok(Db {
            pool,
            backend,
            generation: Arc::new(AtomicU64::new(0)),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A connection for blocking code (CLI commands, tests, the blocking pool).
    pub fn get(&self) -> Result<r2d2::PooledConnection<Manager>> {
        Ok(self.pool.get()?)
    }

    /// Checks out a connection and runs `work` on tokio's blocking pool.
    pub async fn run<T, F>(&self, work: F) -> Result<T>
    where
        F: FnOnce(&mut DbConnection) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            work(&mut conn)
        })
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("database task failed: {e}")))?
    }

    /// Like `run`, inside one write transaction: all of `work` is written, or none of it.
    pub async fn transaction<T, F>(&self, work: F) -> Result<T>
    where
        F: FnOnce(&mut DbConnection) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let (result, published) = self
            .run(move |conn| {
                let before = history::published_changes_on_this_thread();
                let result = write_transaction(conn, work);
                Ok((
                    result,
                    history::published_changes_on_this_thread() != before,
                ))
            })
            .await?;
        // Caches of published data rebuild only when the committed work changed
        // something they show, as the history it appended says.
        if result.is_ok() && published {
            self.mark_changed();
        }
        result
    }

    /// The data generation: it changes whenever the data may have changed.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Declares the data changed (after a write, or a change noticed elsewhere).
    pub fn mark_changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub async fn ping(&self) -> Result<()> {
        self.run(|conn| Ok(conn.batch_execute("SELECT 1")?)).await
    }
}

/// Runs `work` in a transaction meant to write. On SQLite it begins IMMEDIATE, so
/// two writers queue on the busy timeout instead of one failing when it upgrades
/// a read lock; on PostgreSQL row locks and the version checks do that job.
pub fn write_transaction<T>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> Result<T>,
) -> Result<T> {
    if matches!(conn, DbConnection::Postgres(_)) {
        return conn.transaction(work);
    }
    conn.batch_execute("BEGIN IMMEDIATE")?;
    // Rolls back if `work` fails or panics, so the pool never gets back a
    // connection stuck inside a transaction.
    struct Guard<'a>(&'a mut DbConnection, bool);
    impl Drop for Guard<'_> {
        fn drop(&mut self) {
            if !self.1 {
                let _ = self.0.batch_execute("ROLLBACK");
            }
        }
    }
    let mut guard = Guard(conn, false);
    let value = work(guard.0)?;
    guard.0.batch_execute("COMMIT")?;
    guard.1 = true;
    Ok(value)
}

/// Applies pending migrations, then writes what a migration cannot write in
/// SQL (the stored occurrences of series written before they were stored).
/// On PostgreSQL an advisory lock keeps several `pregon` processes starting
/// together from doing either at once.
pub fn run_migrations(conn: &mut DbConnection) -> Result<Vec<String>> {
    let migrate = |conn: &mut DbConnection| -> Result<Vec<String>> {
        let applied = match conn {
            DbConnection::Sqlite(c) => c
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.to_string()).collect()),
            DbConnection::Postgres(c) => c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.to_string()).collect()),
        };
        let applied =
            applied.map_err(|e| Error::Internal(anyhow::anyhow!("migration failed: {e}")))?;
        activities::store_missing_occurrences(conn)?;
        Ok(applied)
    };
    let postgres = matches!(conn, DbConnection::Postgres(_));
    if postgres {
        conn.batch_execute("SELECT pg_advisory_lock(4242001)")?;
    }
    let result = migrate(conn);
    if postgres {
        conn.batch_execute("SELECT pg_advisory_unlock(4242001)")?;
    }
    result
}

/// Reverts every applied migration, newest first (used by `pregon migrate --revert-all`
/// and by the test proving each down.sql undoes its up.sql).
pub fn revert_all_migrations(conn: &mut DbConnection) -> Result<Vec<String>> {
    let reverted = match conn {
        DbConnection::Sqlite(c) => c
            .revert_all_migrations(SQLITE_MIGRATIONS)
            .map(|v| v.iter().map(|m| m.to_string()).collect()),
        DbConnection::Postgres(c) => c
            .revert_all_migrations(POSTGRES_MIGRATIONS)
            .map(|v| v.iter().map(|m| m.to_string()).collect()),
    };
    reverted.map_err(|e| Error::Internal(anyhow::anyhow!("revert failed: {e}")))
}

/// Applies or reverts one migration at a time (the test proving each down.sql
/// undoes its up.sql walks the list this way). Returns the migration's name, or
/// None when there was nothing to do.
pub fn step_migration(conn: &mut DbConnection, forward: bool) -> Result<Option<String>> {
    fn step<C: MigrationHarness<B>, B: diesel::backend::Backend>(
        c: &mut C,
        source: impl Fn() -> EmbeddedMigrations,
        forward: bool,
    ) -> std::result::Result<Option<String>, String> {
        let pending = c
            .has_pending_migration(source())
            .map_err(|e| e.to_string())?;
        let applied = c.applied_migrations().map_err(|e| e.to_string())?;
        if forward && !pending || !forward && applied.is_empty() {
            return Ok(None);
        }
        let version = if forward {
            c.run_next_migration(source())
        } else {
            c.revert_last_migration(source())
        };
        version
            .map(|v| Some(v.to_string()))
            .map_err(|e| e.to_string())
    }
    let result = match conn {
        DbConnection::Sqlite(c) => step(c, || SQLITE_MIGRATIONS, forward),
        DbConnection::Postgres(c) => step(c, || POSTGRES_MIGRATIONS, forward),
    };
    result.map_err(|e| Error::Internal(anyhow::anyhow!("migration step failed: {e}")))
}

/// A description of the user schema (tables, columns with types and nullability,
/// indexes, constraints), to compare schemas before and after migrations.
pub fn schema_snapshot(conn: &mut DbConnection) -> Result<Vec<String>> {
    #[derive(diesel::QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text)]
        line: String,
    }
    let lines = match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(
            "SELECT type || ' ' || name || ': ' || COALESCE(sql, '') AS line FROM sqlite_master \
             WHERE name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations' ORDER BY type, name",
        )
        .load::<Line>(c)?,
        DbConnection::Postgres(c) => diesel::sql_query(
            "SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable \
                 || ' ' || COALESCE(column_default, '') AS line \
             FROM information_schema.columns WHERE table_schema = current_schema() \
               AND table_name <> '__diesel_schema_migrations' \
             UNION ALL SELECT 'index ' || tablename || '.' || indexname || ': ' || indexdef FROM pg_indexes \
             WHERE schemaname = current_schema() AND tablename <> '__diesel_schema_migrations' \
             UNION ALL SELECT 'constraint ' || conrelid::regclass::text || '.' || conname || ': ' \
                 || pg_get_constraintdef(oid) FROM pg_constraint \
             WHERE connamespace = current_schema()::regnamespace \
               AND conrelid::regclass::text <> '__diesel_schema_migrations' \
             UNION ALL SELECT 'sequence ' || sequence_name FROM information_schema.sequences \
             WHERE sequence_schema = current_schema() \
             ORDER BY 1",
        )
        .load::<Line>(c)?,
    };
    Ok(lines.into_iter().map(|l| l.line).collect())
}

pub use crate::domain::page::{Page, PageRequest};

/// A stored timestamp (UTC without zone) as an instant.
pub fn utc(t: chrono::NaiveDateTime) -> chrono::DateTime<chrono::Utc> {
    t.and_utc()
}

/// Text the database holds for a closed set of values (CHECK-constrained).
/// States as SQL literals, for the raw queries whose text must name them
/// (a partial index is only used when its condition is in the query's text):
/// `sql_literals(&[DeliveryState::Queued.as_str(), …])` gives `'queued', …`.
/// The spellings come from the one mapping in `domain`; they are never input.
pub fn sql_literals(values: &[&'static str]) -> String {
    values
        .iter()
        .map(|v| format!("'{v}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn parse_stored<T: std::str::FromStr<Err = String>>(s: &str) -> Result<T> {
    s.parse()
        .map_err(|e| Error::Internal(anyhow::anyhow!("unexpected stored value: {e}")))
}

/// After `UPDATE … WHERE id = ? AND version = ?`: no row means either the record
/// is gone (404) or someone else changed it first (version mismatch).
pub fn check_updated(
    rows: usize,
    entity: &'static str,
    id: i64,
    expected: i32,
    current: impl FnOnce() -> Result<Option<i32>>,
) -> Result<()> {
    if rows > 0 {
        return Ok(());
    }
    match current()? {
        None => Err(Error::not_found(entity, id)),
        Some(current) => Err(Error::VersionMismatch {
            given: expected,
            current,
        }),
    }
}

/// A reference in the input must point at an existing record (422 otherwise).
pub fn require_ref(found: bool, field: &str, id: i64) -> Result<()> {
    if found {
        Ok(())
    } else {
        Err(Error::invalid(field, format!("no record with id {id}")))
    }
}

/// The lookups every versioned table has: its current version, existence, delete.
macro_rules! versioned_record {
    ($table:ident, $entity:literal) => {
        fn current_version(conn: &mut DbConnection, id: i64) -> Result<Option<i32>> {
            Ok($table::table
                .find(id)
                .select($table::version)
                .first(conn)
                .optional()?)
        }

        pub fn exists(conn: &mut DbConnection, id: i64) -> Result<bool> {
            Ok(current_version(conn, id)?.is_some())
        }

        pub fn delete(
            conn: &mut DbConnection,
            id: i64,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<()> {
            if current_version(conn, id)?.is_none() {
                return Err(Error::not_found($entity, id));
            }
            super::references::ensure_unreferenced(conn, stringify!($table), $entity, id)?;
            let deleted = diesel::delete($table::table.find(id)).execute(conn)?;
            if deleted == 0 {
                return Err(Error::not_found($entity, id));
            }
            super::changes::record_deletion(conn, $entity, now)
        }

        /// `UPDATE … SET fields, version + 1 WHERE id AND version` with the usual
        /// 404 / version-mismatch answers.
        fn update_versioned<F>(
            conn: &mut DbConnection,
            id: i64,
            expected: i32,
            now: chrono::DateTime<chrono::Utc>,
            fields: F,
        ) -> Result<()>
        where
            F: diesel::AsChangeset<Target = $table::table>,
            <F as diesel::AsChangeset>::Changeset:
                diesel::query_builder::QueryFragment<<DbConnection as diesel::Connection>::Backend>,
        {
            let updated =
                diesel::update($table::table.find(id).filter($table::version.eq(expected)))
                    .set((
                        fields,
                        $table::version.eq(expected + 1),
                        $table::updated_at.eq(now.naive_utc()),
                    ))
                    .execute(conn)?;
            super::check_updated(updated, $entity, id, expected, || current_version(conn, id))
        }
    };
}
pub(crate) use versioned_record;

/// `?` placeholders as PostgreSQL wants them (`$1`, `$2`, …), for the few
/// statements written in SQL because they differ per backend or need
/// `INSERT … SELECT`. The SQL must not contain `?` anywhere else.
pub fn pg_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs raw SQL with binds on whichever backend `conn` is, `?` placeholders
/// rewritten for PostgreSQL: `raw_sql!(conn, sql, execute; Text => value, …)`
/// or `raw_sql!(conn, sql, load::<Row>; …)`.
macro_rules! raw_sql {
    ($conn:expr, $sql:expr, $method:ident $(::<$row:ty>)?; $($ty:ty => $value:expr),* $(,)?) => {{
        let sql: &str = $sql;
        match $conn {
            $crate::db::DbConnection::Postgres(c) => diesel::sql_query($crate::db::pg_placeholders(sql))
                $(.bind::<$ty, _>($value))*
                .$method$(::<$row>)?(c),
            $crate::db::DbConnection::Sqlite(c) => diesel::sql_query(sql)
                $(.bind::<$ty, _>($value))*
                .$method$(::<$row>)?(c),
        }
    }};
}
pub(crate) use raw_sql;

/// For a claim (`… ORDER BY next_attempt_at, id LIMIT n FOR UPDATE SKIP
/// LOCKED`), inside its transaction: on PostgreSQL, the due rows are read in
/// the order of their index, never gathered and sorted. Right after a large
/// newsletter is queued the table has no statistics yet, the planner expects
/// a couple of due rows and sorts them all: 100,000 rows, about 100 ms, for
/// each batch. SQLite's planner already reads the index in order.
pub fn claim_in_index_order(conn: &mut DbConnection) -> Result<()> {
    if let DbConnection::Postgres(pg) = conn {
        pg.batch_execute("SET LOCAL enable_sort = off")?;
    }
    Ok(())
}

/// For one long transaction that grows the tables it reads (an import of a
/// large file, in parts): on PostgreSQL every statement is planned for its
/// own parameters and the tables' current size. A prepared statement's
/// generic plan, made while the tables were nearly empty, was kept for the
/// whole transaction: each part then scanned every row written before it.
pub fn plan_each_statement(conn: &mut DbConnection) -> Result<()> {
    if let DbConnection::Postgres(pg) = conn {
        pg.batch_execute("SET LOCAL plan_cache_mode = force_custom_plan")?;
    }
    Ok(())
}

/// Runs `$body` with `$c` bound to the backend's own connection, for what
/// diesel's `MultiConnection` cannot do itself (a multi-row INSERT):
/// `on_backend!(conn, |c| diesel::insert_into(t).values(&rows).execute(c))`.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Postgres($c) => $body,
            $crate::db::DbConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use on_backend;
