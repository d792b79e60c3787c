//! `pregon backup FILE` and `pregon restore FILE [--force]`, without stopping
//! the service for the backup.
//!
//! - SQLite: `VACUUM INTO` writes a consistent, compacted copy from one read
//!   transaction while writers go on; restore copies a backup into the
//!   configured database file the same way (from the backup, into the target).
//! - PostgreSQL: `pg_dump --format=custom` (one consistent snapshot, writers go
//!   on) and `pg_restore --clean --if-exists --no-owner --single-transaction`;
//!   both must be on PATH (the postgresql-client package).
//!
//! Restore refuses a database that already holds Pregón tables unless
//! `--force` is given; restore into a running service only with it stopped.

use crate::db::{self, Backend, DbConnection};
use anyhow::{Context as _, bail};
use diesel::RunQueryDsl;
use std::path::Path;
use std::process::Command;

pub fn backup(url: &str, file: &Path) -> anyhow::Result<()> {
    if file.exists() {
        bail!("{} exists; backups never overwrite a file", file.display());
    }
    match Backend::of_url(url) {
        Backend::Sqlite => {
            let mut conn = db::establish(url)?;
            let DbConnection::Sqlite(c) = &mut conn else {
                unreachable!("a sqlite URL opens SQLite")
            };
            diesel::sql_query(format!("VACUUM INTO {}", sql_string(file)?))
                .execute(c)
                .with_context(|| format!("VACUUM INTO {}", file.display()))?;
        }
        Backend::Postgres => run(Command::new("pg_dump")
            .args(["--format=custom", "--no-owner", "--file"])
            .arg(file)
            .arg(url))?,
    }
    Ok(())
}

pub fn restore(url: &str, file: &Path, force: bool) -> anyhow::Result<()> {
    if !file.is_file() {
        bail!("{} is not a file", file.display());
    }
    let holds = holds_tables(url)?;
    if holds > 0 && !force {
        bail!(
            "the database already holds {holds} Pregón table(s); restoring would replace them: \
             give --force to do so (stop the service first)"
        );
    }
    match Backend::of_url(url) {
        Backend::Sqlite => {
            let target = Path::new(url.strip_prefix("sqlite://").unwrap_or(url));
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let mut name = target.as_os_str().to_owned();
                name.push(suffix);
                match std::fs::remove_file(&name) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => bail!("cannot replace {}: {e}", Path::new(&name).display()),
                }
            }
            let source = format!("sqlite://{}", file.display());
            let mut conn = db::establish(&source)?;
            let DbConnection::Sqlite(c) = &mut conn else {
                unreachable!("a sqlite URL opens SQLite")
            };
            diesel::sql_query(format!("VACUUM INTO {}", sql_string(target)?))
                .execute(c)
                .with_context(|| format!("restoring into {}", target.display()))?;
        }
        Backend::Postgres => run(Command::new("pg_restore")
            .args([
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                "--exit-on-error",
                "--dbname",
            ])
            .arg(url)
            .arg(file))?,
    }
    Ok(())
}

/// How many Pregón tables the database holds (0 for a new, empty one).
fn holds_tables(url: &str) -> anyhow::Result<usize> {
    if let Backend::Sqlite = Backend::of_url(url) {
        let path = Path::new(url.strip_prefix("sqlite://").unwrap_or(url));
        if !path.exists() {
            return Ok(0);
        }
    }
    let mut conn = db::establish(url)?;
    Ok(db::schema_snapshot(&mut conn)?
        .iter()
        .filter(|l| l.starts_with("table ") || l.starts_with("column "))
        .map(|l| l.split([' ', '.', ':']).nth(1).unwrap_or("").to_owned())
        .collect::<std::collections::BTreeSet<_>>()
        .len())
}

/// A path as an SQL string literal.
fn sql_string(path: &Path) -> anyhow::Result<String> {
    let text = path
        .to_str()
        .with_context(|| format!("{} is not valid UTF-8", path.display()))?;
    Ok(format!("'{}'", text.replace('\'', "''")))
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {program} (install the PostgreSQL client tools)"))?;
    if !out.status.success() {
        // The URL may carry a password: never echo the command line.
        bail!(
            "{program} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
