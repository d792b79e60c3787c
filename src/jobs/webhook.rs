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
use chrono::{DateTime, TimeDelta, Utc};
use futures_util::future::BoxFuture;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
    clock: SharedClock,
    endpoints: Arc<Endpoints>,
}

/// Endpoints as last read, by id, for the runner's life: read again for
/// every claimed group (`Handler::prepare`), opened secrets reused while
/// their ids are the same.
struct Endpoints {
    sealer: Sealer,
    known: Mutex<HashMap<i64, Read>>,
}

/// An endpoint as read at `read_at`; `None`: it did not exist then.
#[derive(Clone)]
struct Read {
    read_at: DateTime<Utc>,
    endpoint: Option<Arc<Endpoint>>,
}

/// What a delivery needs of its endpoint. No Debug: it holds secrets.
struct Endpoint {
    url: String,
    enabled: bool,
    disabled_reason: Option<String>,
    /// The secrets that signed when read, newest first (or why they did
    /// not open).
    secrets: std::result::Result<Vec<Opened>, String>,
}

struct Opened {
    id: i64,
    expires_at: Option<DateTime<Utc>>,
    secret: String,
}

/// A delivery that starts longer than this after its endpoint was read
/// reads it again (it waited behind slow attempts).
const FRESH_FOR: TimeDelta = TimeDelta::seconds(1);

impl Endpoints {
    /// Reads these endpoints and their signing secrets (two queries for
    /// all of them) and keeps what was read; secrets already opened under
    /// the same id are not opened again.
    fn read(&self, conn: &mut DbConnection, ids: &[i64], now: DateTime<Utc>) -> Result<()> {
        let rows = crate::db::webhooks::rows(conn, ids)?;
        let mut sealed: HashMap<i64, Vec<crate::db::webhooks::SealedSecret>> = HashMap::new();
        for (endpoint, secret) in crate::db::webhooks::signing_secrets(conn, ids, now)? {
            sealed.entry(endpoint).or_default().push(secret);
        }
        let mut rows: HashMap<i64, crate::db::webhooks::Row> =
            rows.into_iter().map(|r| (r.id, r)).collect();
        for &id in ids {
            let before = self.known(id).and_then(|r| r.endpoint);
            let endpoint = rows.remove(&id).map(|row| {
                let secrets = self.open(sealed.remove(&id).unwrap_or_default(), before.as_deref());
                Arc::new(Endpoint {
                    url: row.url,
                    enabled: row.enabled,
                    disabled_reason: row.disabled_reason,
                    secrets,
                })
            });
            self.lock().insert(
                id,
                Read {
                    read_at: now,
                    endpoint,
                },
            );
        }
        Ok(())
    }

    fn open(
        &self,
        sealed: Vec<crate::db::webhooks::SealedSecret>,
        before: Option<&Endpoint>,
    ) -> std::result::Result<Vec<Opened>, String> {
        let opened_before = before.and_then(|b| b.secrets.as_ref().ok());
        sealed
            .into_iter()
            .map(|s| {
                let known = opened_before
                    .and_then(|o| o.iter().find(|o| o.id == s.id))
                    .map(|o| o.secret.clone());
                let secret = match known {
                    Some(secret) => secret,
                    None => self
                        .sealer
                        .open(&s.sealed, &secret_context(s.id))
                        .map_err(|e| e.to_string())?,
                };
                Ok(Opened {
                    id: s.id,
                    expires_at: s.expires_at,
                    secret,
                })
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Read>> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn known(&self, id: i64) -> Option<Read> {
        self.lock().get(&id).cloned()
    }
}

impl WebhookHandler {
    pub fn new(db: Db, outbound: Outbound, sealer: Sealer, clock: SharedClock) -> WebhookHandler {
        WebhookHandler {
            db,
            outbound,
            clock,
            endpoints: Arc::new(Endpoints {
                sealer,
                known: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The endpoint as read for this claim, or read now if that is not
    /// fresh (or `prepare` failed).
    async fn endpoint(&self, id: i64, now: DateTime<Utc>) -> Result<Option<Arc<Endpoint>>> {
        if let Some(read) = self.endpoints.known(id)
            && read.read_at <= now
            && now - read.read_at <= FRESH_FOR
        {
            return Ok(read.endpoint);
        }
        let endpoints = self.endpoints.clone();
        self.db.run(move |c| endpoints.read(c, &[id], now)).await?;
        Ok(self.endpoints.known(id).and_then(|r| r.endpoint))
    }

    async fn deliver(&self, job: &Job) -> Attempt {
        let endpoint_id = job.payload["endpoint_id"].as_i64().unwrap_or_default();
        let event_id = job.payload["event_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let body = job.payload["body"].as_str().unwrap_or_default().to_owned();
        let now = self.clock.now();
        let endpoint = match self.endpoint(endpoint_id, now).await {
            Ok(Some(endpoint)) => endpoint,
            Ok(None) => {
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
                        .as_ref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                )),
                Exchange::default(),
            );
        }
        let secrets: Vec<String> = match &endpoint.secrets {
            Ok(opened) => opened
                .iter()
                .filter(|s| s.expires_at.is_none_or(|at| at > now))
                .map(|s| s.secret.clone())
                .collect(),
            Err(e) => return Attempt::new(Outcome::failed(e.clone()), Exchange::default()),
        };
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

    fn prepare(&self, conn: &mut DbConnection, jobs: &[Job], now: DateTime<Utc>) -> Result<()> {
        let mut ids: Vec<i64> = jobs
            .iter()
            .filter_map(|j| j.payload["endpoint_id"].as_i64())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let read = self.endpoints.read(conn, &ids, now);
        if read.is_err() {
            // Not read: each delivery reads its endpoint itself.
            let mut known = self.endpoints.lock();
            for id in &ids {
                known.remove(id);
            }
        }
        read
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
