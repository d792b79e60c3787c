//! The social posts' engagement section as rows of text, shared by the
//! Markdown and PDF renderers (the HTML template links each figure itself).

use super::i18n::Catalogue;
use super::model::{ChannelEngagement, PostEngagement};
use chrono::{DateTime, Utc};

fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn count(n: Option<i64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

/// When the figures were read, and a failed read after it.
pub fn as_of(p: &PostEngagement, t: &Catalogue) -> String {
    let mut s = p.read_at.map(time).unwrap_or_else(|| t.never_read.into());
    if let Some(e) = &p.error {
        s += &format!(
            " ({}{}: {e})",
            t.read_failed,
            p.tried_at
                .map(|at| format!(" {}", time(at)))
                .unwrap_or_default()
        );
    }
    s
}

pub fn post_header(t: &Catalogue) -> [&'static str; 9] {
    [
        "#", t.post, t.channel, t.language, t.replies, t.reposts, t.likes, t.quotes, t.as_of,
    ]
}

pub fn post_row(p: &PostEngagement, t: &Catalogue) -> Vec<String> {
    let title = match &p.url {
        Some(url) => format!("{} <{url}>", p.title),
        None => p.title.clone(),
    };
    vec![
        p.activity_id.to_string(),
        title,
        format!("{} ({})", p.channel.as_deref().unwrap_or(""), p.network),
        p.lang.clone(),
        count(p.replies),
        count(p.reposts),
        count(p.likes),
        count(p.quotes),
        as_of(p, t),
    ]
}

pub fn total_header(t: &Catalogue) -> [&'static str; 7] {
    [
        t.channel, t.posts, t.replies, t.reposts, t.likes, t.quotes, t.as_of,
    ]
}

pub fn total_row(c: &ChannelEngagement, t: &Catalogue) -> Vec<String> {
    let ids: Vec<String> = c.activity_ids.iter().map(|id| format!("#{id}")).collect();
    let mut when = c.as_of.map(time).unwrap_or_default();
    if c.unread > 0 {
        when += &format!(" {} {}", c.unread, t.never_read);
    }
    if c.stale > 0 {
        when += &format!(" {}: {}", c.stale, t.read_failed);
    }
    vec![
        format!("{} ({})", c.channel.as_deref().unwrap_or(""), c.network),
        format!("{} ({})", c.posts, ids.join(" ")),
        c.replies.to_string(),
        c.reposts.to_string(),
        c.likes.to_string(),
        count(c.quotes),
        when.trim().to_owned(),
    ]
}
