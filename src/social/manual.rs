//! The manual channel: Pregón does not post; at the variant's due time the
//! owner gets an email (through the configured transport) with the exact
//! text, the channel, the language and the time, and a one-time link
//! (`/p/done/{token}`) to say where it was posted. The token is random and
//! kept only as its SHA-256, works once and expires `manual.link_days`
//! after the due time.
//!
//! Who is written to: the account's recipients (`config.recipients`, up
//! to 20 account ids and addresses), each their own email in their
//! language (the account's, else `config.default_language`, else English)
//! with a link of their own; with none listed, the account's own address
//! when it has one (`base_url = "mailto:…"`), else the activity's owner
//! (the person named as owner, with an email; the language: the owner's
//! account's, else the one recorded on the person, else English).
//!
//! One job sends them all. Each email accepted by the transport is
//! recorded in `manual_post_deliveries` (job, recipient), so a retry writes
//! only to the recipients not sent theirs yet. The job is done once every
//! recipient's email was accepted (the publication is then
//! `awaiting_owner`); its idempotency key is the variant and its approved
//! revision, so a done job never sends a second email. SMTP 4xx → retry
//! (from that recipient on), 5xx → that recipient failed, the others are
//! still written to, and the job fails naming them (the mailer's rules,
//! shared with reminders).
//!
//! Reminder: when that job is done, the same transaction enqueues one
//! `social.manual.reminder` job (its key the post job's id, so a repeated
//! run or a restart never makes a second) due halfway through
//! `manual.link_days`. If the variant is still `awaiting_owner` then, the
//! same recipients get the email once more, each in their language (the
//! reminder job's own ledger: a retry writes only to the others), with a link for
//! the same job and the same expiry (the first token is kept only as its
//! hash, so it cannot be sent again; any of the job's links works, once in
//! all). Marked done before then, the reminder sends nothing.

use crate::clock::SharedClock;
use crate::db::{Db, DbConnection, channel_accounts, posts};
use crate::domain::Language;
use crate::domain::network::{AccountConfig, Network, Recipient};
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
        self.send_all(job, job.id, post, false).await
    }

    /// Sends the job's email to each of the post's recipients not yet sent
    /// theirs (the job's ledger, `manual_post_deliveries`), each in their
    /// language with a link of its own for `link_job` (the post's job). A
    /// retry later or an unknown outcome stops there (the next try goes on
    /// from that recipient); a recipient refused for good does not stop the
    /// others, and fails the job once they are done.
    async fn send_all(&self, job: &Job, link_job: i64, post: Post, reminder: bool) -> Attempt {
        let job_id = job.id;
        let account_id = post.account_id;
        let activity_id = post.activity_id;
        let listed = self
            .db
            .run(move |c| {
                let sent = posts::delivered(c, job_id)?;
                Ok((recipients(c, account_id, activity_id)?, sent))
            })
            .await;
        let (list, sent) = match listed {
            Ok((Ok(list), sent)) => (list, sent),
            Ok((Err(reason), _)) => {
                return Attempt::new(Outcome::failed(reason), Exchange::default());
            }
            Err(e) => return db_error(e),
        };
        let single = list.len() == 1;
        let mut failures = Vec::new();
        let mut last = None;
        for (key, to) in list {
            if sent.contains(&key) {
                continue;
            }
            let to = match to {
                Ok(to) => to,
                Err(why) => {
                    failures.push(why);
                    continue;
                }
            };
            let address = to.address.clone();
            let (post, now) = (post.clone(), self.clock.now());
            let (public_url, days) = (self.public_url.clone(), self.link_days);
            let prepared = self
                .db
                .run(move |c| prepare(c, &post, link_job, &to, &public_url, days, now, reminder))
                .await;
            let prepared = match prepared {
                Ok(p) => p,
                Err(e) => return db_error(e),
            };
            // The owner alone keeps the Message-ID of a job's one email.
            let message_id = if key == OWNER {
                self.mailer.message_id(job, None)
            } else {
                self.mailer.message_id(job, Some(&part_of(&key)))
            };
            let attempt = self
                .mailer
                .send_as(job, Ok(prepared), message_id.clone())
                .await;
            match &attempt.outcome {
                Outcome::Done { .. } => {
                    let now = self.clock.now();
                    let recorded = self
                        .db
                        .transaction(move |c| {
                            posts::record_delivery(c, job_id, &key, &message_id, now)
                        })
                        .await;
                    if let Err(e) = recorded {
                        return db_error(e);
                    }
                    last = Some(attempt);
                }
                Outcome::Failed { .. } if single => return attempt,
                Outcome::Failed { reason } => failures.push(format!("{address}: {reason}")),
                _ => return attempt,
            }
        }
        if !failures.is_empty() {
            let exchange = last.map(|a| a.exchange).unwrap_or_default();
            return Attempt::new(
                Outcome::failed(format!("not sent to {}", failures.join("; "))),
                exchange,
            );
        }
        last.unwrap_or_else(|| {
            Attempt::new(
                Outcome::done(Some("every recipient was sent the email".into()), None),
                Exchange::default(),
            )
        })
    }
}

/// The attempt after a database error: retried, or failed when its record is gone.
fn db_error(e: Error) -> Attempt {
    match e {
        Error::NotFound { entity, id } => Attempt::new(
            Outcome::failed(format!("not sent: {entity} {id} is gone")),
            Exchange::default(),
        ),
        e => Attempt::new(Outcome::retry(None, e.to_string()), Exchange::default()),
    }
}

/// The ledger's name of the one recipient of an account without a list
/// (its own address, or the activity's owner).
const OWNER: &str = "owner";

/// A short, stable name of a recipient for its email's Message-ID.
fn part_of(key: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(key.as_bytes())[..6])
}

/// Someone a manual post's email goes to, in their language.
#[derive(Debug, Clone)]
struct To {
    address: String,
    name: String,
    lang: Language,
}

/// Who the account's posts go to, each with its ledger key: its recipients
/// (an account without an active address: `Err` with why, the others are
/// still written to), or, with none listed, its own address, else the
/// activity's owner. `Ok(Err)`: no one at all.
#[allow(clippy::type_complexity)]
fn recipients(
    conn: &mut DbConnection,
    account_id: i64,
    activity_id: i64,
) -> Result<std::result::Result<Vec<(String, std::result::Result<To, String>)>, String>> {
    let account = channel_accounts::get(conn, account_id)?;
    let config = AccountConfig::parse(account.config.as_deref());
    if !config.recipients.is_empty() {
        let mut out = Vec::new();
        for r in &config.recipients {
            let to = match r {
                Recipient::Account(id) => match crate::db::accounts::find(conn, *id)? {
                    Some(a) if a.is_active() && a.email.is_some() => Ok(To {
                        address: a.email.clone().unwrap_or_default(),
                        name: a.name.clone(),
                        lang: a.language,
                    }),
                    _ => Err(format!("account {id}: no active account with an address")),
                },
                Recipient::Email(address) => Ok(To {
                    address: address.clone(),
                    name: address.clone(),
                    lang: crate::reminders::language_for(conn, address, config.default_language)?,
                }),
            };
            out.push((r.key(), to));
        }
        return Ok(Ok(out));
    }
    let to = match account_address(&account.base_url) {
        Some(address) => {
            let lang = crate::reminders::language_for(conn, address, config.default_language)?;
            let name = account.name.clone().unwrap_or_else(|| address.to_owned());
            To {
                address: address.to_owned(),
                name,
                lang,
            }
        }
        None => {
            let activity = crate::db::activities::get(conn, activity_id)?;
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
            To {
                address: email,
                name: person.name,
                lang,
            }
        }
    };
    Ok(Ok(vec![(OWNER.to_owned(), Ok(to))]))
}

/// The email of one attempt to one recipient, with a fresh link whose hash
/// is stored first (an email of an earlier attempt that may have arrived
/// keeps its own link; all of a job's links work once in all).
#[allow(clippy::too_many_arguments)]
fn prepare(
    conn: &mut DbConnection,
    post: &Post,
    job_id: i64,
    to: &To,
    public_url: &str,
    link_days: u32,
    now: DateTime<Utc>,
    reminder: bool,
) -> Result<Prepared> {
    let activity = crate::db::activities::get(conn, post.activity_id)?;
    let channel = crate::db::channels::get(conn, post.channel_id)?;
    let lang = to.lang;
    let (token, hash) = crate::domain::token::generate();
    let expires = post.due_at + TimeDelta::days(i64::from(link_days));
    posts::insert_done_link(conn, &hash, job_id, lang.as_str(), expires, now)?;
    let link = format!("{public_url}{LINK_PATH}{token}");
    let (subject, text) = email_text(
        lang,
        &to.name,
        &crate::reminders::title_in(&activity, lang),
        &channel.name,
        &crate::reminders::when_text(&activity, post.due_at),
        post,
        &link,
        &expires.format("%Y-%m-%d %H:%M UTC").to_string(),
        reminder,
    );
    Ok(Prepared::Send {
        to: to.address.clone(),
        name: to.name.clone(),
        subject,
        text,
    })
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
        let post_job = reminder.post_job_id;
        let found = self
            .0
            .db
            .run(move |c| {
                let Some(publication) = posts::by_job(c, post_job)? else {
                    return Ok(Err(Outcome::failed(
                        "not sent: the post has no publication",
                    )));
                };
                if publication.state != crate::domain::network::PublicationState::AwaitingOwner {
                    return Ok(Err(Outcome::done(
                        Some(format!(
                            "skipped: not sent: the post is {} already",
                            publication.state
                        )),
                        None,
                    )));
                }
                let row = crate::db::jobs::get(c, post_job)?;
                let post: Post = serde_json::from_str(&row.payload)
                    .map_err(|e| Error::Internal(anyhow::anyhow!("bad job payload: {e}")))?;
                Ok(Ok(post))
            })
            .await;
        match found {
            Ok(Ok(post)) => self.0.send_all(job, post_job, post, true).await,
            Ok(Err(outcome)) => Attempt::new(outcome, Exchange::default()),
            Err(e) => db_error(e),
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
