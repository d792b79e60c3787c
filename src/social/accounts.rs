//! Channel accounts on social networks: credentials sealed at rest, never
//! returned, logged or in the history.

use crate::app::Context;
use crate::app::history::{self, Action, FieldChange};
use crate::app::policy::{self, Operation};
use crate::db::{DbConnection, channel_accounts};
use crate::error::{Error, Result};
use crate::jobs::sealed::Sealer;

/// Adds an account; `secret` is the access token (Mastodon) or app password
/// (Bluesky), stored sealed.
pub fn create(
    conn: &mut DbConnection,
    cx: &Context,
    sealer: &Sealer,
    network: &str,
    base_url: &str,
    handle: Option<&str>,
    secret: &str,
) -> Result<i64> {
    policy::require(&cx.actor, Operation::Administer)?;
    if !matches!(network, "mastodon" | "bluesky" | "webhook" | "manual") {
        return Err(Error::invalid(
            "network",
            "mastodon, bluesky, webhook or manual",
        ));
    }
    url::Url::parse(base_url).map_err(|e| Error::invalid("base_url", e.to_string()))?;
    let id = channel_accounts::insert(conn, network, base_url, handle, cx.now)?;
    let sealed = sealer.seal(secret, &channel_accounts::credentials_context(id))?;
    channel_accounts::set_credentials(conn, id, &sealed, cx.now)?;
    history::record_in(
        conn,
        cx,
        "channel_account",
        id,
        Action::Created,
        vec![
            FieldChange {
                field: "network".into(),
                before: serde_json::Value::Null,
                after: network.into(),
                personal: false,
            },
            FieldChange {
                field: "base_url".into(),
                before: serde_json::Value::Null,
                after: base_url.into(),
                personal: false,
            },
        ],
    )?;
    Ok(id)
}
