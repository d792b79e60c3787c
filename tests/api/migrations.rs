use crate::helpers::*;
use pregon::db::{self, Db};

/// Applies the migrations one by one, then reverts them one by one: after each
/// revert the schema must be exactly what it was before that migration.
#[tokio::test]
async fn every_down_migration_reverts_its_up_migration() {
    let (url, _guard) = test_database();
    let db = Db::connect(&url, 1).unwrap();
    let mut conn = db.get().unwrap();
    let mut snapshots = vec![db::schema_snapshot(&mut conn).unwrap()];
    let mut applied = Vec::new();
    while let Some(name) = db::step_migration(&mut conn, true).unwrap() {
        snapshots.push(db::schema_snapshot(&mut conn).unwrap());
        applied.push(name);
    }
    assert!(!applied.is_empty(), "no migrations ran");
    assert_ne!(snapshots.first(), snapshots.last());
    for name in applied.iter().rev() {
        let reverted = db::step_migration(&mut conn, false).unwrap();
        assert_eq!(reverted.as_deref(), Some(name.as_str()));
        snapshots.pop();
        assert_eq!(
            &db::schema_snapshot(&mut conn).unwrap(),
            snapshots.last().unwrap(),
            "down.sql of {name} does not restore the schema before it"
        );
    }
    // And forward again: a reverted database migrates cleanly.
    assert_eq!(db::run_migrations(&mut conn).unwrap().len(), applied.len());
}
