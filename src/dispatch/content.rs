//! What each delivery says: a newsletter issue personalised for its
//! recipient, a double opt-in confirmation, or an invitation.

use super::{BuildError, Dispatcher};
use crate::config::EmailSettings;
use crate::db::deliveries::Claimed;
use crate::db::{issues, subscribers};
use crate::domain::Language;
use crate::domain::language::pick;
use crate::domain::newsletter::{DeliveryKind, Issue};
use crate::email::render::{escape_html, personalise_subject};
use crate::email::{Content, Footer, ListUnsubscribe, OutgoingEmail, PreparedNewsletter};
use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::Mailbox;
use std::collections::HashMap;
use std::sync::Arc;

/// The domain of Message-IDs: the sender's.
pub fn message_domain(email: &EmailSettings) -> String {
    email
        .from_address
        .rsplit_once('@')
        .map(|(_, domain)| domain.trim().to_owned())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "pregon.invalid".into())
}

/// An issue rendered once per language; personalised per recipient by
/// string substitution only.
pub struct Prepared {
    pub subject: String,
    pub newsletter: PreparedNewsletter,
}

/// Rendered issues by (issue, wanted language). Issues cannot change once
/// they are sending, so entries never go stale; the cache is emptied when it
/// grows past a few issues to keep memory flat.
#[derive(Default)]
pub struct Cache {
    entries: HashMap<(i64, Language), Arc<Prepared>>,
}

pub fn footer(email: &EmailSettings) -> Footer {
    Footer {
        organisation: email.organisation.clone(),
        postal_address: email.postal_address.clone(),
    }
}

/// Renders an issue for a language (with fallback), as the preview shows it.
pub fn prepare(
    issue: &Issue,
    wanted: Language,
    email: &EmailSettings,
) -> Option<(Language, Prepared)> {
    let (lang, t) = pick(&issue.translations, wanted)?;
    Some((
        lang,
        Prepared {
            subject: t.subject.clone(),
            newsletter: PreparedNewsletter::new(&t.subject, &t.body, lang, &footer(email)),
        },
    ))
}

fn mailbox(name: Option<&str>, address: &str) -> Result<Mailbox, BuildError> {
    let address = address
        .parse()
        .map_err(|e| BuildError::Unsendable(format!("invalid address {address:?}: {e}")))?;
    Ok(Mailbox::new(
        name.map(str::to_owned).filter(|n| !n.trim().is_empty()),
        address,
    ))
}

pub fn sender(email: &EmailSettings) -> Result<Mailbox, BuildError> {
    mailbox(Some(&email.from_name), &email.from_address)
}

pub fn base_email(
    email: &EmailSettings,
    to: Mailbox,
    subject: String,
    content: Content,
    message_id: &str,
    now: DateTime<Utc>,
) -> Result<OutgoingEmail, BuildError> {
    let mut out = OutgoingEmail::new(sender(email)?, to, subject, content, message_id, now);
    if !email.reply_to.trim().is_empty() {
        out.reply_to = Some(mailbox(None, email.reply_to.trim())?);
    }
    Ok(out)
}

/// The unsubscribe link's URL: GET shows the preferences page, POST (RFC 8058
/// one-click) unsubscribes.
pub fn unsubscribe_url(public_url: &str, token: &str) -> String {
    format!("{public_url}/newsletter/unsubscribe/{token}")
}

pub fn confirm_url(public_url: &str, token: &str) -> String {
    format!("{public_url}/newsletter/confirm/{token}")
}

impl Dispatcher {
    pub(super) async fn build(
        &self,
        delivery: &Claimed,
        now: DateTime<Utc>,
    ) -> Result<Message, BuildError> {
        let kind = delivery.kind()?;
        let email = match kind {
            DeliveryKind::Newsletter => self.newsletter(delivery, now).await?,
            DeliveryKind::Confirmation => self.confirmation(delivery, now).await?,
            DeliveryKind::Invitation => self.invitation(delivery, now).await?,
        };
        email
            .into_message()
            .map_err(|e| BuildError::Unsendable(e.to_string()))
    }

    async fn prepared(&self, issue_id: i64, wanted: Language) -> Result<Arc<Prepared>, BuildError> {
        if let Some(found) = self
            .content
            .lock()
            .expect("content lock")
            .entries
            .get(&(issue_id, wanted))
        {
            return Ok(found.clone());
        }
        let issue = self.db.run(move |c| issues::get(c, issue_id)).await?;
        let (_, prepared) = prepare(&issue, wanted, &self.email)
            .ok_or_else(|| BuildError::Unsendable("the issue has no text".into()))?;
        let prepared = Arc::new(prepared);
        let mut cache = self.content.lock().expect("content lock");
        if cache.entries.len() > 32 {
            cache.entries.clear();
        }
        cache.entries.insert((issue_id, wanted), prepared.clone());
        Ok(prepared)
    }

    async fn newsletter(
        &self,
        d: &Claimed,
        now: DateTime<Utc>,
    ) -> Result<OutgoingEmail, BuildError> {
        let issue_id = d
            .issue_id
            .ok_or_else(|| BuildError::Unsendable("newsletter delivery without issue".into()))?;
        let prepared = self.prepared(issue_id, d.language()?).await?;
        let signer = self.signer().await?;
        let token = signer.unsubscribe_token(d.subscriber_id.unwrap_or(0), issue_id);
        let url = unsubscribe_url(&self.public_url, &token);
        let name = d.name.as_deref().unwrap_or("");
        let subject = personalise_subject(&prepared.subject, name);
        let mut out = base_email(
            &self.email,
            mailbox(d.name.as_deref(), &d.email)?,
            subject,
            Content::Encoded(prepared.newsletter.encode(name, &url)),
            &d.message_id,
            now,
        )?;
        let mailto = if self.email.unsubscribe_mailto.trim().is_empty() {
            &self.email.from_address
        } else {
            self.email.unsubscribe_mailto.trim()
        };
        out.list_unsubscribe = Some(ListUnsubscribe {
            https_url: url.starts_with("https://").then_some(url),
            mailto: Some(format!("mailto:{mailto}?subject=unsubscribe%20{token}")),
        });
        out.extra_headers
            .push(("Feedback-ID".into(), format!("issue-{issue_id}:pregon")));
        Ok(out)
    }

    async fn confirmation(
        &self,
        d: &Claimed,
        now: DateTime<Utc>,
    ) -> Result<OutgoingEmail, BuildError> {
        let subscription = d
            .subscription_id
            .ok_or_else(|| BuildError::Unsendable("the subscription no longer exists".into()))?;
        let (list, expires) = self
            .db
            .run(move |c| subscribers::confirmation_details(c, subscription))
            .await?
            .ok_or_else(|| BuildError::Unsendable("the subscription no longer exists".into()))?;
        let token = self.signer().await?.confirm_token(subscription, expires);
        let url = confirm_url(&self.public_url, &token);
        let lang = d.language()?;
        // No name, in the body or the To header: a confirmation goes to an
        // address nobody has proven is the submitter's, and whatever the
        // public form was given as a name would reach that stranger (a way
        // to send spam through us).
        let (subject, text) = confirmation_text(lang, &list, &url, expires);
        let html = simple_html(lang, &text, Some(&url));
        base_email(
            &self.email,
            mailbox(None, &d.email)?,
            subject,
            Content::text_and_html(text, html),
            &d.message_id,
            now,
        )
    }
}

impl Dispatcher {
    /// An iTIP invitation (REQUEST) or cancellation (CANCEL): the event as the
    /// calendar feeds publish it (same UID, current SEQUENCE), with this
    /// participant as attendee and the sender as organizer.
    async fn invitation(
        &self,
        d: &Claimed,
        now: DateTime<Utc>,
    ) -> Result<OutgoingEmail, BuildError> {
        use crate::calendar::ics::{self, Attendee, Calendar, Method, Organizer, PartStat, Role};
        let activity_id = d
            .activity_id
            .ok_or_else(|| BuildError::Unsendable("invitation without activity".into()))?;
        let activity = match self
            .db
            .run(move |c| crate::db::activities::get(c, activity_id))
            .await
        {
            Ok(a) => a,
            Err(crate::Error::NotFound { .. }) => {
                return Err(BuildError::Unsendable(
                    "the activity no longer exists".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        if !crate::db::invitations::invitable(&activity) {
            return Err(BuildError::Unsendable(
                "the activity has no date any more".into(),
            ));
        }
        let lang = d.language()?;
        let cancel = d.method.as_deref() == Some("cancel");
        let method = if cancel {
            Method::Cancel
        } else {
            Method::Request
        };
        // Calendars reply to the ORGANIZER: an address whose mail Pregón
        // reads, which need not be the newsletter's sender.
        let organizer_address = match self.email.invitation_organizer.trim() {
            "" => self.email.from_address.clone(),
            address => address.to_owned(),
        };
        let organizer = Organizer {
            cn: Some(self.email.from_name.clone()).filter(|n| !n.trim().is_empty()),
            email: organizer_address,
        };
        let context = crate::calendar::feed::Context::default();
        let mut events =
            crate::calendar::feed::events_for(&activity, lang, &context, Some(organizer));
        for event in &mut events {
            event.dtstamp = now;
            event.attendees = vec![Attendee {
                cn: d.name.clone(),
                email: d.email.clone(),
                role: Some(Role::ReqParticipant),
                partstat: Some(PartStat::NeedsAction),
                rsvp: !cancel,
            }];
            if cancel {
                event.status = Some(ics::EventStatus::Cancelled);
            }
        }
        let summary = events
            .first()
            .map(|e| e.summary.clone())
            .unwrap_or_default();
        let when = describe_time(&activity.timing);
        let place = [activity.place.name.clone(), activity.place.address.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
        let calendar = Calendar {
            prodid: crate::calendar::feed::PRODID.into(),
            method: Some(method),
            name: None,
            description: None,
            refresh_interval: None,
            url: None,
            events,
        };
        let ics = ics::try_render(&calendar)
            .map_err(|e| BuildError::Unsendable(format!("cannot write the invitation: {e}")))?;
        let updated = d.sequence.unwrap_or(0) > 0;
        let (subject, text) = invitation_text(lang, cancel, updated, &summary, &when, &place);
        let html = simple_html(lang, &text, None);
        let mut out = base_email(
            &self.email,
            mailbox(d.name.as_deref(), &d.email)?,
            subject,
            Content::text_and_html(text, html),
            &d.message_id,
            now,
        )?;
        out.calendar = Some(crate::email::CalendarPart {
            method: if cancel {
                crate::email::CalendarMethod::Cancel
            } else {
                crate::email::CalendarMethod::Request
            },
            ics,
            attach_ics: true,
        });
        Ok(out)
    }
}

/// The HTML alternative of a short plain-text email: a paragraph per block
/// of text, and `link`, where a paragraph is just that URL, as a link.
fn simple_html(lang: Language, text: &str, link: Option<&str>) -> String {
    let paragraphs: String = text
        .split("\n\n")
        .map(|p| match link {
            Some(url) if p.trim() == url => {
                format!("<p><a href=\"{0}\">{0}</a></p>\n", escape_html(url))
            }
            _ => format!("<p>{}</p>\n", escape_html(p).replace('\n', "<br>")),
        })
        .collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\"><body style=\"font-family:Arial,Helvetica,sans-serif\">\n{paragraphs}</body></html>\n"
    )
}

fn describe_time(timing: &crate::domain::Timing) -> String {
    use crate::domain::Timing;
    match timing {
        Timing::Exact { start, end, zone } => {
            if start.date() == end.date() {
                format!(
                    "{} {}–{} ({})",
                    start.format("%Y-%m-%d"),
                    start.format("%H:%M"),
                    end.format("%H:%M"),
                    zone.name()
                )
            } else {
                format!(
                    "{} – {} ({})",
                    start.format("%Y-%m-%d %H:%M"),
                    end.format("%Y-%m-%d %H:%M"),
                    zone.name()
                )
            }
        }
        Timing::Days { start, end } if start == end => start.format("%Y-%m-%d").to_string(),
        Timing::Days { start, end } => format!("{start} – {end}"),
        _ => String::new(),
    }
}

fn invitation_text(
    lang: Language,
    cancel: bool,
    updated: bool,
    summary: &str,
    when: &str,
    place: &str,
) -> (String, String) {
    let (invite, update, cancelled, when_label, where_label, note) = match lang {
        Language::Es => (
            "Invitación",
            "Invitación actualizada",
            "Cancelado",
            "Cuándo",
            "Dónde",
            "El archivo adjunto añade el evento a tu calendario.",
        ),
        Language::Fr => (
            "Invitation",
            "Invitation mise à jour",
            "Annulé",
            "Quand",
            "Où",
            "La pièce jointe ajoute l'événement à votre agenda.",
        ),
        Language::En => (
            "Invitation",
            "Updated invitation",
            "Cancelled",
            "When",
            "Where",
            "The attachment adds the event to your calendar.",
        ),
    };
    let prefix = if cancel {
        cancelled
    } else if updated {
        update
    } else {
        invite
    };
    let mut text = format!("{summary}\n\n{when_label}: {when}");
    if !place.is_empty() {
        text.push_str(&format!("\n{where_label}: {place}"));
    }
    text.push_str(&format!("\n\n{note}\n"));
    (format!("{prefix}: {summary}"), text)
}

fn confirmation_text(
    lang: Language,
    list: &str,
    url: &str,
    expires: DateTime<Utc>,
) -> (String, String) {
    let until = expires.format("%Y-%m-%d %H:%M UTC");
    let greeting = |hello: &str| format!("{hello},");
    match lang {
        Language::Es => (
            format!("Confirma tu suscripción: {list}"),
            format!(
                "{}\n\nPara recibir «{list}», confirma tu suscripción abriendo este enlace:\n\n{url}\n\nEl enlace vale hasta el {until}. Si no lo has pedido tú, ignora este mensaje: no recibirás nada más.\n",
                greeting("Hola")
            ),
        ),
        Language::Fr => (
            format!("Confirmez votre abonnement : {list}"),
            format!(
                "{}\n\nPour recevoir « {list} », confirmez votre abonnement en ouvrant ce lien :\n\n{url}\n\nLe lien est valable jusqu'au {until}. Si vous n'avez rien demandé, ignorez ce message : vous ne recevrez rien d'autre.\n",
                greeting("Bonjour")
            ),
        ),
        Language::En => (
            format!("Confirm your subscription: {list}"),
            format!(
                "{}\n\nTo receive \"{list}\", confirm your subscription by opening this link:\n\n{url}\n\nThe link is valid until {until}. If you did not ask for this, ignore this message: you will receive nothing more.\n",
                greeting("Hello")
            ),
        ),
    }
}
