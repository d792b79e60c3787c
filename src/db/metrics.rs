//! Figures for `/metrics`, read at each scrape.

use super::schema::deliveries;
use super::{DbConnection, utc};
use crate::domain::newsletter::DeliveryState;
use crate::error::Result;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::{count_star, min};
use diesel::prelude::*;
use std::collections::BTreeMap;

/// Deliveries per state, and when the oldest waiting one became due.
pub type DeliveryFigures = (BTreeMap<String, i64>, Option<DateTime<Utc>>);

/// Deliveries per state, and when the oldest waiting one (queued or to
/// retry) became due, if it is due by `now`.
pub fn deliveries(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<DeliveryFigures> {
    let by_state: BTreeMap<String, i64> = deliveries::table
        .group_by(deliveries::state)
        .select((deliveries::state, count_star()))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    let waiting = [
        DeliveryState::Queued.as_str(),
        DeliveryState::Retry.as_str(),
    ];
    let oldest: Option<NaiveDateTime> = deliveries::table
        .filter(deliveries::state.eq_any(waiting))
        .filter(deliveries::next_attempt_at.le(now.naive_utc()))
        .select(min(deliveries::next_attempt_at))
        .first(conn)?;
    Ok((by_state, oldest.map(utc)))
}
