//! The progress report's page (`/app/reports?plan=&period=`): per plan
//! period, planned items by outcome, as a stacked bar chart drawn here as
//! SVG, with the same figures in a table beside it (the chart is hidden from
//! screen readers, the table is what they read).

use super::super::page::{Chrome, State, chrome, render, signed_in, to_sign_in};
use super::{plans, query};
use crate::email::render::escape_html;
use crate::report::model::{Counts, Report};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

/// One row of the table (and one bar of the chart).
pub struct Row {
    pub name: String,
    pub planned: usize,
    /// The segments, in the order of `SERIES`.
    pub values: [usize; 6],
}

/// Catalogue keys and colours of the chart's segments.
pub const SERIES: [(&str, &str); 6] = [
    ("reports_page.done_on_time", "#1b7837"),
    ("reports_page.done_late", "#7fbf7b"),
    ("reports_page.overdue", "#d73027"),
    ("reports_page.upcoming", "#4575b4"),
    ("reports_page.unconfirmed", "#fdae61"),
    ("reports_page.called_off", "#7f7f7f"),
];

pub struct PlanOption {
    pub id: i64,
    pub title: String,
    pub selected: bool,
}

#[derive(askama::Template)]
#[template(path = "team/reports.html")]
pub struct ReportsPage {
    pub c: Chrome,
    pub plans: Vec<PlanOption>,
    pub period: String,
    pub error: Option<String>,
    pub heading: String,
    pub rows: Vec<Row>,
    pub totals: Option<Row>,
    /// The chart, built here with every text escaped.
    pub svg: String,
    pub series: Vec<&'static str>,
    /// The published posts' public counts as last read (issue 11).
    pub posts: Vec<PostRow>,
    pub channel_totals: Vec<ChannelRow>,
}

/// A published post's engagement, as the report reads it.
pub struct PostRow {
    pub activity_id: i64,
    pub title: String,
    pub channel: String,
    pub lang: String,
    pub url: Option<String>,
    pub replies: String,
    pub reposts: String,
    pub likes: String,
    pub quotes: String,
    pub as_of: String,
}

/// A channel's posts' counts added up.
pub struct ChannelRow {
    pub channel: String,
    pub posts: usize,
    pub replies: i64,
    pub reposts: i64,
    pub likes: i64,
    pub quotes: String,
    pub as_of: String,
}

fn count(n: Option<i64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_else(|| "—".to_owned())
}

fn row(name: String, c: &Counts) -> Row {
    Row {
        name,
        planned: c.planned.count,
        values: [
            c.done_on_time.count,
            c.done_late.count,
            c.overdue.count,
            c.upcoming.count,
            c.unconfirmed.count,
            c.cancelled.count + c.failed.count,
        ],
    }
}

/// A horizontal stacked bar per row, scaled to the largest total.
pub fn chart(rows: &[Row], title: &str, labels: &[&str]) -> String {
    const LEFT: usize = 180;
    const WIDTH: usize = 420;
    const BAR: usize = 22;
    const GAP: usize = 12;
    let legend_top = 8;
    let top = legend_top + 24 * labels.len().div_ceil(3) + 8;
    let height = top + rows.len() * (BAR + GAP) + 8;
    let max = rows
        .iter()
        .map(|r| r.values.iter().sum::<usize>())
        .max()
        .unwrap_or(0)
        .max(1);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {} {height}\" \
         width=\"100%\" role=\"img\" aria-hidden=\"true\" focusable=\"false\"><title>{}</title>",
        LEFT + WIDTH + 40,
        escape_html(title)
    );
    for (i, label) in labels.iter().enumerate() {
        let (x, y) = (10 + (i % 3) * 200, legend_top + (i / 3) * 24);
        svg.push_str(&format!(
            "<rect x=\"{x}\" y=\"{y}\" width=\"14\" height=\"14\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"13\">{}</text>",
            SERIES[i].1,
            x + 20,
            y + 12,
            escape_html(label)
        ));
    }
    for (n, r) in rows.iter().enumerate() {
        let y = top + n * (BAR + GAP);
        let name: String = r.name.chars().take(26).collect();
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" font-size=\"13\" text-anchor=\"end\">{}</text>",
            LEFT - 8,
            y + 16,
            escape_html(&name)
        ));
        let mut x = LEFT;
        for (i, v) in r.values.iter().enumerate() {
            let w = v * WIDTH / max;
            if w > 0 {
                svg.push_str(&format!(
                    "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{BAR}\" fill=\"{}\"/>",
                    SERIES[i].1
                ));
            }
            x += w;
        }
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" font-size=\"13\">{}</text>",
            x + 6,
            y + 16,
            r.values.iter().sum::<usize>()
        ));
    }
    svg.push_str("</svg>");
    svg
}

pub async fn page(state: State, req: HttpRequest) -> HttpResponse {
    let Some(who) = signed_in(&req) else {
        return to_sign_in(&req);
    };
    let mut c = chrome(&state, &req, Some(&who), None).await;
    let t = c.tr();
    c.set_title(t.t("reports_page.title"));
    let (all, chosen) = match plans(&state, &req).await {
        Ok(found) => found,
        Err(e) => return super::super::page::error_page(&mut c, &e),
    };
    let default_period = chosen
        .as_ref()
        .and_then(|p| {
            let from = p.periods.iter().filter_map(|x| x.starts_on).min()?;
            let to = p.periods.iter().filter_map(|x| x.ends_on).max()?;
            Some(format!("{from}..{to}"))
        })
        .unwrap_or_else(|| state.clock.now().format("%Y").to_string());
    let period = query(&req, "period").unwrap_or(default_period);
    let series: Vec<&'static str> = SERIES.iter().map(|(k, _)| t.t(k)).collect();
    let mut page = ReportsPage {
        plans: all
            .iter()
            .map(|p| PlanOption {
                id: p.id,
                title: p.title.clone(),
                selected: chosen.as_ref().is_some_and(|c| c.id == p.id),
            })
            .collect(),
        period: period.clone(),
        error: None,
        heading: String::new(),
        rows: Vec::new(),
        totals: None,
        svg: String::new(),
        series: series.clone(),
        posts: Vec::new(),
        channel_totals: Vec::new(),
        c,
    };
    let Some(plan) = chosen else {
        page.error = Some(t.t("reports_page.no_plan").to_owned());
        return render(StatusCode::OK, &page.c, &page);
    };
    let (from, to) = match crate::report::parse_period(&period) {
        Ok(range) => range,
        Err(_) => {
            page.error = Some(t.t("reports_page.bad_period").to_owned());
            return render(StatusCode::UNPROCESSABLE_ENTITY, &page.c, &page);
        }
    };
    let (actor, now, lang) = (who.actor(), state.clock.now(), page.c.lang);
    let request = crate::app::reports::Request {
        plan: plan.id.to_string(),
        from,
        to,
        campaign: None,
        lang,
    };
    let built: crate::Result<Report> = state
        .db
        .run(move |conn| crate::app::reports::progress(conn, &actor, now, &request))
        .await;
    let report = match built {
        Ok(report) => report,
        Err(e) => return super::super::page::error_page(&mut page.c, &e),
    };
    page.heading = format!("{} · {from} – {to}", report.plan.title);
    page.rows = report
        .periods
        .iter()
        .map(|p| {
            let name = p
                .period
                .as_ref()
                .map(|x| x.name.clone())
                .unwrap_or_else(|| t.t("reports_page.no_period").to_owned());
            row(name, &p.counts)
        })
        .collect();
    page.totals = Some(row(t.t("reports_page.total").to_owned(), &report.totals));
    page.svg = chart(&page.rows, &page.heading, &series);
    let zone = super::super::format::viewer_zone(&req);
    let when = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map(|at| super::super::format::datetime(&t, at, zone))
            .unwrap_or_else(|| t.t("reports_social.never_read").to_owned())
    };
    page.posts = report
        .social
        .iter()
        .map(|p| PostRow {
            activity_id: p.activity_id,
            title: p.title.clone(),
            channel: format!("{} ({})", p.channel.as_deref().unwrap_or(""), p.network),
            lang: p.lang.clone(),
            url: p.url.clone(),
            replies: count(p.replies),
            reposts: count(p.reposts),
            likes: count(p.likes),
            quotes: count(p.quotes),
            as_of: match &p.error {
                Some(e) => format!(
                    "{} ({}: {e})",
                    when(p.read_at),
                    t.t("reports_social.read_failed")
                ),
                None => when(p.read_at),
            },
        })
        .collect();
    page.channel_totals = report
        .social_totals
        .iter()
        .map(|c| ChannelRow {
            channel: format!("{} ({})", c.channel.as_deref().unwrap_or(""), c.network),
            posts: c.posts,
            replies: c.replies,
            reposts: c.reposts,
            likes: c.likes,
            quotes: count(c.quotes),
            as_of: when(c.as_of),
        })
        .collect();
    render(StatusCode::OK, &page.c, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_scaled_and_names_escaped() {
        let rows = vec![
            Row {
                name: "<2020>".into(),
                planned: 4,
                values: [2, 1, 1, 0, 0, 0],
            },
            Row {
                name: "B".into(),
                planned: 2,
                values: [1, 0, 0, 0, 0, 1],
            },
        ];
        let svg = chart(&rows, "T & U", &["a", "b", "c", "d", "e", "f"]);
        assert!(
            svg.contains("&lt;2020&gt;") && svg.contains("T &amp; U"),
            "{svg}"
        );
        // The largest total (4) takes the whole width: 2 of 4 is 210 of 420.
        assert!(svg.contains("width=\"210\""), "{svg}");
        assert!(svg.contains("width=\"105\""), "{svg}");
    }
}
