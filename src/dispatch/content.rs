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
use crate::email::{Footer, ListUnsubscribe, OutgoingEmail, PreparedNewsletter};
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
    text: String,
    message_id: &str,
    now: DateTime<Utc>,
) -> Result<OutgoingEmail, BuildError> {
    let mut out = OutgoingEmail::new(sender(email)?, to, subject, text, message_id, now);
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
            .build()
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
        let body = prepared.newsletter.personalise(name, &url);
        let subject = personalise_subject(&prepared.subject, name);
        let mut out = base_email(
            &self.email,
            mailbox(d.name.as_deref(), &d.email)?,
            subject,
            body.text,
            &d.message_id,
            now,
        )?;
        out.html = Some(body.html);
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
        let name = d.name.as_deref().unwrap_or("");
        let (subject, text) = confirmation_text(lang, &list, name, &url, expires);
        let mut out = base_email(
            &self.email,
            mailbox(d.name.as_deref(), &d.email)?,
            subject,
            text.clone(),
            &d.message_id,
            now,
        )?;
        let paragraphs: String = text
            .split("\n\n")
            .map(|p| {
                if p.trim() == url {
                    format!("<p><a href=\"{0}\">{0}</a></p>\n", escape_html(&url))
                } else {
                    format!("<p>{}</p>\n", escape_html(p).replace('\n', "<br>"))
                }
            })
            .collect();
        out.html = Some(format!(
            "<!DOCTYPE html>\n<html lang=\"{lang}\"><body style=\"font-family:Arial,Helvetica,sans-serif\">\n{paragraphs}</body></html>\n"
        ));
        Ok(out)
    }
}

impl Dispatcher {
    async fn invitation(
        &self,
        _d: &Claimed,
        _now: DateTime<Utc>,
    ) -> Result<OutgoingEmail, BuildError> {
        Err(BuildError::Unsendable(
            "invitations are not available in this build".into(),
        ))
    }
}

fn confirmation_text(
    lang: Language,
    list: &str,
    name: &str,
    url: &str,
    expires: DateTime<Utc>,
) -> (String, String) {
    let until = expires.format("%Y-%m-%d %H:%M UTC");
    let greeting = |hello: &str| {
        if name.trim().is_empty() {
            format!("{hello},")
        } else {
            format!("{hello} {},", crate::email::message::single_line(name))
        }
    };
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
