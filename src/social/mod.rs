//! Social posts: how each network counts a post's length, and publishing
//! through the job mechanism exactly once (Mastodon so far).

pub mod accounts;
pub mod mastodon;
pub mod text;
