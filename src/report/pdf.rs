//! The report as a tagged PDF, written with krilla (the PDF library typst
//! uses): DejaVu Sans from `assets/fonts/` is embedded (subset), so accents
//! render and the text can be extracted; headings, paragraphs and tables are
//! tagged (H1–H3, P, Table/TR/TH/TD) for screen readers, and table rules are
//! marked as artifacts. The layout is a small flow of blocks on A4 pages.

use super::i18n::Catalogue;
use super::model::{Outcome, Report};
use crate::error::{Error, Result};
use krilla::geom::{PathBuilder, Point};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::Stroke;
use krilla::tagging::{
    ArtifactType, ContentTag, Identifier, SpanTag, TableHeaderScope, Tag, TagGroup, TagKind,
    TagTree,
};
use krilla::text::{Font, TextDirection};
use krilla::{Document, SerializeSettings};
use std::num::NonZeroU16;
use std::sync::Arc;

const REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;
const MARGIN: f32 = 48.0;
const BODY: f32 = 8.5;
const CELL_PAD: f32 = 2.5;

struct Metrics {
    regular: ttf_parser::Face<'static>,
    bold: ttf_parser::Face<'static>,
}

impl Metrics {
    fn width(&self, text: &str, size: f32, bold: bool) -> f32 {
        let face = if bold { &self.bold } else { &self.regular };
        let units: f32 = text
            .chars()
            .map(|c| {
                face.glyph_index(c)
                    .and_then(|g| face.glyph_hor_advance(g))
                    .unwrap_or(face.units_per_em() / 2) as f32
            })
            .sum();
        units * size / face.units_per_em() as f32
    }

    /// Breaks `text` into lines no wider than `max`, at spaces; a word wider
    /// than a line is cut.
    fn wrap(&self, text: &str, size: f32, bold: bool, max: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let mut line = String::new();
            for word in paragraph.split(' ') {
                let candidate = if line.is_empty() {
                    word.to_owned()
                } else {
                    format!("{line} {word}")
                };
                if self.width(&candidate, size, bold) <= max || line.is_empty() {
                    line = candidate;
                } else {
                    lines.push(std::mem::take(&mut line));
                    line = word.to_owned();
                }
                while self.width(&line, size, bold) > max && line.chars().count() > 1 {
                    let mut cut = line.chars().count() - 1;
                    while cut > 1
                        && self.width(&line.chars().take(cut).collect::<String>(), size, bold) > max
                    {
                        cut -= 1;
                    }
                    let head: String = line.chars().take(cut).collect();
                    let tail: String = line.chars().skip(cut).collect();
                    lines.push(head);
                    line = tail;
                }
            }
            lines.push(line);
        }
        lines
    }
}

struct TextOp {
    page: usize,
    x: f32,
    y: f32,
    size: f32,
    bold: bool,
    text: String,
    group: usize,
}

struct RuleOp {
    page: usize,
    y: f32,
}

struct Group {
    kind: TagKind,
    groups: Vec<usize>,
    ids: Vec<Identifier>,
}

struct Layout<'m> {
    m: &'m Metrics,
    texts: Vec<TextOp>,
    rules: Vec<RuleOp>,
    groups: Vec<Group>,
    root: Vec<usize>,
    page: usize,
    y: f32,
}

impl Layout<'_> {
    fn group(&mut self, parent: Option<usize>, kind: impl Into<TagKind>) -> usize {
        let id = self.groups.len();
        self.groups.push(Group {
            kind: kind.into(),
            groups: Vec::new(),
            ids: Vec::new(),
        });
        match parent {
            Some(p) => self.groups[p].groups.push(id),
            None => self.root.push(id),
        }
        id
    }

    fn room(&mut self, height: f32) {
        if self.y + height > HEIGHT - MARGIN {
            self.page += 1;
            self.y = MARGIN;
        }
    }

    fn text_block(&mut self, text: &str, size: f32, bold: bool, group: usize, after: f32) {
        let lh = size * 1.3;
        for line in self.m.wrap(text, size, bold, WIDTH - 2.0 * MARGIN) {
            self.room(lh);
            self.y += lh;
            self.texts.push(TextOp {
                page: self.page,
                x: MARGIN,
                y: self.y - size * 0.25,
                size,
                bold,
                text: line,
                group,
            });
        }
        self.y += after;
    }

    fn heading(&mut self, level: u16, text: &str) {
        let size = match level {
            1 => 15.0,
            2 => 11.5,
            _ => 9.5,
        };
        let tag = Tag::Hn(
            NonZeroU16::new(level).unwrap_or(NonZeroU16::MIN),
            Some(text.to_owned()),
        );
        let g = self.group(None, tag);
        self.room(size * 3.0);
        self.y += size * 0.6;
        self.text_block(text, size, true, g, size * 0.3);
    }

    fn para(&mut self, text: &str) {
        let g = self.group(None, Tag::P);
        self.text_block(text, BODY, false, g, BODY * 0.5);
    }

    /// A table; `widths` are fractions of the text width.
    fn table(&mut self, headers: &[&str], widths: &[f32], rows: &[Vec<String>]) {
        let table = self.group(None, Tag::Table);
        let total = WIDTH - 2.0 * MARGIN;
        let lh = BODY * 1.25;
        let draw_row = |me: &mut Self, cells: &[String], header: bool| {
            let tr = me.group(Some(table), Tag::TR);
            let wrapped: Vec<Vec<String>> = cells
                .iter()
                .zip(widths)
                .map(|(c, w)| me.m.wrap(c, BODY, header, w * total - 2.0 * CELL_PAD))
                .collect();
            let lines = wrapped.iter().map(Vec::len).max().unwrap_or(1).max(1);
            let height = lines as f32 * lh + 2.0 * CELL_PAD;
            me.room(height);
            let top = me.y;
            let mut x = MARGIN;
            for (cell, w) in wrapped.iter().zip(widths) {
                let td = if header {
                    me.group(Some(tr), Tag::TH(TableHeaderScope::Column))
                } else {
                    me.group(Some(tr), Tag::TD)
                };
                for (n, line) in cell.iter().enumerate() {
                    if line.is_empty() {
                        continue;
                    }
                    me.texts.push(TextOp {
                        page: me.page,
                        x: x + CELL_PAD,
                        y: top + CELL_PAD + (n as f32 + 1.0) * lh - BODY * 0.25,
                        size: BODY,
                        bold: header,
                        text: line.clone(),
                        group: td,
                    });
                }
                x += w * total;
            }
            me.y = top + height;
            me.rules.push(RuleOp {
                page: me.page,
                y: me.y,
            });
        };
        let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
        draw_row(self, &header, true);
        for row in rows {
            draw_row(self, row, false);
        }
        self.y += BODY;
    }
}

fn lay_out(r: &Report, l: &mut Layout<'_>) {
    let t = Catalogue::of(r.lang);
    let index = r.index();
    l.heading(1, &format!("{}: {}", t.title, r.plan.title));
    l.para(&format!(
        "{}: {} – {}. {} {} UTC. {}",
        t.period,
        r.from,
        r.to,
        t.generated,
        r.generated_at.format("%Y-%m-%d %H:%M"),
        r.plan.link
    ));
    l.heading(2, t.summary);
    l.para(&t.counts_line(&r.totals));
    for s in &r.periods {
        let name = s
            .period
            .as_ref()
            .map(|p| p.name.as_str())
            .unwrap_or(t.no_period);
        l.heading(2, name);
        if !s.goals.is_empty() {
            l.para(&format!("{}:", t.goals));
            for g in &s.goals {
                l.para(&format!("• (#{}) {}", g.id, g.description));
            }
        }
        l.para(&t.counts_line(&s.counts));
        for c in &s.campaigns {
            let title = c
                .campaign
                .as_ref()
                .map(|c| format!("{}: {}", t.campaign, c.title))
                .unwrap_or_else(|| t.no_campaign.to_owned());
            l.heading(3, &title);
            let rows: Vec<Vec<String>> = c
                .items
                .iter()
                .map(|i| {
                    let mut outcome = t.outcome(i.outcome);
                    if let Some(reason) = &i.reason {
                        outcome = format!("{outcome}: {reason}");
                    }
                    vec![
                        i.activity_id.to_string(),
                        match &i.place {
                            Some(place) => format!("{}\n{place}", i.title),
                            None => i.title.clone(),
                        },
                        i.channels
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        t.dates(i.planned_start, i.planned_end),
                        i.actual_start
                            .map(|_| t.dates(i.actual_start, i.actual_end))
                            .unwrap_or_default(),
                        i.delay_days
                            .map(|d| format!("{d} {}", t.days))
                            .unwrap_or_default(),
                        outcome,
                    ]
                })
                .collect();
            l.table(
                &[
                    "#",
                    t.item,
                    t.channel,
                    t.planned_date,
                    t.actual_date,
                    t.delay,
                    t.outcome,
                ],
                &[0.06, 0.30, 0.16, 0.13, 0.11, 0.08, 0.16],
                &rows,
            );
        }
    }
    l.heading(2, t.by_channel);
    let rows: Vec<Vec<String>> = r
        .breakdown
        .iter()
        .map(|b| {
            vec![
                b.period.clone().unwrap_or_else(|| t.no_period.to_owned()),
                b.campaign
                    .clone()
                    .unwrap_or_else(|| t.no_campaign.to_owned()),
                b.channel.clone().unwrap_or_else(|| t.no_channel.to_owned()),
                b.counts.planned.count.to_string(),
                b.counts.done.count.to_string(),
                b.counts.done_late.count.to_string(),
                b.counts.unconfirmed.count.to_string(),
                (b.counts.cancelled.count + b.counts.failed.count).to_string(),
            ]
        })
        .collect();
    let off = format!("{}/{}", t.cancelled, t.failed);
    l.table(
        &[
            t.period,
            t.campaign,
            t.channel,
            t.planned,
            t.done,
            t.late,
            t.unconfirmed,
            &off,
        ],
        &[0.2, 0.2, 0.2, 0.08, 0.08, 0.08, 0.08, 0.08],
        &rows,
    );
    l.heading(2, t.unconfirmed_title);
    if r.unconfirmed.is_empty() {
        l.para(t.none);
    }
    for id in &r.unconfirmed {
        if let Some(i) = index.get(id) {
            l.para(&format!(
                "• #{} {}: {} {} {} ({} {})",
                i.activity_id,
                i.title,
                t.unconfirmed_for,
                i.unconfirmed_days.unwrap_or(0),
                t.days,
                t.since,
                i.unconfirmed_since
                    .map(|d| d.to_string())
                    .unwrap_or_default()
            ));
        }
    }
    l.heading(2, t.called_off_title);
    if r.called_off.is_empty() {
        l.para(t.none);
    }
    for id in &r.called_off {
        if let Some(i) = index.get(id) {
            let what = if i.outcome == Outcome::Failed {
                t.failed
            } else {
                t.cancelled
            };
            l.para(&format!(
                "• #{} {} ({what}): {}: {}{}",
                i.activity_id,
                i.title,
                t.reason,
                i.reason.as_deref().unwrap_or(t.no_reason),
                i.reason_history_id
                    .map(|h| format!(" (history #{h})"))
                    .unwrap_or_default()
            ));
        }
    }
    l.heading(2, t.changes_title);
    l.para(&format!("{} {}.", t.changes_since, r.changes_since));
    if r.changes.is_empty() {
        l.para(t.no_changes);
    }
    for c in &r.changes {
        l.para(&format!(
            "• {} #{} {} ({}{}): {}{}",
            c.at.format("%Y-%m-%d"),
            c.activity_id,
            c.title,
            c.action,
            c.history_id
                .map(|h| format!(", history #{h}"))
                .unwrap_or_default(),
            c.fields.join("; "),
            c.reason
                .as_deref()
                .map(|r| format!(" — {}: {r}", t.reason))
                .unwrap_or_default()
        ));
    }
    l.heading(2, t.newsletter_title);
    l.para(t.newsletter_note);
    if r.newsletter.is_empty() {
        l.para(t.no_issues);
    } else {
        let rows: Vec<Vec<String>> = r
            .newsletter
            .iter()
            .map(|n| {
                vec![
                    n.issue_id.to_string(),
                    n.subject.clone().unwrap_or_else(|| n.name.clone()),
                    n.recipients.to_string(),
                    n.delivered.to_string(),
                    n.failed.to_string(),
                    n.unknown.to_string(),
                    n.bounced.to_string(),
                    n.unsubscribed.to_string(),
                ]
            })
            .collect();
        l.table(
            &[
                "#",
                t.issue,
                t.recipients,
                t.delivered,
                t.failed,
                t.unknown,
                t.bounced,
                t.unsubscribed,
            ],
            &[0.06, 0.34, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
            &rows,
        );
    }
    l.heading(2, t.events_title);
    if r.events.is_empty() {
        l.para(t.no_events);
    }
    for e in &r.events {
        let people: Vec<String> = e
            .people
            .iter()
            .map(|p| {
                let mut s = p.name.clone();
                if let Some(title) = &p.title {
                    s += &format!(", {title}");
                }
                s += &format!(" ({}", p.role);
                if let Some(o) = &p.represents {
                    s += &format!(" {o}");
                }
                s + ")"
            })
            .collect();
        let partners: Vec<String> = e
            .partners
            .iter()
            .map(|p| format!("{} ({})", p.name, p.role))
            .collect();
        l.para(&format!(
            "• #{} {}{}{}. {}: {}. {}: {}.",
            e.activity_id,
            e.date.map(|d| format!("{d} ")).unwrap_or_default(),
            e.title,
            e.place
                .as_deref()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default(),
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
        ));
    }
}

fn font(bytes: &'static [u8]) -> Result<Font> {
    let data: Arc<dyn AsRef<[u8]> + Send + Sync> = Arc::new(bytes);
    Font::new(data.into(), 0)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("report font unreadable")))
}

fn into_tree(groups: &mut [Option<Group>], idx: usize) -> TagGroup {
    let g = groups[idx].take().expect("each group has one parent");
    let mut out = TagGroup::new(g.kind);
    for id in g.ids {
        out.push(id);
    }
    for child in g.groups {
        out.push(into_tree(groups, child));
    }
    out
}

pub fn render(r: &Report) -> Result<Vec<u8>> {
    let broken = |what: &str| Error::Internal(anyhow::anyhow!("report font: {what}"));
    let metrics = Metrics {
        regular: ttf_parser::Face::parse(REGULAR, 0).map_err(|_| broken("regular"))?,
        bold: ttf_parser::Face::parse(BOLD, 0).map_err(|_| broken("bold"))?,
    };
    let mut l = Layout {
        m: &metrics,
        texts: Vec::new(),
        rules: Vec::new(),
        groups: Vec::new(),
        root: Vec::new(),
        page: 0,
        y: MARGIN,
    };
    lay_out(r, &mut l);
    let (regular, bold) = (font(REGULAR)?, font(BOLD)?);
    let t = Catalogue::of(r.lang);
    let mut doc = Document::new_with(SerializeSettings::default());
    let pages = l.page + 1;
    let mut texts = l.texts.iter().peekable();
    let mut rules = l.rules.iter().peekable();
    let settings = PageSettings::from_wh(WIDTH, HEIGHT).ok_or_else(|| broken("page"))?;
    for n in 0..pages {
        let mut page = doc.start_page_with(settings.clone());
        let mut s = page.surface();
        while let Some(op) = texts.next_if(|op| op.page == n) {
            let id = s.start_tagged(ContentTag::Span(SpanTag::empty()));
            let f = if op.bold {
                bold.clone()
            } else {
                regular.clone()
            };
            s.draw_text(
                Point::from_xy(op.x, op.y),
                f,
                op.size,
                &op.text,
                false,
                TextDirection::Auto,
            );
            s.end_tagged();
            l.groups[op.group].ids.push(id);
        }
        s.start_tagged(ContentTag::Artifact(ArtifactType::Other));
        s.set_stroke(Some(Stroke {
            width: 0.4,
            ..Default::default()
        }));
        while let Some(rule) = rules.next_if(|op| op.page == n) {
            let mut pb = PathBuilder::new();
            pb.move_to(MARGIN, rule.y);
            pb.line_to(WIDTH - MARGIN, rule.y);
            if let Some(path) = pb.finish() {
                s.draw_path(&path);
            }
        }
        s.set_stroke(None);
        s.end_tagged();
        s.start_tagged(ContentTag::Artifact(ArtifactType::Footer));
        s.draw_text(
            Point::from_xy(MARGIN, HEIGHT - MARGIN / 2.0),
            regular.clone(),
            7.0,
            &format!("{} · {} · {}/{}", t.title, r.plan.slug, n + 1, pages),
            false,
            TextDirection::Auto,
        );
        s.end_tagged();
        s.finish();
        page.finish();
    }
    let mut groups: Vec<Option<Group>> = l.groups.into_iter().map(Some).collect();
    let mut tree = TagTree::new();
    for idx in l.root {
        tree.push(into_tree(&mut groups, idx));
    }
    doc.set_tag_tree(tree);
    doc.set_metadata(
        Metadata::new()
            .title(format!("{}: {}", t.title, r.plan.title))
            .language(t.lang.to_owned())
            .creator("Pregón".to_owned()),
    );
    doc.finish()
        .map_err(|e| Error::Internal(anyhow::anyhow!("report pdf: {e:?}")))
}
