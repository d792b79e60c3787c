//! The manual channel: Pregón does not post; at the variant's due time the
//! owner gets an email (through the configured transport) with the exact
//! text, the channel, the language and the time, and a one-time link
//! (`/p/done/{token}`) to say where it was posted. The token is random and
//! kept only as its SHA-256, works once and expires `manual.link_days`
//! after the due time.
//!
//! Who is written to: the account's own address when it has one
//! (`base_url = "mailto:…"`), else the activity's owner (the person named
//! as owner, with an email). The language: the recipient's account's, else
//! the one recorded on the person, else English.
//!
//! The job is done once the transport accepted the email (the publication
//! is then `awaiting_owner`); its idempotency key is the variant and its
//! approved revision, so a done job never sends a second email. SMTP 4xx →
//! retry, 5xx → failed (the mailer's rules, shared with reminders).
//!
//! Reminder: when that job is done, the same transaction enqueues one
//! `social.manual.reminder` job (its key the post job's id, so a repeated
//! run or a restart never makes a second) due halfway through
//! `manual.link_days`. If the variant is still `awaiting_owner` then, the
//! recipient gets the email once more, in their language, with a link for
//! the same job and the same expiry (the first token is kept only as its
//! hash, so it cannot be sent again; any of the job's links works, once in
//! all). Marked done before then, the reminder sends nothing.

use crate::clock::SharedClock;
use crate::db::{Db, DbConnection, channel_accounts, posts};
use crate::domain::Language;
use crate::domain::network::Network;
use crate::error::{Error, Result};
use crate::jobs::{Attempt, Exchange, Job, NewJob, Outcome};
use crate::reminders::{Mailer, Prepared};
use crate::web::i18n::Tr;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

pub const KIND: &str = "social.manual";

/// The one reminder of a manual post still awaiting its owner.
pub const REMINDER_KIND: &str = "social.manual.reminder";

/// What a reminder job carries: the manual post's job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reminder {
    pub post_job_id: i64,
}

/// Halfway through the link's life: when the reminder goes out.
pub fn reminder_due(due_at: DateTime<Utc>, link_days: u32) -> DateTime<Utc> {
    due_at + TimeDelta::seconds(i64::from(link_days) * 86_400 / 2)
}

/// Enqueues the reminder of the manual post `job` (done: its email went
/// out); the same job twice is one reminder.
pub fn enqueue_reminder(
    conn: &mut DbConnection,
    job: &Job,
    link_days: u32,
    now: DateTime<Utc>,
) -> Result<()> {
    let Ok(post) = serde_json::from_value::<Post>(job.payload.clone()) else {
        return Ok(());
    };
    crate::jobs::enqueue(
        conn,
        &NewJob {
            kind: REMINDER_KIND,
            key: format!("job:{}", job.id),
            payload: serde_json::to_value(Reminder {
                post_job_id: job.id,
            })
            .unwrap_or_default(),
            due_at: reminder_due(post.due_at, link_days),
        },
        now,
    )?;
    Ok(())
}

/// The path of the one-time link, before its token.
pub const LINK_PATH: &str = "/p/done/";

/// What a manual post job carries: the exact approved text (no secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Post {
    pub account_id: i64,
    pub activity_id: i64,
    pub channel_id: i64,
    pub lang: Language,
    pub text: String,
    pub content_warning: Option<String>,
    pub due_at: DateTime<Utc>,
}

pub fn enqueue(
    conn: &mut DbConnection,
    key: &str,
    post: &Post,
    now: DateTime<Utc>,
) -> Result<crate::jobs::Enqueued> {
    crate::jobs::enqueue(
        conn,
        &NewJob {
            kind: KIND,
            key: key.to_owned(),
            payload: serde_json::to_value(post).unwrap_or_default(),
            due_at: post.due_at,
        },
        now,
    )
}

/// The address a manual account writes to, if it has its own
/// (`mailto:ana@example.org`); `None`: the activity's owner.
pub fn account_address(base_url: &str) -> Option<&str> {
    base_url
        .strip_prefix("mailto:")
        .map(str::trim)
        .filter(|a| !a.is_empty())
}

fn fill(template: &str, values: &[(&str, &str)]) -> String {
    values
        .iter()
        .fold(template.to_owned(), |text, (slot, value)| {
            text.replace(&format!("{{{slot}}}"), value)
        })
}

/// The words of the email, in `lang`.
#[allow(clippy::too_many_arguments)]
pub fn email_text(
    lang: Language,
    name: &str,
    title: &str,
    channel: &str,
    when: &str,
    post: &Post,
    link: &str,
    expires: &str,
    reminder: bool,
) -> (String, String) {
    let t = Tr::new(lang);
    let language = t.t(&format!("lang.{}", post.lang.as_str()));
    let values = [
        ("name", name),
        ("title", title),
        ("channel", channel),
        ("when", when),
        ("language", language),
        ("expires", expires),
        ("warning", post.content_warning.as_deref().unwrap_or("")),
    ];
    let subject = fill(t.t("manual.subject"), &values);
    let subject = if reminder {
        fill(t.t("manual.reminder_subject"), &[("subject", &subject)])
    } else {
        subject
    };
    let mut parts = vec![fill(t.t("manual.greeting"), &values)];
    if reminder {
        parts.push(fill(t.t("manual.reminder_intro"), &values));
    }
    parts.push(fill(t.t("manual.intro"), &values));
    if post.content_warning.is_some() {
        parts.push(fill(t.t("manual.warning"), &values));
    }
    parts.push(post.text.clone());
    parts.push(format!("{}\n{link}", t.t("manual.link")));
    parts.push(fill(t.t("manual.expires"), &values));
    parts.push(t.t("manual.why").to_owned());
    (subject, parts.join("\n\n") + "\n")
}

pub struct ManualHandler {
    db: Db,
    mailer: Mailer,
    clock: SharedClock,
    public_url: String,
    link_days: u32,
}

impl ManualHandler {
    pub fn new(
        settings: &crate::config::Settings,
        db: Db,
        clock: SharedClock,
    ) -> anyhow::Result<ManualHandler> {
        Ok(ManualHandler {
            db,
            mailer: Mailer::from_settings(settings)?,
            clock,
            public_url: settings.server.public_url.trim_end_matches('/').to_owned(),
            link_days: settings.manual.link_days,
        })
    }

    async fn send(&self, job: &Job) -> Attempt {
        if let Some(outcome) = super::check_withdrawn(&self.db, job).await {
            return Attempt::new(outcome, Exchange::default());
        }
        let post: Post = match serde_json::from_value(job.payload.clone()) {
            Ok(post) => post,
            Err(e) => {
                return Attempt::new(
                    Outcome::failed(format!("bad job payload: {e}")),
                    Exchange::default(),
                );
            }
        };
        let (job_id, now) = (job.id, self.clock.now());
        let (public_url, days) = (self.public_url.clone(), self.link_days);
        let prepared = self
            .db
            .run(move |c| prepare(c, &post, job_id, &public_url, days, now, false))
            .await;
        match prepared {
            Ok(Ok(prepared)) => self.mailer.send(job, Ok(prepared)).await,
            Ok(Err(reason)) => Attempt::new(Outcome::failed(reason), Exchange::default()),
            Err(Error::NotFound { entity, id }) => Attempt::new(
                Outcome::failed(format!("not sent: {entity} {id} is gone")),
                Exchange::default(),
            ),
            Err(e) => Attempt::new(Outcome::retry(None, e.to_string()), Exchange::default()),
        }
    }
}

/// The email of one attempt, with a fresh link whose hash is stored first
/// (an email of an earlier attempt that may have arrived keeps its own
/// link; all of a job's links work once in all). `Ok(Err)`: it cannot be
/// sent (no one to write to).
fn prepare(
    conn: &mut DbConnection,
    post: &Post,
    job_id: i64,
    public_url: &str,
    link_days: u32,
    now: DateTime<Utc>,
    reminder: bool,
) -> Result<std::result::Result<Prepared, String>> {
    let account = channel_accounts::get(conn, post.account_id)?;
    let activity = crate::db::activities::get(conn, post.activity_id)?;
    let (to, name, lang) = match account_address(&account.base_url) {
        Some(address) => {
            let lang = crate::reminders::language_for(conn, address, None)?;
            let name = account.name.clone().unwrap_or_else(|| address.to_owned());
            (address.to_owned(), name, lang)
        }
        None => {
            let person = match activity.owner_person_id {
                Some(id) => Some(crate::db::people::get(conn, id)?),
                None => None,
            };
            let Some((person, email)) =
                person.and_then(|p| p.email.clone().map(|email| (p, email)))
            else {
                return Ok(Err(
                    "not sent: the activity has no owner with an email address, and the \
                     manual account has no address of its own"
                        .into(),
                ));
            };
            let lang = crate::reminders::language_for(conn, &email, person.language)?;
            (email, person.name, lang)
        }
    };
    let channel = crate::db::channels::get(conn, post.channel_id)?;
    let (token, hash) = crate::domain::token::generate();
    let expires = post.due_at + TimeDelta::days(i64::from(link_days));
    posts::insert_done_link(conn, &hash, job_id, lang.as_str(), expires, now)?;
    let link = format!("{public_url}{LINK_PATH}{token}");
    let (subject, text) = email_text(
        lang,
        &name,
        &crate::reminders::title_in(&activity, lang),
        &channel.name,
        &crate::reminders::when_text(&activity, post.due_at),
        post,
        &link,
        &expires.format("%Y-%m-%d %H:%M UTC").to_string(),
        reminder,
    );
    Ok(Ok(Prepared::Send {
        to,
        name,
        subject,
        text,
    }))
}

impl crate::jobs::Handler for ManualHandler {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn run<'a>(&'a self, job: &'a Job) -> futures_util::future::BoxFuture<'a, Attempt> {
        Box::pin(self.send(job))
    }

    /// As every network (`social::finished`), and once the email went out,
    /// its reminder in the same transaction.
    fn finished(
        &self,
        conn: &mut DbConnection,
        job: &Job,
        outcome: &Outcome,
        now: DateTime<Utc>,
    ) -> Result<()> {
        super::finished(conn, Network::Manual, job, outcome, now)?;
        if matches!(outcome, Outcome::Done { .. }) {
            enqueue_reminder(conn, job, self.link_days, now)?;
        }
        Ok(())
    }
}

/// Sends a manual post's reminder if its variant still awaits its owner
/// (with what the post's own handler sends with).
pub struct ReminderHandler(ManualHandler);

impl ReminderHandler {
    pub fn new(
        settings: &crate::config::Settings,
        db: Db,
        clock: SharedClock,
    ) -> anyhow::Result<ReminderHandler> {
        Ok(ReminderHandler(ManualHandler::new(settings, db, clock)?))
    }

    async fn send(&self, job: &Job) -> Attempt {
        let reminder: Reminder = match serde_json::from_value(job.payload.clone()) {
            Ok(r) => r,
            Err(e) => {
                return Attempt::new(
                    Outcome::failed(format!("bad job payload: {e}")),
                    Exchange::default(),
                );
            }
        };
        let now = self.0.clock.now();
        let (public_url, days) = (self.0.public_url.clone(), self.0.link_days);
        let prepared = self
            .0
            .db
            .run(move |c| {
                let Some(publication) = posts::by_job(c, reminder.post_job_id)? else {
                    return Ok(Err("not sent: the post has no publication".to_owned()));
                };
                if publication.state != crate::domain::network::PublicationState::AwaitingOwner {
                    return Ok(Ok(Prepared::Skip(format!(
                        "not sent: the post is {} already",
                        publication.state
                    ))));
                }
                let row = crate::db::jobs::get(c, reminder.post_job_id)?;
                let post: Post = serde_json::from_str(&row.payload)
                    .map_err(|e| Error::Internal(anyhow::anyhow!("bad job payload: {e}")))?;
                prepare(c, &post, reminder.post_job_id, &public_url, days, now, true)
            })
            .await;
        match prepared {
            Ok(Ok(prepared)) => self.0.mailer.send(job, Ok(prepared)).await,
            Ok(Err(reason)) => Attempt::new(Outcome::failed(reason), Exchange::default()),
            Err(Error::NotFound { entity, id }) => Attempt::new(
                Outcome::failed(format!("not sent: {entity} {id} is gone")),
                Exchange::default(),
            ),
            Err(e) => Attempt::new(Outcome::retry(None, e.to_string()), Exchange::default()),
        }
    }
}

impl crate::jobs::Handler for ReminderHandler {
    fn kind(&self) -> &'static str {
        REMINDER_KIND
    }

    fn run<'a>(&'a self, job: &'a Job) -> futures_util::future::BoxFuture<'a, Attempt> {
        Box::pin(self.send(job))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_writes_to_its_own_address_or_to_the_owner() {
        assert_eq!(
            account_address("mailto:ana@bilbao.example"),
            Some("ana@bilbao.example")
        );
        assert_eq!(account_address("mailto:"), None);
        assert_eq!(account_address("https://x.example"), None);
    }
}
