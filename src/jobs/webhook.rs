//! Outbound webhook deliveries, signed per the Standard Webhooks
//! specification: `webhook-id` (the event's id, the same on every retry),
//! `webhook-timestamp` (Unix seconds of this attempt) and `webhook-signature`
//! (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one per secret that
//! signs now, separated by spaces, so a receiver can rotate). Retried on a
//! fixed schedule with jitter; 410 Gone disables the endpoint; 15 s timeout;
//! redirects are not followed; the address is checked when connecting.

use super::outbound::{self, NoAnswer, Outbound};
use super::sealed::Sealer;
use super::{Attempt, Exchange, Handler, Job, Outcome, RetryRules, Schedule};
use crate::clock::SharedClock;
use crate::db::{Db, DbConnection};
use crate::error::Result;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const KIND: &str = "webhook";

/// 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (then it has failed).
pub const SCHEDULE: &[u64] = &[5, 300, 1800, 7200, 18_000, 36_000, 36_000];

/// The context a webhook secret is sealed for.
pub fn secret_context(secret_id: i64) -> String {
    format!("webhook_secret:{secret_id}")
}

/// A new `whsec_…` secret.
pub fn new_secret() -> String {
    let bytes: [u8; 24] = rand::random();
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// The `webhook-signature` value for `body` under each secret.
pub fn sign(secrets: &[String], id: &str, timestamp: i64, body: &str) -> String {
    secrets
        .iter()
        .filter_map(|secret| {
            let key = STANDARD
                .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
                .ok()?;
            let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
            mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
            Some(format!(
                "v1,{}",
                STANDARD.encode(mac.finalize().into_bytes())
            ))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub struct WebhookHandler {
    db: Db,
    outbound: Outbound,
    sealer: Sealer,
    clock: SharedClock,
}

impl WebhookHandler {
    pub fn new(db: Db, outbound: Outbound, sealer: Sealer, clock: SharedClock) -> WebhookHandler {
        WebhookHandler {
            db,
            outbound,
            sealer,
            clock,
        }
    }

    async fn deliver(&self, job: &Job) -> Attempt {
        let endpoint_id = job.payload["endpoint_id"].as_i64().unwrap_or_default();
        let event_id = job.payload["event_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let body = job.payload["body"].as_str().unwrap_or_default().to_owned();
        let now = self.clock.now();
        let loaded = self
            .db
            .run(move |c| {
                let row = crate::db::webhooks::get_row(c, endpoint_id)?;
                let secrets = crate::db::webhooks::secrets(c, endpoint_id, now)?;
                Ok((row, secrets))
            })
            .await;
        let (endpoint, sealed) = match loaded {
            Ok(found) => found,
            Err(crate::Error::NotFound { .. }) => {
                return Attempt::new(
                    Outcome::failed("the endpoint was deleted"),
                    Exchange::default(),
                );
            }
            Err(e) => {
                return Attempt::new(Outcome::retry(None, e.to_string()), Exchange::default());
            }
        };
        if !endpoint.enabled {
            return Attempt::new(
                Outcome::failed(format!(
                    "the endpoint is disabled{}",
                    endpoint
                        .disabled_reason
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                )),
                Exchange::default(),
            );
        }
        let mut secrets = Vec::new();
        for s in &sealed {
            match self.sealer.open(&s.sealed, &secret_context(s.id)) {
                Ok(secret) => secrets.push(secret),
                Err(e) => return Attempt::new(Outcome::failed(e.to_string()), Exchange::default()),
            }
        }
        let url = match self.outbound.check(&endpoint.url) {
            Ok(url) => url,
            Err(reason) => return Attempt::new(Outcome::failed(reason), Exchange::default()),
        };
        let shown = format!(
            "POST {}://{}{} webhook-id {event_id}",
            url.scheme(),
            url.host_str().unwrap_or_default(),
            url.path()
        );
        let mut exchange = Exchange {
            request: Some(shown),
            ..Exchange::default()
        };
        let timestamp = now.timestamp();
        let signature = sign(&secrets, &event_id, timestamp, &body);
        let sent = self
            .outbound
            .client()
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => {
                let outcome = match outbound::classify(&error) {
                    NoAnswer::Refused(reason) => Outcome::failed(reason),
                    // The same webhook-id goes again: receivers deduplicate.
                    NoAnswer::NotSent(reason) | NoAnswer::MaybeSent(reason) => {
                        Outcome::retry(None, reason)
                    }
                };
                return Attempt::new(outcome, exchange);
            }
        };
        let status = response.status();
        let at = outbound::retry_after(response.headers(), self.clock.now());
        let reply: String = response
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .take(2000)
            .collect();
        exchange.status = Some(status.as_u16());
        exchange.reply = Some(reply);
        let outcome = if status.is_success() {
            Outcome::done(None, None)
        } else if status.as_u16() == 410 {
            Outcome::failed(GONE)
        } else {
            Outcome::retry(at, format!("the receiver answered {status}"))
        };
        Attempt::new(outcome, exchange)
    }
}

const GONE: &str = "410 Gone: the receiver asked for no more deliveries; endpoint disabled";

impl Handler for WebhookHandler {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn retry(&self) -> RetryRules {
        RetryRules {
            schedule: Schedule::Fixed(SCHEDULE),
            max_attempts: SCHEDULE.len() as i32 + 1,
            max_unknown: 5,
        }
    }

    fn run<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Attempt> {
        Box::pin(self.deliver(job))
    }

    fn finished(
        &self,
        conn: &mut DbConnection,
        job: &Job,
        outcome: &Outcome,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if let Outcome::Failed { reason } = outcome
            && reason == GONE
        {
            let endpoint = job.payload["endpoint_id"].as_i64().unwrap_or_default();
            if crate::db::webhooks::disable(conn, endpoint, "the receiver answered 410 Gone", now)?
            {
                tracing::warn!(endpoint, "webhook endpoint answered 410 Gone: disabled");
            }
        }
        Ok(())
    }
}
