//! The report as CSV: one row per item (activity), one per newsletter
//! issue, one per published social post (`social_post`: its counts and when
//! they were read) and one per channel's totals (`social_channel`), with
//! stable columns. Text cells go through the spreadsheet-safe
//! rule used for every CSV Pregón writes.

use super::model::Report;
use crate::db::subscriber_csv::spreadsheet_safe;

/// The columns, in order. Never reordered; new columns go at the end.
pub const COLUMNS: &[&str] = &[
    "record",
    "id",
    "uid",
    "link",
    "period_id",
    "campaign_id",
    "channel_ids",
    "goal_ids",
    "kind",
    "status",
    "outcome",
    "precision",
    "planned_start",
    "planned_end",
    "actual_start",
    "actual_end",
    "delay_days",
    "unconfirmed_days",
    "reason",
    "reason_history_id",
    "title",
    "recipients",
    "delivered",
    "failed",
    "unknown",
    "bounced",
    "unsubscribed",
    "activity_id",
    "channel_id",
    "lang",
    "network",
    "url",
    "replies",
    "reposts",
    "likes",
    "quotes",
    "read_at",
    "read_error",
];

/// Where the engagement columns start.
const SOCIAL: usize = 28;

pub fn render(report: &Report) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let opt = |v: Option<String>| v.unwrap_or_default();
    let ids = |v: &[i64]| v.iter().map(i64::to_string).collect::<Vec<_>>().join(" ");
    let _ = w.write_record(COLUMNS);
    for i in report.items() {
        let channels: Vec<i64> = i.channels.iter().map(|c| c.id).collect();
        let mut row: Vec<String> = vec![
            "activity".into(),
            i.activity_id.to_string(),
            spreadsheet_safe(&i.uid).into_owned(),
            i.link.clone(),
            opt(i.period_id.map(|v| v.to_string())),
            opt(i.campaign_id.map(|v| v.to_string())),
            ids(&channels),
            ids(&i.goal_ids),
            i.kind.as_str().into(),
            i.status.as_str().into(),
            i.outcome.as_str().into(),
            i.precision.as_str().into(),
            opt(i.planned_start.map(|d| d.to_string())),
            opt(i.planned_end.map(|d| d.to_string())),
            opt(i.actual_start.map(|d| d.to_string())),
            opt(i.actual_end.map(|d| d.to_string())),
            opt(i.delay_days.map(|d| d.to_string())),
            opt(i.unconfirmed_days.map(|d| d.to_string())),
            spreadsheet_safe(i.reason.as_deref().unwrap_or("")).into_owned(),
            opt(i.reason_history_id.map(|d| d.to_string())),
            spreadsheet_safe(&i.title).into_owned(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            i.activity_id.to_string(),
        ];
        row.resize(COLUMNS.len(), String::new());
        let _ = w.write_record(&row);
    }
    for n in &report.newsletter {
        let mut row = vec![String::new(); COLUMNS.len()];
        row[0] = "newsletter_issue".into();
        row[1] = n.issue_id.to_string();
        row[3] = n.link.clone();
        row[9] = spreadsheet_safe(&n.state).into_owned();
        row[14] = opt(n.started_at.map(|t| t.date_naive().to_string()));
        row[20] = spreadsheet_safe(n.subject.as_deref().unwrap_or(&n.name)).into_owned();
        row[21] = n.recipients.to_string();
        row[22] = n.delivered.to_string();
        row[23] = n.failed.to_string();
        row[24] = n.unknown.to_string();
        row[25] = n.bounced.to_string();
        row[26] = n.unsubscribed.to_string();
        row[27] = opt(n.activity_id.map(|a| a.to_string()));
        let _ = w.write_record(&row);
    }
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        opt(t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
    };
    let count = |n: Option<i64>| opt(n.map(|n| n.to_string()));
    for p in &report.social {
        let mut row = vec![String::new(); COLUMNS.len()];
        row[0] = "social_post".into();
        row[1] = p.activity_id.to_string();
        row[3] = p.link.clone();
        row[20] = spreadsheet_safe(&p.title).into_owned();
        row[27] = p.activity_id.to_string();
        row[SOCIAL] = p.channel_id.to_string();
        row[SOCIAL + 1] = p.lang.clone();
        row[SOCIAL + 2] = spreadsheet_safe(&p.network).into_owned();
        row[SOCIAL + 3] = spreadsheet_safe(p.url.as_deref().unwrap_or("")).into_owned();
        row[SOCIAL + 4] = count(p.replies);
        row[SOCIAL + 5] = count(p.reposts);
        row[SOCIAL + 6] = count(p.likes);
        row[SOCIAL + 7] = count(p.quotes);
        row[SOCIAL + 8] = time(p.read_at);
        row[SOCIAL + 9] = spreadsheet_safe(p.error.as_deref().unwrap_or("")).into_owned();
        let _ = w.write_record(&row);
    }
    for c in &report.social_totals {
        let mut row = vec![String::new(); COLUMNS.len()];
        row[0] = "social_channel".into();
        row[1] = c.channel_id.to_string();
        row[20] = spreadsheet_safe(c.channel.as_deref().unwrap_or("")).into_owned();
        row[SOCIAL] = c.channel_id.to_string();
        row[SOCIAL + 2] = spreadsheet_safe(&c.network).into_owned();
        row[SOCIAL + 4] = c.replies.to_string();
        row[SOCIAL + 5] = c.reposts.to_string();
        row[SOCIAL + 6] = c.likes.to_string();
        row[SOCIAL + 7] = count(c.quotes);
        row[SOCIAL + 8] = time(c.as_of);
        let _ = w.write_record(&row);
    }
    w.into_inner().unwrap_or_default()
}
