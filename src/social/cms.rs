//! The generic webhook channel (a CMS for the website): a post variant is
//! POSTed to the account's URL as a Standard Webhooks event, signed with the
//! account's `whsec_…` secret. The event id and the body are fixed when the
//! job is created, so every retry carries the same `webhook-id` and the same
//! body, and the receiver can drop a repeat.

use crate::clock::SharedClock;
use crate::db::Db;
use crate::error::Result;
use crate::jobs::outbound::{self, NoAnswer, Outbound};
use crate::jobs::sealed::Sealer;
use crate::jobs::{Attempt, Exchange, Job, NewJob, Outcome};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const KIND: &str = "social.webhook";

/// What a CMS post job carries (no secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Post {
    pub account_id: i64,
    /// The same on every attempt.
    pub event_id: String,
    /// The exact body sent on every attempt.
    pub body: String,
}

/// The job that sends `data` (the variant) to the account at `due_at`.
pub fn enqueue(
    conn: &mut crate::db::DbConnection,
    account_id: i64,
    key: &str,
    data: Value,
    due_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<crate::jobs::Enqueued> {
    let digest = Sha256::digest(format!("pregon:{KIND}:{key}").as_bytes());
    let post = Post {
        account_id,
        event_id: format!("msg_{}", hex::encode(&digest[..16])),
        body: json!({
            "type": "post.publish",
            "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "data": data,
        })
        .to_string(),
    };
    crate::jobs::enqueue(
        conn,
        &NewJob {
            kind: KIND,
            key: key.to_owned(),
            payload: serde_json::to_value(&post).unwrap_or_default(),
            due_at,
        },
        now,
    )
}

pub struct CmsHandler {
    db: Db,
    outbound: Outbound,
    sealer: Sealer,
    clock: SharedClock,
}

impl CmsHandler {
    pub fn new(db: Db, outbound: Outbound, sealer: Sealer, clock: SharedClock) -> CmsHandler {
        CmsHandler {
            db,
            outbound,
            sealer,
            clock,
        }
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
        let (account, secret) = match super::account_and_secret(
            &self.db,
            &self.sealer,
            post.account_id,
            "signing secret",
        )
        .await
        {
            Ok(found) => found,
            Err(attempt) => return attempt,
        };
        let mut exchange = Exchange {
            request: Some(format!(
                "POST {} webhook-id={}",
                account.base_url, post.event_id
            )),
            ..Exchange::default()
        };
        let url = match self.outbound.check(&account.base_url) {
            Ok(url) => url,
            Err(e) => return Attempt::new(Outcome::failed(e), exchange),
        };
        let timestamp = self.clock.now().timestamp();
        let signature =
            crate::jobs::webhook::sign(&[secret], &post.event_id, timestamp, &post.body);
        let sent = self
            .outbound
            .client()
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &post.event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(post.body.clone())
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(error) => {
                // The receiver drops a repeated webhook-id: sending again is safe.
                let outcome = match outbound::classify(&error) {
                    NoAnswer::Refused(reason) => Outcome::failed(reason),
                    NoAnswer::NotSent(reason) | NoAnswer::MaybeSent(reason) => {
                        Outcome::retry(None, reason)
                    }
                };
                return Attempt::new(outcome, exchange);
            }
        };
        let status = response.status();
        let at = outbound::retry_after(response.headers(), self.clock.now());
        let text = response.text().await.unwrap_or_default();
        let reply: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        exchange.status = Some(status.as_u16());
        exchange.reply = Some(text.chars().take(2000).collect());
        let outcome = if status.is_success() {
            Outcome::done(
                reply["id"].as_str().map(str::to_owned),
                reply["url"].as_str().map(str::to_owned),
            )
        } else if status.as_u16() == 429 || status.is_server_error() {
            Outcome::retry(at, format!("the receiver answered {status}"))
        } else {
            Outcome::failed(format!("the receiver answered {status}"))
        };
        Attempt::new(outcome, exchange)
    }
}

publisher_handler!(CmsHandler, crate::domain::network::Network::Webhook, send);
