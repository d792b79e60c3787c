//! The progress report as a use case: who may read it (viewers and up), and
//! the records it is built from, read in one transaction so every figure
//! comes from the same state of the database.

use super::Actor;
use super::policy::{self, Operation};
use crate::db::activities::{self, ActivityFilter};
use crate::db::{DbConnection, Page, PageRequest, campaigns, plans, reports as db};
use crate::domain::Language;
use crate::error::{Error, Result};
use crate::report::{self, Params, Records, Report};
use chrono::{DateTime, NaiveDate, Utc};

/// What a caller asks for.
#[derive(Debug, Clone)]
pub struct Request {
    /// The plan's slug or id.
    pub plan: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub campaign: Option<String>,
    pub lang: Language,
}

fn find_plan(conn: &mut DbConnection, plan: &str) -> Result<crate::domain::plan::Plan> {
    if let Some(found) = plans::find_by_slug(conn, plan)? {
        return Ok(found);
    }
    match plan.parse::<i64>() {
        Ok(id) => plans::get(conn, id),
        Err(_) => Err(Error::not_found("plan", plan)),
    }
}

/// Reads every record the report counts.
pub fn records(
    conn: &mut DbConnection,
    plan: crate::domain::plan::Plan,
    to: NaiveDate,
) -> Result<Records> {
    let activities = activities::all(
        conn,
        &ActivityFilter {
            plan_id: Some(plan.id),
            ..Default::default()
        },
    )?;
    let ids: Vec<i64> = activities.iter().map(|a| a.id).collect();
    let campaigns: Vec<_> = campaigns::list(
        conn,
        Some(plan.id),
        None,
        PageRequest {
            page: Some(1),
            per_page: Some(crate::domain::page::MAX_PER_PAGE),
        },
    )
    .map(|p: Page<_>| p.items)?;
    let until = to
        .succ_opt()
        .unwrap_or(to)
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default();
    let issues = db::issues_of(conn, &ids)?;
    let issue_ids: Vec<i64> = issues.iter().map(|i| i.id).collect();
    let mut unsubscribed = std::collections::HashMap::new();
    for (id, from, until) in report::build::unsubscribe_windows(&issues) {
        unsubscribed.insert(id, db::unsubscribed_after(conn, id, from, until)?);
    }
    Ok(Records {
        plan: Some(plan),
        activities,
        campaigns,
        channels: db::channels(conn)?,
        organisations: db::organisation_names(conn)?,
        history: db::activity_history(conn, until)?,
        issue_subjects: db::issue_subjects(conn, &issue_ids)?,
        deliveries: db::delivery_counts(conn, &issue_ids)?,
        engagement: crate::db::engagement::of_activities(conn, &ids)?,
        issues,
        unsubscribed,
    })
}

/// The progress report of a plan for `[from, to]`, as of `now`.
pub fn progress(
    conn: &mut DbConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    req: &Request,
) -> Result<Report> {
    policy::require(actor, Operation::Read)?;
    if req.to < req.from {
        return Err(Error::invalid("to", "must not be before from"));
    }
    let plan = find_plan(conn, &req.plan)?;
    let campaign_id = match &req.campaign {
        None => None,
        Some(c) => {
            let found = match campaigns::find_by_slug(conn, c)? {
                Some(found) => Some(found),
                None => match c.parse::<i64>() {
                    Ok(id) => campaigns::get(conn, id).ok(),
                    Err(_) => None,
                },
            };
            match found {
                Some(found) if found.plan_id == plan.id => Some(found.id),
                _ => {
                    return Err(Error::invalid(
                        "campaign",
                        format!("no campaign {c:?} in plan {}", plan.slug),
                    ));
                }
            }
        }
    };
    // One transaction, so every figure comes from the same state.
    let records = diesel::Connection::transaction(conn, |c| records(c, plan, req.to))?;
    Ok(report::build(
        &records,
        &Params {
            from: req.from,
            to: req.to,
            campaign_id,
            lang: req.lang,
            now,
        },
    ))
}
