//! The networks a channel account publishes to.

use super::macros::text_enum;

text_enum!(
    /// Where a channel account's posts go: a Mastodon instance, a Bluesky
    /// PDS, a CMS through a signed webhook, or a person (manual: the owner
    /// is told the exact text at due time and says where it was posted).
    Network {
        Mastodon => "mastodon",
        Bluesky => "bluesky",
        Webhook => "webhook",
        Manual => "manual",
    }
);

text_enum!(
    /// What became of a post variant: its job is `queued` (or running),
    /// then it is `published` (with its URL), `failed` (with the reason) or
    /// its outcome is `unknown` (with how to check). A manual channel's
    /// variant is `awaiting_owner` once its email was accepted, until the
    /// owner says where it was posted (then `published`).
    PublicationState {
        Queued => "queued",
        Published => "published",
        Failed => "failed",
        Unknown => "unknown",
        AwaitingOwner => "awaiting_owner",
    }
);
