//! The recurring "progress report to the World Secretariat": when an
//! occurrence of an approved `progress_report` activity falls due, the
//! progress report of its plan is emailed (HTML body, PDF and CSV attached)
//! to the activity's recipients, once per occurrence and recipient, and the
//! sending is recorded in the activity's history.
//!
//! Recipients are the activity's participants (and its owner person) who
//! have an email address: add the Secretariat's contact as a participant
//! (role `attendee`, say) to have it sent there. Each gets the report in
//! their language (their account's, else the one on the person).
//!
//! The report covers the days from the previous occurrence (or, for the
//! first, from the start of the plan's first period) to the day before this
//! occurrence.

use super::{Mailer, people_of, reachable_people, starts, unsent};
use crate::app::Actor;
use crate::app::history::{self, Action, Entry, FieldChange};
use crate::app::reviews::{self, Subject};
use crate::db::{Db, DbConnection};
use crate::domain::activity::{Activity, ActivityKind};
use crate::error::{Error, Result};
use crate::jobs::{self, Attempt, Exchange, Handler, Job, NewJob, Outcome};
use crate::report::Format;
use crate::web::i18n::Tr;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use futures_util::future::BoxFuture;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use serde_json::json;

pub const KIND: &str = "report.email";

/// How long after an occurrence its report may still be sent (an approval
/// given late still sends it; an older one is left).
const CATCH_UP_DAYS: i64 = 31;

/// Enqueues a job per due occurrence and recipient of every approved,
/// open progress-report activity.
pub(super) fn plan(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<usize> {
    let today = now.date_naive();
    let filter = crate::db::activities::ActivityFilter {
        kind: Some(ActivityKind::ProgressReport),
        from: Some(today - TimeDelta::days(CATCH_UP_DAYS)),
        to: Some(today),
        ..Default::default()
    };
    let mut created = 0;
    for a in crate::db::activities::all(conn, &filter)? {
        if !super::is_open(a.status) {
            continue;
        }
        let due: Vec<DateTime<Utc>> = starts(&a, filter.from.unwrap_or(today), today)
            .into_iter()
            .filter(|at| *at <= now && *at > now - TimeDelta::days(CATCH_UP_DAYS))
            .collect();
        if due.is_empty() {
            continue;
        }
        // Like any outgoing item: only with a current approval.
        if reviews::require_approved(conn, Subject::Activity(a.id)).is_err() {
            continue;
        }
        for at in due {
            for person in reachable_people(conn, &a)? {
                let job = NewJob {
                    kind: KIND,
                    key: format!(
                        "activity:{}:{}:person:{person}",
                        a.id,
                        super::key_instant(at)
                    ),
                    payload: json!({"activity_id": a.id, "at": at, "person_id": person}),
                    due_at: now,
                };
                created += usize::from(jobs::enqueue(conn, &job, now)?.created);
            }
        }
    }
    Ok(created)
}

/// The days the report of the occurrence at `at` covers.
fn period(
    conn: &mut DbConnection,
    a: &Activity,
    at: DateTime<Utc>,
) -> Result<(NaiveDate, NaiveDate)> {
    let day = at.date_naive();
    let to = day - TimeDelta::days(1);
    let previous = starts(a, day - TimeDelta::days(400), to)
        .into_iter()
        .filter(|t| *t < at)
        .max()
        .map(|t| t.date_naive());
    let from = match previous {
        Some(from) => from,
        None => crate::db::plans::get(conn, a.plan_id)?
            .periods
            .iter()
            .filter_map(|p| p.starts_on)
            .min()
            .unwrap_or(day - TimeDelta::days(90)),
    };
    Ok((from.min(to), to))
}

struct Built {
    to: String,
    name: String,
    subject: String,
    text: String,
    html: String,
    pdf: Vec<u8>,
    csv: Vec<u8>,
    file: String,
}

fn prepare(conn: &mut DbConnection, job: &Job) -> Result<std::result::Result<Built, String>> {
    let payload = &job.payload;
    let activity_id = super::payload_id(payload, "activity_id")?;
    let person_id = super::payload_id(payload, "person_id")?;
    let at = super::payload_time(payload, "at")?;
    let a = crate::db::activities::get(conn, activity_id)?;
    if !super::is_open(a.status) {
        return Ok(Err(format!("the activity is {}", a.status)));
    }
    let day = at.date_naive();
    if !starts(&a, day - TimeDelta::days(1), day + TimeDelta::days(1)).contains(&at) {
        return Ok(Err("the occurrence moved or was cancelled".into()));
    }
    if let Err(e) = reviews::require_approved(conn, Subject::Activity(a.id)) {
        return Ok(Err(format!("not approved any more: {e}")));
    }
    if !people_of(&a).contains(&person_id) {
        return Ok(Err("the person is no longer a recipient".into()));
    }
    let person = crate::db::people::get(conn, person_id)?;
    let Some(email) = person.email.clone() else {
        return Ok(Err("the person has no email address".into()));
    };
    let lang = super::language_for(conn, &email, person.language)?;
    let (from, to) = period(conn, &a, at)?;
    let report = crate::app::reports::progress(
        conn,
        &Actor::System,
        job.first_attempt_at,
        &crate::app::reports::Request {
            plan: a.plan_id.to_string(),
            from,
            to,
            campaign: None,
            lang,
        },
    )?;
    let render = |format| crate::report::render(&report, format);
    let html = String::from_utf8(render(Format::Html)?)
        .map_err(|e| Error::Internal(anyhow::anyhow!("report HTML: {e}")))?;
    let t = Tr::new(lang);
    let title = super::title_in(&a, lang);
    let (from_s, to_s) = (
        from.format("%Y-%m-%d").to_string(),
        to.format("%Y-%m-%d").to_string(),
    );
    let fill = |key: &str| {
        t.t(key)
            .replace("{title}", &title)
            .replace("{from}", &from_s)
            .replace("{to}", &to_s)
            .replace("{name}", &person.name)
    };
    Ok(Ok(Built {
        to: email,
        name: person.name.clone(),
        subject: fill("report_mail.subject"),
        text: format!(
            "{}\n\n{}\n",
            fill("reminder.greeting"),
            fill("report_mail.body")
        ),
        html,
        pdf: render(Format::Pdf)?,
        csv: render(Format::Csv)?,
        file: format!("progress-report-{from_s}-{to_s}"),
    }))
}

fn message(mailer: &Mailer, job: &Job, b: Built) -> std::result::Result<lettre::Message, String> {
    let from = crate::dispatch::content::sender(&mailer.email).map_err(|e| format!("{e:?}"))?;
    let to: lettre::Address = b.to.parse().map_err(|e| format!("invalid address: {e}"))?;
    let content_type = |s: &str| ContentType::parse(s).map_err(|e| e.to_string());
    let body = MultiPart::mixed()
        .multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::plain(b.text))
                .singlepart(SinglePart::html(b.html)),
        )
        .singlepart(
            Attachment::new(format!("{}.pdf", b.file))
                .body(b.pdf, content_type("application/pdf")?),
        )
        .singlepart(
            Attachment::new(format!("{}.csv", b.file))
                .body(b.csv, content_type("text/csv; charset=utf-8")?),
        );
    lettre::Message::builder()
        .from(from)
        .to(Mailbox::new(Some(b.name), to))
        .subject(b.subject)
        .message_id(Some(mailer.message_id(job, None)))
        .date(job.first_attempt_at.into())
        .multipart(body)
        .map_err(|e| e.to_string())
}

pub struct ReportHandler {
    pub(super) db: Db,
    pub(super) mailer: Mailer,
}

impl Handler for ReportHandler {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn run<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Attempt> {
        Box::pin(async move {
            let owned = job.clone();
            let built = self.db.run(move |c| prepare(c, &owned)).await;
            let built = match built {
                Ok(Ok(built)) => built,
                Ok(Err(why)) => return unsent(Ok(why)),
                Err(e) => return unsent(Err(e)),
            };
            match message(&self.mailer, job, built) {
                Ok(m) => {
                    self.mailer
                        .deliver(&self.mailer.message_id(job, None), &m)
                        .await
                }
                Err(e) => Attempt::new(Outcome::failed(e), Exchange::default()),
            }
        })
    }

    /// A report that went out is recorded in its activity's history (the
    /// recipient as personal data: the fact, not the address).
    fn finished(
        &self,
        conn: &mut DbConnection,
        job: &Job,
        outcome: &Outcome,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let Outcome::Done { remote_id, .. } = outcome else {
            return Ok(());
        };
        if remote_id
            .as_deref()
            .is_some_and(|r| r.starts_with("skipped"))
        {
            return Ok(());
        }
        let activity_id = super::payload_id(&job.payload, "activity_id")?;
        history::record(
            conn,
            &Actor::System,
            now,
            Entry {
                entity: "activity",
                entity_id: activity_id,
                action: Action::Updated,
                changes: vec![
                    FieldChange {
                        field: "report_sent".into(),
                        before: serde_json::Value::Null,
                        after: json!({"occurrence": job.payload["at"], "job_id": job.id,
                                      "message_id": remote_id}),
                        personal: false,
                    },
                    FieldChange {
                        field: "report_sent.recipient".into(),
                        before: serde_json::Value::Null,
                        after: serde_json::Value::Null,
                        personal: true,
                    },
                ],
                reason: None,
            },
        )
    }
}
