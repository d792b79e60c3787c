//! Create, replace and delete, written once for every kind of record: each
//! records its history entry (the field-level diff of what the API shows) in the
//! same transaction, and runs the rules and effects of its kind (`Record`'s hooks).

use super::Context;
use super::history::{self, Action, Entry};
use super::policy::{self, Operation};
use crate::db::DbConnection;
use crate::error::Result;
use serde::Serialize;

/// One kind of record, as the use-case layer writes it.
pub trait Record: 'static {
    /// Its name in the history: "activity", "plan", …
    const ENTITY: &'static str;
    /// Fields holding personal data: the history says they changed, never to what.
    const PERSONAL: &'static [&'static str] = &[];
    type Input: Send + Sync + 'static;
    type Output: Serialize + Send + 'static;

    fn id(record: &Self::Output) -> i64;
    fn get(conn: &mut DbConnection, id: i64) -> Result<Self::Output>;
    fn insert(conn: &mut DbConnection, input: &Self::Input, cx: &Context) -> Result<Self::Output>;
    fn replace(
        conn: &mut DbConnection,
        id: i64,
        version: i32,
        input: &Self::Input,
        cx: &Context,
    ) -> Result<Self::Output>;
    fn remove(conn: &mut DbConnection, id: i64, cx: &Context) -> Result<()>;

    /// Whether the hooks below may change the record itself (an edited issue
    /// that loses its approval is unscheduled): then it is read again after them.
    const HOOKS_CHANGE_IT: bool = false;

    /// Rules and effects of this kind, in the same transaction as the write.
    fn after_create(_: &mut DbConnection, _: &Context, _created: &Self::Output) -> Result<()> {
        Ok(())
    }
    fn after_update(
        _: &mut DbConnection,
        _: &Context,
        _before: &Self::Output,
        _after: &Self::Output,
    ) -> Result<()> {
        Ok(())
    }
    fn before_delete(_: &mut DbConnection, _: &Context, _record: &Self::Output) -> Result<()> {
        Ok(())
    }
    fn after_delete(_: &mut DbConnection, _: &Context, _deleted: &Self::Output) -> Result<()> {
        Ok(())
    }
}

fn entry<'a, R: Record>(
    id: i64,
    action: Action,
    before: Option<&R::Output>,
    after: Option<&R::Output>,
    cx: &'a Context,
) -> Entry<'a> {
    Entry {
        entity: R::ENTITY,
        entity_id: id,
        action,
        changes: history::diff_of(before, after, R::PERSONAL),
        reason: cx.reason.as_deref(),
    }
}

pub fn create<R: Record>(
    conn: &mut DbConnection,
    cx: &Context,
    input: &R::Input,
) -> Result<R::Output> {
    create_by::<R>(conn, cx, |c| R::insert(c, input, cx))
}

/// `create` with another write than `Record::insert` (an import writes where
/// the activity came from too).
pub fn create_by<R: Record>(
    conn: &mut DbConnection,
    cx: &Context,
    write: impl FnOnce(&mut DbConnection) -> Result<R::Output>,
) -> Result<R::Output> {
    policy::require(&cx.actor, Operation::Write)?;
    let created = write(conn)?;
    let id = R::id(&created);
    history::record(
        conn,
        &cx.actor,
        cx.now,
        entry::<R>(id, Action::Created, None, Some(&created), cx),
    )?;
    R::after_create(conn, cx, &created)?;
    Ok(created)
}

pub fn update<R: Record>(
    conn: &mut DbConnection,
    cx: &Context,
    id: i64,
    version: i32,
    input: &R::Input,
) -> Result<R::Output> {
    update_by::<R>(conn, cx, id, |c| R::replace(c, id, version, input, cx))
}

/// `update` with another write than `Record::replace`.
pub fn update_by<R: Record>(
    conn: &mut DbConnection,
    cx: &Context,
    id: i64,
    write: impl FnOnce(&mut DbConnection) -> Result<R::Output>,
) -> Result<R::Output> {
    policy::require(&cx.actor, Operation::Write)?;
    let before = R::get(conn, id)?;
    let after = write(conn)?;
    history::record(
        conn,
        &cx.actor,
        cx.now,
        entry::<R>(id, Action::Updated, Some(&before), Some(&after), cx),
    )?;
    R::after_update(conn, cx, &before, &after)?;
    if R::HOOKS_CHANGE_IT {
        return R::get(conn, id);
    }
    Ok(after)
}

pub fn delete<R: Record>(conn: &mut DbConnection, cx: &Context, id: i64) -> Result<()> {
    policy::require(&cx.actor, Operation::Delete)?;
    let before = R::get(conn, id)?;
    R::before_delete(conn, cx, &before)?;
    R::remove(conn, id, cx)?;
    history::record(
        conn,
        &cx.actor,
        cx.now,
        entry::<R>(id, Action::Deleted, Some(&before), None, cx),
    )?;
    R::after_delete(conn, cx, &before)
}

/// A record whose create/get/update/delete are its db module's functions of the
/// usual shape and that has no rules of its own beyond them.
macro_rules! plain_record {
    ($name:ident, $entity:literal, $input:ty, $output:ty, $db:path $(, personal: [$($p:literal),*])?) => {
        pub struct $name;
        impl $crate::app::records::Record for $name {
            const ENTITY: &'static str = $entity;
            $(const PERSONAL: &'static [&'static str] = &[$($p),*];)?
            type Input = $input;
            type Output = $output;
            fn id(record: &$output) -> i64 {
                record.id
            }
            fn get(conn: &mut $crate::db::DbConnection, id: i64) -> $crate::Result<$output> {
                use $db as db;
                db::get(conn, id)
            }
            fn insert(conn: &mut $crate::db::DbConnection, input: &$input, cx: &$crate::app::Context) -> $crate::Result<$output> {
                use $db as db;
                db::create(conn, input, cx.now)
            }
            fn replace(conn: &mut $crate::db::DbConnection, id: i64, version: i32, input: &$input, cx: &$crate::app::Context) -> $crate::Result<$output> {
                use $db as db;
                db::update(conn, id, version, input, cx.now)
            }
            fn remove(conn: &mut $crate::db::DbConnection, id: i64, cx: &$crate::app::Context) -> $crate::Result<()> {
                use $db as db;
                db::delete(conn, id, cx.now)
            }
        }
    };
}
pub(crate) use plain_record;
