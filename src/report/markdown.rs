//! The report as Markdown (CommonMark tables), for pasting into documents.

use super::i18n::Catalogue;
use super::model::{Outcome, Report};
use std::fmt::Write;

/// Text from records, safe inside a Markdown table cell: no HTML, no table
/// breaks, no emphasis or links of its own.
fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A table with `header` (catalogue words) and rows of record text.
fn table(o: &mut String, header: &[&str], rows: impl Iterator<Item = Vec<String>>) {
    let _ = writeln!(o, "| {} |", header.join(" | "));
    let _ = writeln!(o, "|{}", "---|".repeat(header.len()));
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
        let _ = writeln!(o, "| {} |", cells.join(" | "));
    }
}

pub fn render(r: &Report) -> String {
    let t = Catalogue::of(r.lang);
    let index = r.index();
    let mut o = String::new();
    let _ = writeln!(o, "# {} — {}\n", t.title, cell(&r.plan.title));
    let _ = writeln!(
        o,
        "{}: {} – {}. {} {} UTC. ({})\n",
        t.period,
        r.from,
        r.to,
        t.generated,
        r.generated_at.format("%Y-%m-%d %H:%M"),
        r.plan.link
    );
    let _ = writeln!(o, "## {}\n\n{}\n", t.summary, t.counts_line(&r.totals));
    for s in &r.periods {
        let name = s
            .period
            .as_ref()
            .map(|p| cell(&p.name))
            .unwrap_or_else(|| t.no_period.to_owned());
        let _ = writeln!(o, "## {name}\n");
        if !s.goals.is_empty() {
            let _ = writeln!(o, "{}:\n", t.goals);
            for g in &s.goals {
                let _ = writeln!(o, "- (#{}) {}", g.id, cell(&g.description));
            }
            let _ = writeln!(o);
        }
        let _ = writeln!(o, "{}\n", t.counts_line(&s.counts));
        for c in &s.campaigns {
            let title = c
                .campaign
                .as_ref()
                .map(|c| format!("{}: {}", t.campaign, cell(&c.title)))
                .unwrap_or_else(|| t.no_campaign.to_owned());
            let _ = writeln!(o, "### {title}\n");
            let _ = writeln!(
                o,
                "| # | {} | {} | {} | {} | {} | {} |\n|---|---|---|---|---|---|---|",
                t.item, t.channel, t.planned_date, t.actual_date, t.delay, t.outcome
            );
            for i in &c.items {
                let channels: Vec<String> = i.channels.iter().map(|c| cell(&c.name)).collect();
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    i.activity_id,
                    cell(&i.title),
                    channels.join(", "),
                    t.dates(i.planned_start, i.planned_end),
                    i.actual_start
                        .map(|_| t.dates(i.actual_start, i.actual_end))
                        .unwrap_or_default(),
                    i.delay_days
                        .map(|d| format!("{d} {}", t.days))
                        .unwrap_or_default(),
                    t.outcome(i.outcome)
                );
            }
            let _ = writeln!(o);
        }
    }
    let _ = writeln!(o, "## {}\n", t.by_channel);
    let _ = writeln!(
        o,
        "| {} | {} | {} | {} | {} | {} | {} | {} |\n|---|---|---|---|---|---|---|---|",
        t.period, t.campaign, t.channel, t.planned, t.done, t.late, t.unconfirmed, t.cancelled
    );
    for b in &r.breakdown {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(b.period.as_deref().unwrap_or(t.no_period)),
            cell(b.campaign.as_deref().unwrap_or(t.no_campaign)),
            cell(b.channel.as_deref().unwrap_or(t.no_channel)),
            b.counts.planned.count,
            b.counts.done.count,
            b.counts.done_late.count,
            b.counts.unconfirmed.count,
            b.counts.cancelled.count + b.counts.failed.count
        );
    }
    let _ = writeln!(o, "\n## {}\n", t.unconfirmed_title);
    if r.unconfirmed.is_empty() {
        let _ = writeln!(o, "{}\n", t.none);
    }
    for id in &r.unconfirmed {
        if let Some(i) = index.get(id) {
            let _ = writeln!(
                o,
                "- #{} {}: {} {} {} ({} {})",
                i.activity_id,
                cell(&i.title),
                t.unconfirmed_for,
                i.unconfirmed_days.unwrap_or(0),
                t.days,
                t.since,
                i.unconfirmed_since
                    .map(|d| d.to_string())
                    .unwrap_or_default()
            );
        }
    }
    let _ = writeln!(o, "\n## {}\n", t.called_off_title);
    if r.called_off.is_empty() {
        let _ = writeln!(o, "{}\n", t.none);
    }
    for id in &r.called_off {
        if let Some(i) = index.get(id) {
            let what = if i.outcome == Outcome::Failed {
                t.failed
            } else {
                t.cancelled
            };
            let _ = writeln!(
                o,
                "- #{} {} ({what}): {}: {}{}",
                i.activity_id,
                cell(&i.title),
                t.reason,
                i.reason
                    .as_deref()
                    .map(cell)
                    .unwrap_or_else(|| t.no_reason.to_owned()),
                i.reason_history_id
                    .map(|h| format!(" (history #{h})"))
                    .unwrap_or_default()
            );
        }
    }
    let _ = writeln!(
        o,
        "\n## {}\n\n{} {}.\n",
        t.changes_title, t.changes_since, r.changes_since
    );
    if r.changes.is_empty() {
        let _ = writeln!(o, "{}\n", t.no_changes);
    }
    for c in &r.changes {
        let _ = writeln!(
            o,
            "- {} #{} {} ({}){}: {}{}",
            c.at.format("%Y-%m-%d"),
            c.activity_id,
            cell(&c.title),
            c.action,
            c.history_id
                .map(|h| format!(" [history #{h}]"))
                .unwrap_or_default(),
            c.fields
                .iter()
                .map(|f| cell(f))
                .collect::<Vec<_>>()
                .join("; "),
            c.reason
                .as_deref()
                .map(|r| format!(" — {}: {}", t.reason, cell(r)))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(o, "\n## {}\n\n{}\n", t.newsletter_title, t.newsletter_note);
    if r.newsletter.is_empty() {
        let _ = writeln!(o, "{}\n", t.no_issues);
    } else {
        let _ = writeln!(
            o,
            "| # | {} | {} | {} | {} | {} | {} | {} |\n|---|---|---|---|---|---|---|---|",
            t.issue, t.recipients, t.delivered, t.failed, t.unknown, t.bounced, t.unsubscribed
        );
        for n in &r.newsletter {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                n.issue_id,
                cell(n.subject.as_deref().unwrap_or(&n.name)),
                n.recipients,
                n.delivered,
                n.failed,
                n.unknown,
                n.bounced,
                n.unsubscribed
            );
        }
    }
    let _ = writeln!(o, "\n## {}\n\n{}\n", t.social_title, t.social_note);
    if r.social.is_empty() {
        let _ = writeln!(o, "{}\n", t.no_posts);
    } else {
        table(
            &mut o,
            &super::social::post_header(t),
            r.social.iter().map(|p| super::social::post_row(p, t)),
        );
        let _ = writeln!(o, "\n### {}\n", t.social_totals_title);
        table(
            &mut o,
            &super::social::total_header(t),
            r.social_totals
                .iter()
                .map(|c| super::social::total_row(c, t)),
        );
    }
    let _ = writeln!(o, "\n## {}\n", t.events_title);
    if r.events.is_empty() {
        let _ = writeln!(o, "{}\n", t.no_events);
    }
    for e in &r.events {
        let people: Vec<String> = e
            .people
            .iter()
            .map(|p| {
                let mut s = cell(&p.name);
                if let Some(title) = &p.title {
                    s += &format!(", {}", cell(title));
                }
                s += &format!(" ({}", p.role);
                if let Some(org) = &p.represents {
                    s += &format!(" {}", cell(org));
                }
                s + ")"
            })
            .collect();
        let partners: Vec<String> = e
            .partners
            .iter()
            .map(|p| format!("{} ({})", cell(&p.name), p.role))
            .collect();
        let _ = writeln!(
            o,
            "- #{} {} {}: {}: {}. {}: {}.",
            e.activity_id,
            e.date.map(|d| d.to_string()).unwrap_or_default(),
            cell(&e.title),
            t.represented_by,
            if people.is_empty() {
                t.none.to_owned()
            } else {
                people.join("; ")
            },
            t.partners,
            if partners.is_empty() {
                t.none.to_owned()
            } else {
                partners.join("; ")
            }
        );
    }
    o
}
