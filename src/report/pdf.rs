//! The report as a tagged PDF/UA-1 document, written with krilla (the PDF
//! library typst uses) under its PDF/UA-1 validator: DejaVu Sans from
//! `assets/fonts/` is embedded (subset), so accents render and the text can
//! be extracted; headings, paragraphs and tables are tagged (H1–H3, P,
//! Table/TR/TH/TD) for screen readers, table rules and footers are marked as
//! artifacts, and the headings form the document outline. The layout is a
//! small flow of blocks on A4 pages.
//!
//! Speed: the fonts are parsed once per process (`FONTS`), and each line is
//! shaped with that parsed face; krilla's `draw_text` parses the font's
//! tables anew on every call, which for a 10,000-item year was most of the
//! PDF's time.

use super::i18n::Catalogue;
use super::model::{Outcome, Report};
use crate::error::{Error, Result};
use krilla::configure::{Configuration, Validator};
use krilla::destination::XyzDestination;
use krilla::geom::{PathBuilder, Point};
use krilla::metadata::Metadata;
use krilla::outline::{Outline, OutlineNode};
use krilla::page::PageSettings;
use krilla::paint::Stroke;
use krilla::tagging::{
    ArtifactType, ContentTag, Identifier, SpanTag, TableHeaderScope, Tag, TagGroup, TagKind,
    TagTree,
};
use krilla::text::{Font, GlyphId, KrillaGlyph};
use krilla::{Document, SerializeSettings};
use std::num::NonZeroU16;
use std::sync::{Arc, LazyLock};

const REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;
const MARGIN: f32 = 48.0;
const BODY: f32 = 8.5;
const CELL_PAD: f32 = 2.5;

/// One of the report's two faces: krilla's font (embedded, subset) and the
/// same bytes parsed once for shaping and measuring.
struct Face {
    pdf: Font,
    shaper: rustybuzz::Face<'static>,
    /// The glyph drawn for a character the face lacks (krilla's PDF/UA
    /// validator refuses `.notdef`): U+FFFD, else `?`.
    replacement: char,
    /// Advance widths (font units) of U+0000–U+02FF, `None` where the face
    /// has no glyph: measuring is most of what wrapping does, and a cmap
    /// lookup walks the face's subtables each time.
    common: Vec<Option<u16>>,
}

impl Face {
    fn load(bytes: &'static [u8]) -> std::result::Result<Face, &'static str> {
        let data: Arc<dyn AsRef<[u8]> + Send + Sync> = Arc::new(bytes);
        let pdf = Font::new(data.into(), 0).ok_or("unreadable for krilla")?;
        let shaper = rustybuzz::Face::from_slice(bytes, 0).ok_or("unreadable for rustybuzz")?;
        let replacement = if shaper.glyph_index('\u{FFFD}').is_some() {
            '\u{FFFD}'
        } else {
            '?'
        };
        let common = (0..0x300u32)
            .map(|c| char::from_u32(c).and_then(|c| Self::lookup(&shaper, c)))
            .collect();
        Ok(Face {
            pdf,
            shaper,
            replacement,
            common,
        })
    }

    fn lookup(face: &rustybuzz::Face<'_>, c: char) -> Option<u16> {
        face.glyph_index(c)
            .filter(|g| g.0 != 0)
            .map(|g| face.glyph_hor_advance(g).unwrap_or(0))
    }

    /// The advance of `c` in font units, `None` if the face lacks it.
    fn advance(&self, c: char) -> Option<u16> {
        match self.common.get(c as usize) {
            Some(known) => *known,
            None => Self::lookup(&self.shaper, c),
        }
    }

    fn has(&self, c: char) -> bool {
        self.advance(c).is_some()
    }
}

struct Fonts {
    regular: Face,
    bold: Face,
}

/// Parsed once per process: parsing DejaVu's tables is the expensive part
/// of drawing a line.
static FONTS: LazyLock<std::result::Result<Fonts, &'static str>> = LazyLock::new(|| {
    Ok(Fonts {
        regular: Face::load(REGULAR)?,
        bold: Face::load(BOLD)?,
    })
});

impl Fonts {
    fn face(&self, bold: bool) -> &Face {
        if bold { &self.bold } else { &self.regular }
    }
}

struct Metrics<'f> {
    fonts: &'f Fonts,
}

impl Metrics<'_> {
    fn width(&self, text: &str, size: f32, bold: bool) -> f32 {
        let face = self.fonts.face(bold);
        let em = face.shaper.units_per_em() as f32;
        let units: f32 = text
            .chars()
            .map(|c| face.advance(c).map_or(em / 2.0, f32::from))
            .sum();
        units * size / em
    }

    /// `text` with the characters the face lacks replaced (and control
    /// characters, which have no glyph either).
    fn clean<'t>(&self, text: &'t str, bold: bool) -> std::borrow::Cow<'t, str> {
        let face = self.fonts.face(bold);
        if text.chars().all(|c| c == ' ' || face.has(c)) {
            return text.into();
        }
        text.chars()
            .map(|c| {
                if c == ' ' || face.has(c) {
                    c
                } else {
                    face.replacement
                }
            })
            .collect::<String>()
            .into()
    }

    /// Breaks `text` into lines no wider than `max`, at spaces; a word wider
    /// than a line is cut.
    fn wrap(&self, text: &str, size: f32, bold: bool, max: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let paragraph = self.clean(paragraph, bold);
            let space = self.width(" ", size, bold);
            let mut line = String::new();
            let mut line_width = 0.0;
            for word in paragraph.split(' ') {
                let word_width = self.width(word, size, bold);
                if line.is_empty() {
                    line = word.to_owned();
                    line_width = word_width;
                } else if line_width + space + word_width <= max {
                    line.push(' ');
                    line.push_str(word);
                    line_width += space + word_width;
                } else {
                    lines.push(std::mem::take(&mut line));
                    line = word.to_owned();
                    line_width = word_width;
                }
                while line_width > max && line.chars().count() > 1 {
                    // Cut the longest head that fits (at least one character).
                    let mut cut = 0;
                    let mut width = 0.0;
                    for (n, (i, c)) in line.char_indices().enumerate() {
                        let w = self.width(&line[i..i + c.len_utf8()], size, bold);
                        if n > 0 && width + w > max {
                            break;
                        }
                        width += w;
                        cut = i + c.len_utf8();
                    }
                    let tail = line.split_off(cut);
                    lines.push(std::mem::replace(&mut line, tail));
                    line_width = self.width(&line, size, bold);
                }
            }
            lines.push(line);
        }
        lines
    }
}

/// Shapes lines with the parsed faces, keeping one shaping plan per
/// direction and script, and the glyphs of lines already shaped (dates,
/// places and outcomes repeat).
struct Shaper<'f> {
    fonts: &'f Fonts,
    plans: Vec<(
        bool,
        rustybuzz::Direction,
        Option<rustybuzz::Script>,
        rustybuzz::ShapePlan,
    )>,
    done: std::collections::HashMap<(bool, String), Arc<Vec<KrillaGlyph>>>,
}

impl<'f> Shaper<'f> {
    fn new(fonts: &'f Fonts) -> Self {
        Shaper {
            fonts,
            plans: Vec::new(),
            done: std::collections::HashMap::new(),
        }
    }

    fn shape(&mut self, text: &str, bold: bool) -> Arc<Vec<KrillaGlyph>> {
        if let Some(glyphs) = self.done.get(&(bold, text.to_owned())) {
            return glyphs.clone();
        }
        let face = &self.fonts.face(bold).shaper;
        let mut buffer = rustybuzz::UnicodeBuffer::new();
        buffer.push_str(text);
        buffer.guess_segment_properties();
        let (direction, script) = (buffer.direction(), buffer.script());
        let plan = match self
            .plans
            .iter()
            .position(|(b, d, s, _)| *b == bold && *d == direction && *s == Some(script))
        {
            Some(n) => &self.plans[n].3,
            None => {
                let plan = rustybuzz::ShapePlan::new(face, direction, Some(script), None, &[]);
                self.plans.push((bold, direction, Some(script), plan));
                &self.plans.last().expect("just pushed").3
            }
        };
        let output = rustybuzz::shape_with_plan(face, plan, buffer);
        let upem = face.units_per_em() as f32;
        // A glyph's text is its cluster up to the next cluster (clusters are
        // byte offsets into `text`, in either direction).
        let mut clusters: Vec<usize> = output
            .glyph_infos()
            .iter()
            .map(|i| i.cluster as usize)
            .collect();
        clusters.sort_unstable();
        clusters.dedup();
        let glyphs: Vec<KrillaGlyph> = output
            .glyph_infos()
            .iter()
            .zip(output.glyph_positions())
            .map(|(info, pos)| {
                let start = info.cluster as usize;
                let end = clusters
                    .get(clusters.partition_point(|c| *c <= start))
                    .copied()
                    .unwrap_or(text.len());
                KrillaGlyph::new(
                    GlyphId::new(info.glyph_id),
                    pos.x_advance as f32 / upem,
                    pos.x_offset as f32 / upem,
                    pos.y_offset as f32 / upem,
                    pos.y_advance as f32 / upem,
                    start..end,
                    None,
                )
            })
            .collect();
        let glyphs = Arc::new(glyphs);
        self.done.insert((bold, text.to_owned()), glyphs.clone());
        glyphs
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

/// A heading, for the document outline: level, text, page and top.
struct Mark {
    level: u16,
    text: String,
    page: usize,
    y: f32,
}

struct Layout<'m> {
    m: &'m Metrics<'m>,
    marks: Vec<Mark>,
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
        self.marks.push(Mark {
            level,
            text: text.to_owned(),
            page: self.page,
            y: self.y,
        });
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
    l.heading(2, t.social_title);
    l.para(t.social_note);
    if r.social.is_empty() {
        l.para(t.no_posts);
    } else {
        let rows: Vec<Vec<String>> = r
            .social
            .iter()
            .map(|p| super::social::post_row(p, t))
            .collect();
        l.table(
            &super::social::post_header(t),
            &[0.05, 0.25, 0.14, 0.06, 0.08, 0.08, 0.08, 0.08, 0.18],
            &rows,
        );
        l.heading(3, t.social_totals_title);
        let rows: Vec<Vec<String>> = r
            .social_totals
            .iter()
            .map(|c| super::social::total_row(c, t))
            .collect();
        l.table(
            &super::social::total_header(t),
            &[0.2, 0.16, 0.1, 0.1, 0.1, 0.1, 0.24],
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

/// The headings as the document's outline (bookmarks), nested by level.
fn outline(marks: &[Mark]) -> Outline {
    fn take(marks: &[Mark], at: &mut usize, level: u16) -> Vec<OutlineNode> {
        let mut out = Vec::new();
        while let Some(m) = marks.get(*at) {
            if m.level < level {
                break;
            }
            *at += 1;
            let mut node = OutlineNode::new(
                m.text.clone(),
                XyzDestination::new(m.page, Point::from_xy(MARGIN, m.y)),
            );
            for child in take(marks, at, m.level + 1) {
                node.push_child(child);
            }
            out.push(node);
        }
        out
    }
    let mut outline = Outline::new();
    let mut at = 0;
    while let Some(first) = marks.get(at) {
        for node in take(marks, &mut at, first.level) {
            outline.push_child(node);
        }
    }
    outline
}

pub fn render(r: &Report) -> Result<Vec<u8>> {
    let broken = |what: &str| Error::Internal(anyhow::anyhow!("report font: {what}"));
    let fonts = FONTS.as_ref().map_err(|e| broken(e))?;
    let metrics = Metrics { fonts };
    let mut l = Layout {
        m: &metrics,
        marks: Vec::new(),
        texts: Vec::new(),
        rules: Vec::new(),
        groups: Vec::new(),
        root: Vec::new(),
        page: 0,
        y: MARGIN,
    };
    lay_out(r, &mut l);
    let mut shaper = Shaper::new(fonts);
    let t = Catalogue::of(r.lang);
    // PDF/UA-1: krilla checks what it can (title, language, tagging, heading
    // titles, an outline, every character mapped) and refuses to write a
    // document that fails; tests/tools/check_pdfua.py checks the result.
    let mut doc = Document::new_with(SerializeSettings {
        configuration: Configuration::new_with_validator(Validator::UA1),
        ..SerializeSettings::default()
    });
    let pages = l.page + 1;
    let mut texts = l.texts.iter().peekable();
    let mut rules = l.rules.iter().peekable();
    let settings = PageSettings::from_wh(WIDTH, HEIGHT).ok_or_else(|| broken("page"))?;
    for n in 0..pages {
        let mut page = doc.start_page_with(settings.clone());
        let mut s = page.surface();
        while let Some(op) = texts.next_if(|op| op.page == n) {
            let id = s.start_tagged(ContentTag::Span(SpanTag::empty()));
            let glyphs = shaper.shape(&op.text, op.bold);
            s.draw_glyphs(
                Point::from_xy(op.x, op.y),
                &glyphs,
                fonts.face(op.bold).pdf.clone(),
                &op.text,
                op.size,
                false,
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
        let footer = metrics
            .clean(
                &format!("{} · {} · {}/{}", t.title, r.plan.slug, n + 1, pages),
                false,
            )
            .into_owned();
        let glyphs = shaper.shape(&footer, false);
        s.draw_glyphs(
            Point::from_xy(MARGIN, HEIGHT - MARGIN / 2.0),
            &glyphs,
            fonts.regular.pdf.clone(),
            &footer,
            7.0,
            false,
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
    doc.set_outline(outline(&l.marks));
    doc.set_metadata(
        Metadata::new()
            .title(format!("{}: {}", t.title, r.plan.title))
            .language(t.lang.to_owned())
            .creator("Pregón".to_owned()),
    );
    doc.finish()
        .map_err(|e| Error::Internal(anyhow::anyhow!("report pdf: {e:?}")))
}
