//! Partners' private calendar feeds: created, changed, rotated and revoked by an
//! administrator, each recorded in the history (never the token).

use super::Context;
use super::history::{self, Action};
use super::policy::{self, Operation};
use crate::db::{DbConnection, feeds as db};
use crate::domain::feed::{Feed, FeedInput};
use crate::error::Result;

fn record(
    conn: &mut DbConnection,
    cx: &Context,
    id: i64,
    action: Action,
    before: Option<&Feed>,
    after: Option<&Feed>,
) -> Result<()> {
    history::record_in(
        conn,
        cx,
        "feed",
        id,
        action,
        history::diff_of(before, after, &[]),
    )
}

/// The new feed and its token, shown this once.
pub fn create(conn: &mut DbConnection, cx: &Context, input: &FeedInput) -> Result<(Feed, String)> {
    policy::require(&cx.actor, Operation::Administer)?;
    let (feed, token) = db::create(conn, input, cx.now)?;
    record(conn, cx, feed.id, Action::Created, None, Some(&feed))?;
    Ok((feed, token))
}

pub fn update(
    conn: &mut DbConnection,
    cx: &Context,
    id: i64,
    version: i32,
    input: &FeedInput,
) -> Result<Feed> {
    policy::require(&cx.actor, Operation::Administer)?;
    let before = db::get(conn, id)?;
    let after = db::update(conn, id, version, input, cx.now)?;
    record(conn, cx, id, Action::Updated, Some(&before), Some(&after))?;
    Ok(after)
}

/// A new token; the old URL stops working.
pub fn rotate(conn: &mut DbConnection, cx: &Context, id: i64) -> Result<(Feed, String)> {
    policy::require(&cx.actor, Operation::Administer)?;
    let (feed, token) = db::rotate(conn, id, cx.now)?;
    history::record_in(
        conn,
        cx,
        "feed",
        id,
        Action::StateChanged,
        vec![history::FieldChange {
            field: "token".into(),
            before: "rotated".into(),
            after: "new".into(),
            personal: false,
        }],
    )?;
    Ok((feed, token))
}

pub fn revoke(conn: &mut DbConnection, cx: &Context, id: i64) -> Result<()> {
    policy::require(&cx.actor, Operation::Administer)?;
    let before = db::get(conn, id)?;
    db::revoke(conn, id, cx.now)?;
    let after = db::get(conn, id)?;
    record(
        conn,
        cx,
        id,
        Action::StateChanged,
        Some(&before),
        Some(&after),
    )
}
