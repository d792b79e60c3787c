//! Newsletter bodies: Markdown → HTML and → plain text, wrapped in a layout
//! whose footer carries the organisation's name, postal address and an
//! unsubscribe link, in the newsletter's language.
//!
//! Policy on raw HTML in the Markdown: it is *escaped*, not passed through and
//! not silently dropped. Authors are trusted-ish, but their text often carries
//! pasted content (from web pages, other emails) whose markup we cannot vet;
//! showing it literally makes the problem visible in the preview instead of
//! shipping it. For the same reason links and images whose scheme is not
//! http(s)/mailto/tel (e.g. `javascript:`) lose their target and keep their
//! text.
//!
//! Personalisation: only `{{name}}` and `{{unsubscribe_url}}` (inner spaces
//! allowed), in the body and the subject, and so in the HTML `<title>`.
//! `{{name|amigo}}` says what to write when the recipient has no name; a
//! bare `{{name}}` is then empty, and in a subject the space before it goes
//! too (no "Bonjour ," nor a double space). They are swapped for random alphanumeric sentinels *before*
//! Markdown parsing and for the real values *after* rendering, so a recipient
//! name can never become Markdown or HTML, and substituted values are never
//! scanned again. Any other `{{…}}` stays literal; `unknown_placeholders`
//! lets the editor warn about it.

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use serde::{Deserialize, Serialize};

use super::message::single_line;
use super::template::{Template, Tokens, Values};

/// The newsletter's languages are the service's.
pub use crate::domain::Language as Lang;

fn strings(lang: Lang) -> &'static LayoutStrings {
    match lang {
        Lang::Es => &ES,
        Lang::En => &EN,
        Lang::Fr => &FR,
    }
}

struct LayoutStrings {
    unsubscribe: &'static str,
    /// `{org}` is replaced by the organisation's name.
    reason: &'static str,
}

const ES: LayoutStrings = LayoutStrings {
    unsubscribe: "Darse de baja",
    reason: "Recibes este mensaje porque estás suscrito/a a las comunicaciones de {org}.",
};
const EN: LayoutStrings = LayoutStrings {
    unsubscribe: "Unsubscribe",
    reason: "You are receiving this message because you subscribed to communications from {org}.",
};
const FR: LayoutStrings = LayoutStrings {
    unsubscribe: "Se désabonner",
    reason: "Vous recevez ce message car vous êtes abonné·e aux communications de {org}.",
};

/// Who sends the newsletter; the postal address is a legal requirement for
/// commercial email in several jurisdictions (CAN-SPAM) and expected by all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Footer {
    pub organisation: String,
    /// May span several lines.
    pub postal_address: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedBody {
    pub html: String,
    pub text: String,
}

/// A newsletter rendered once, personalised per recipient by string
/// substitution only (no Markdown parsing per recipient).
#[derive(Debug, Clone)]
pub struct PreparedNewsletter {
    html: Template,
    text: Template,
    /// The subject as written: the HTML title is the recipient's subject.
    subject: String,
}

/// Both parts quoted-printable encoded for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedBody {
    pub html: Vec<u8>,
    pub text: Vec<u8>,
}

impl PreparedNewsletter {
    pub fn new(title: &str, markdown: &str, lang: Lang, footer: &Footer) -> Self {
        // Lower-case hex and letters: untouched by Markdown, HTML escaping and
        // href percent-encoding alike, and unguessable for the author.
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let unsubscribe_token = format!("pregon{nonce}unsubscribe");
        let rule_token = format!("pregon{nonce}rule");
        // One token per distinct fallback, `pregon…n<i>e`: none is a prefix
        // of another.
        let mut fallbacks: Vec<String> = Vec::new();
        let mut tokenise = |text: &str| {
            replace_placeholders(text, |key| match placeholder(key) {
                Some(Placeholder::Name(fallback)) => {
                    let fallback = single_line(fallback.unwrap_or(""));
                    let i = match fallbacks.iter().position(|f| *f == fallback) {
                        Some(i) => i,
                        None => {
                            fallbacks.push(fallback);
                            fallbacks.len() - 1
                        }
                    };
                    Some(format!("pregon{nonce}n{i}e"))
                }
                Some(Placeholder::UnsubscribeUrl) => Some(unsubscribe_token.clone()),
                None => None,
            })
        };
        let markdown = tokenise(markdown);
        let title_token = format!("pregon{nonce}title");
        let allowed = |url: &str| url == unsubscribe_token || link_allowed(url);
        let html = html_layout(
            &title_token,
            &markdown_to_html_with(&markdown, &allowed),
            lang,
            footer,
            &unsubscribe_token,
        );
        let text = text_layout(
            &markdown_to_text_with(&markdown, &allowed, Some(&rule_token)),
            lang,
            footer,
            &unsubscribe_token,
        );
        let names = |form: fn(&str) -> String| -> Vec<(String, String)> {
            fallbacks
                .iter()
                .enumerate()
                .map(|(i, f)| (format!("pregon{nonce}n{i}e"), form(f)))
                .collect()
        };
        let (html_names, text_names) = (names(escape_html), names(str::to_owned));
        Self {
            html: Template::compile(
                &html,
                &Tokens {
                    names: &html_names,
                    unsubscribe_url: &unsubscribe_token,
                    title: Some(&title_token),
                    rule: None,
                },
            ),
            text: Template::compile(
                &text,
                &Tokens {
                    names: &text_names,
                    unsubscribe_url: &unsubscribe_token,
                    title: None,
                    rule: Some(&rule_token),
                },
            ),
            subject: title.to_owned(),
        }
    }

    pub fn personalise(&self, name: &str, unsubscribe_url: &str) -> RenderedBody {
        let (html, text) = self.values(name, unsubscribe_url);
        RenderedBody {
            html: self.html.render(&html.values()),
            text: self.text.render(&text.values()),
        }
    }

    /// What `personalise` gives, quoted-printable encoded: only the values
    /// are encoded per recipient.
    pub fn encode(&self, name: &str, unsubscribe_url: &str) -> EncodedBody {
        let (html, text) = self.values(name, unsubscribe_url);
        EncodedBody {
            html: self.html.encode(&html.values()),
            text: self.text.encode(&text.values()),
        }
    }

    /// The values as the HTML and the text part take them.
    fn values(&self, name: &str, unsubscribe_url: &str) -> (OwnedValues, OwnedValues) {
        let title = personalise_subject(&self.subject, name);
        let name = single_line(name);
        let html = OwnedValues(
            escape_html(&name),
            escape_html(unsubscribe_url),
            escape_html(&title),
        );
        (html, OwnedValues(name, unsubscribe_url.to_owned(), title))
    }
}

struct OwnedValues(String, String, String);

impl OwnedValues {
    fn values(&self) -> Values<'_> {
        Values {
            name: &self.0,
            unsubscribe_url: &self.1,
            title: &self.2,
        }
    }
}

/// Subjects are plain text (lettre encodes them); only `{{name}}` applies.
/// A name that comes out empty takes the space before it along, so that
/// "Bonjour {{name}}, …" without a name reads "Bonjour, …".
pub fn personalise_subject(template: &str, name: &str) -> String {
    let name = single_line(name);
    // A marker no subject holds: where an empty name was.
    const EMPTY: char = '\u{FFFF}';
    let replaced = replace_placeholders(template, |key| match placeholder(key)? {
        Placeholder::Name(fallback) => {
            let value = if name.is_empty() {
                single_line(fallback.unwrap_or(""))
            } else {
                name.clone()
            };
            Some(if value.is_empty() {
                EMPTY.to_string()
            } else {
                value
            })
        }
        Placeholder::UnsubscribeUrl => None,
    });
    let mut out = String::with_capacity(replaced.len());
    for c in single_line(&replaced).chars() {
        if c == EMPTY {
            while out.ends_with(' ') {
                out.pop();
            }
        } else if c == ' ' && out.ends_with(' ') {
            continue;
        } else {
            out.push(c);
        }
    }
    out.trim().to_owned()
}

enum Placeholder<'a> {
    /// With its fallback.
    Name(Option<&'a str>),
    UnsubscribeUrl,
}

/// What the inside of a `{{…}}` names: `name`, `name|fallback`, `unsubscribe_url`.
fn placeholder(key: &str) -> Option<Placeholder<'_>> {
    let (key, fallback) = match key.split_once('|') {
        Some((key, fallback)) => (key.trim(), Some(fallback.trim())),
        None => (key, None),
    };
    match (key, fallback) {
        ("name", fallback) => Some(Placeholder::Name(fallback)),
        ("unsubscribe_url", None) => Some(Placeholder::UnsubscribeUrl),
        _ => None,
    }
}

/// Placeholders other than `{{name}}`, `{{name|fallback}}` and
/// `{{unsubscribe_url}}`, in order.
pub fn unknown_placeholders(markdown: &str) -> Vec<String> {
    let mut unknown = Vec::new();
    replace_placeholders(markdown, |key| {
        if placeholder(key).is_none() {
            unknown.push(key.to_owned());
        }
        None
    });
    unknown
}

/// Markdown → HTML fragment with the escaping policy described above.
pub fn markdown_to_html(markdown: &str) -> String {
    markdown_to_html_with(markdown, &link_allowed)
}

/// Markdown → readable plain text: paragraphs separated by blank lines,
/// `- ` bullets, `text (url)` links, underlined headings.
pub fn markdown_to_text(markdown: &str) -> String {
    markdown_to_text_with(markdown, &link_allowed, None)
}

fn parser(markdown: &str) -> Parser<'_> {
    Parser::new_ext(markdown, Options::ENABLE_STRIKETHROUGH)
}

fn markdown_to_html_with(markdown: &str, allowed: &dyn Fn(&str) -> bool) -> String {
    let mut dropped_links = Vec::new();
    let mut dropped_images = Vec::new();
    let events = parser(markdown).filter_map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        // Escaped HTML blocks read best as their own paragraph.
        Event::Start(Tag::HtmlBlock) => Some(Event::Start(Tag::Paragraph)),
        Event::End(TagEnd::HtmlBlock) => Some(Event::End(TagEnd::Paragraph)),
        Event::Start(Tag::Link { ref dest_url, .. }) => {
            let keep = allowed(dest_url);
            dropped_links.push(!keep);
            keep.then_some(event)
        }
        Event::End(TagEnd::Link) => (!dropped_links.pop().unwrap_or(false)).then_some(event),
        Event::Start(Tag::Image { ref dest_url, .. }) => {
            let keep = image_allowed(dest_url);
            dropped_images.push(!keep);
            keep.then_some(event)
        }
        Event::End(TagEnd::Image) => (!dropped_images.pop().unwrap_or(false)).then_some(event),
        other => Some(other),
    });
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    // Raw HTML was escaped above, so every `<img` is a Markdown image: none
    // may be wider than a phone's screen.
    html.replace("<img ", "<img style=\"max-width:100%;height:auto;\" ")
}

fn markdown_to_text_with(
    markdown: &str,
    allowed: &dyn Fn(&str) -> bool,
    rule_token: Option<&str>,
) -> String {
    let mut renderer = TextRenderer {
        rule_token: rule_token.map(str::to_owned),
        ..TextRenderer::default()
    };
    for event in parser(markdown) {
        renderer.event(event, allowed);
    }
    renderer.finish()
}

fn scheme(url: &str) -> Option<&str> {
    let end = url.find([':', '/', '?', '#'])?;
    let candidate = &url[..end];
    (url[end..].starts_with(':')
        && candidate.starts_with(|c: char| c.is_ascii_alphabetic())
        && candidate
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)))
    .then_some(candidate)
}

fn link_allowed(url: &str) -> bool {
    match scheme(url) {
        Some(s) => ["http", "https", "mailto", "tel"]
            .iter()
            .any(|ok| s.eq_ignore_ascii_case(ok)),
        // Relative or fragment links are odd in email but harmless.
        None => true,
    }
}

fn image_allowed(url: &str) -> bool {
    scheme(url).is_some_and(|s| s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https"))
}

/// Calls `value` with the trimmed inside of every `{{…}}`; `None` keeps the
/// placeholder literally.
fn replace_placeholders(text: &str, mut value: impl FnMut(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) if !after[..end].contains(['{', '\n']) => {
                match value(after[..end].trim()) {
                    Some(v) => out.push_str(&v),
                    None => out.push_str(&rest[start..start + 2 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            _ => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Replaces each `<token><char>` line by `<char>` repeated to the width of
/// the line above it (a heading whose width was unknown before
/// personalisation).
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html_layout(
    title: &str,
    content: &str,
    lang: Lang,
    footer: &Footer,
    unsubscribe: &str,
) -> String {
    let strings = strings(lang);
    let organisation = escape_html(&footer.organisation);
    let reason = escape_html(strings.reason).replace("{org}", &organisation);
    let address = footer
        .postal_address
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(escape_html)
        .collect::<Vec<_>>()
        .join("<br>\n");
    // Inline styles only: many clients strip <style> blocks.
    format!(
        r#"<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
</head>
<body style="margin:0;padding:0;background:#f4f4f4;">
<div style="max-width:600px;margin:0 auto;padding:24px;background:#ffffff;font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:1.5;color:#222222;overflow-wrap:anywhere;word-wrap:break-word;">
{content}</div>
<div style="max-width:600px;margin:0 auto;padding:16px 24px;font-family:Arial,Helvetica,sans-serif;font-size:12px;line-height:1.5;color:#666666;">
<p>{reason}</p>
<p>{organisation}<br>
{address}</p>
<p><a href="{unsubscribe}" style="color:#666666;">{label}</a></p>
</div>
</body>
</html>
"#,
        lang = lang.as_str(),
        title = escape_html(title),
        label = escape_html(strings.unsubscribe),
    )
}

fn text_layout(content: &str, lang: Lang, footer: &Footer, unsubscribe: &str) -> String {
    let strings = strings(lang);
    let mut text = String::with_capacity(content.len() + 256);
    text.push_str(content.trim_end());
    // "-- " is the signature delimiter: clients fold it away when replying.
    text.push_str("\n\n-- \n");
    text.push_str(&strings.reason.replace("{org}", &footer.organisation));
    text.push_str("\n\n");
    text.push_str(footer.organisation.trim());
    text.push('\n');
    for line in footer
        .postal_address
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        text.push_str(line);
        text.push('\n');
    }
    text.push('\n');
    text.push_str(strings.unsubscribe);
    text.push_str(": ");
    text.push_str(unsubscribe);
    text.push('\n');
    text
}

enum Container {
    Quote,
    Item { marker: String, pending: bool },
    Code,
}

struct Link {
    dest: String,
    keep: bool,
    start: usize,
}

#[derive(Default)]
struct TextRenderer {
    out: String,
    containers: Vec<Container>,
    /// `Some(next number)` for ordered lists.
    lists: Vec<Option<u64>>,
    links: Vec<Link>,
    heading_start: Option<usize>,
    rule_token: Option<String>,
    at_line_start: bool,
    blank_pending: bool,
}

impl TextRenderer {
    fn event(&mut self, event: Event<'_>, allowed: &dyn Fn(&str) -> bool) {
        match event {
            Event::Start(tag) => self.start(tag, allowed),
            Event::End(tag) => self.end(tag),
            Event::Text(text)
            | Event::Code(text)
            | Event::Html(text)
            | Event::InlineHtml(text)
            | Event::InlineMath(text)
            | Event::DisplayMath(text) => self.write(&text),
            Event::FootnoteReference(label) => self.write(&format!("[{label}]")),
            Event::SoftBreak | Event::HardBreak => self.newline(),
            Event::Rule => {
                self.start_block();
                self.write("----------");
                self.end_block();
            }
            Event::TaskListMarker(done) => self.write(if done { "[x] " } else { "[ ] " }),
        }
    }

    fn start(&mut self, tag: Tag<'_>, allowed: &dyn Fn(&str) -> bool) {
        match tag {
            Tag::Paragraph | Tag::HtmlBlock => self.start_block(),
            Tag::Heading { level, .. } => {
                self.start_block();
                if level > HeadingLevel::H2 {
                    self.write(&format!("{} ", "#".repeat(level as usize)));
                }
                self.heading_start = Some(self.out.len());
            }
            Tag::BlockQuote(_) => {
                self.start_block();
                self.containers.push(Container::Quote);
            }
            Tag::CodeBlock(_) => {
                self.start_block();
                self.containers.push(Container::Code);
            }
            Tag::List(first) => {
                self.start_block();
                self.lists.push(first);
            }
            Tag::Item => {
                self.start_block();
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let marker = format!("{n}. ");
                        *n += 1;
                        marker
                    }
                    _ => "- ".to_owned(),
                };
                self.containers.push(Container::Item {
                    marker,
                    pending: true,
                });
            }
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                let keep = allowed(&dest_url);
                // The label is measured from `start`, so the line prefix
                // (list marker, quote) must already be out.
                if self.at_line_start || self.out.is_empty() {
                    self.write_prefix();
                    self.at_line_start = false;
                }
                self.links.push(Link {
                    dest: dest_url.into_string(),
                    keep,
                    start: self.out.len(),
                });
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph | TagEnd::HtmlBlock => self.end_block(),
            TagEnd::Heading(level) => {
                if let Some(start) = self.heading_start.take() {
                    let width = self.out[start..].chars().count();
                    let rule = match level {
                        HeadingLevel::H1 => Some('='),
                        HeadingLevel::H2 => Some('-'),
                        _ => None,
                    };
                    if let Some(rule) = rule {
                        self.newline();
                        match self.rule_token.clone() {
                            Some(token) => self.write(&format!("{token}{rule}")),
                            None => self.write(&rule.to_string().repeat(width.max(3))),
                        }
                    }
                }
                self.end_block();
            }
            TagEnd::BlockQuote(_) | TagEnd::CodeBlock => {
                self.containers.pop();
                self.end_block();
            }
            TagEnd::List(_) => {
                self.lists.pop();
                // Nested lists end inside an item; a blank line there would
                // loosen a tight list.
                if self.lists.is_empty() {
                    self.end_block();
                }
            }
            TagEnd::Item => {
                self.containers.pop();
                if !self.at_line_start {
                    self.newline();
                }
            }
            TagEnd::Link | TagEnd::Image => {
                if let Some(link) = self.links.pop() {
                    let label = self.out[link.start..].trim().to_owned();
                    let bare = link.dest.strip_prefix("mailto:").unwrap_or(&link.dest);
                    if link.keep && !link.dest.is_empty() && label != link.dest && label != bare {
                        if label.is_empty() {
                            self.write(&link.dest);
                        } else {
                            self.write(&format!(" ({})", link.dest));
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn start_block(&mut self) {
        if self.out.is_empty() {
            self.blank_pending = false;
            return;
        }
        if !self.at_line_start {
            self.newline();
        }
        if self.blank_pending {
            let quote: String = self
                .containers
                .iter()
                .filter(|c| matches!(c, Container::Quote))
                .map(|_| ">")
                .collect();
            self.out.push_str(&quote);
            self.out.push('\n');
            self.blank_pending = false;
        }
    }

    fn end_block(&mut self) {
        if !self.at_line_start {
            self.newline();
        }
        self.blank_pending = true;
    }

    fn newline(&mut self) {
        self.out.push('\n');
        self.at_line_start = true;
    }

    fn write(&mut self, text: &str) {
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                self.newline();
            }
            if line.is_empty() {
                continue;
            }
            if self.at_line_start || self.out.is_empty() {
                self.write_prefix();
                self.at_line_start = false;
            }
            self.out.push_str(line);
        }
    }

    fn write_prefix(&mut self) {
        for container in &mut self.containers {
            match container {
                Container::Quote => self.out.push_str("> "),
                Container::Code => self.out.push_str("    "),
                Container::Item { marker, pending } => {
                    if *pending {
                        self.out.push_str(marker);
                        *pending = false;
                    } else {
                        self.out.push_str(&" ".repeat(marker.len()));
                    }
                }
            }
        }
    }

    fn finish(self) -> String {
        let mut out = self.out.trim_end().to_owned();
        out.push('\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn footer() -> Footer {
        Footer {
            organisation: "Ayuntamiento de Villa & Río".to_owned(),
            postal_address: "Plaza Mayor 1\n29001 Málaga\n".to_owned(),
        }
    }

    const BODY: &str = "# Boletín de {{name}}\n\nHola **{{name}}**, novedades:\n\n- Pleno el [martes](https://pregon.example/pleno?a=1&b=2)\n- Mercado\n\n[Baja]({{unsubscribe_url}})\n";

    fn leaks_token(s: &str) -> bool {
        s.match_indices("pregon").any(|(at, _)| {
            let hex = &s[at + 6..];
            hex.len() >= 32 && hex[..32].bytes().all(|b| b.is_ascii_hexdigit())
        })
    }

    #[test]
    fn heading_underline_fits_the_personalised_name() {
        let prepared = PreparedNewsletter::new(
            "t",
            "# Hola {{name}}\n\n## {{name}}\n\ntext",
            Lang::Es,
            &footer(),
        );
        let text = prepared.personalise("Éléonore", "https://u.example/").text;
        assert!(
            text.starts_with("Hola Éléonore\n=============\n\nÉléonore\n--------\n\ntext\n"),
            "{text}"
        );
    }

    #[test]
    fn encoded_bodies_decode_to_the_personalised_text() {
        let long_name = "Ayuntamiento de Villa ".repeat(8);
        let names = [
            "",
            "Ana",
            "José Ñúñez",
            "a = b ",
            "<Bea & Co>",
            "🎉 Éléonore",
            &long_name,
        ];
        for lang in [Lang::Es, Lang::En, Lang::Fr] {
            let prepared = PreparedNewsletter::new("Boletín <marzo>", BODY, lang, &footer());
            for name in names {
                let url = format!(
                    "https://u.example/newsletter/unsubscribe/{}",
                    "t0k".repeat(30)
                );
                let plain = prepared.personalise(name, &url);
                let encoded = prepared.encode(name, &url);
                for (bytes, text) in [(&encoded.text, &plain.text), (&encoded.html, &plain.html)] {
                    let wire = std::str::from_utf8(bytes).unwrap();
                    assert!(wire.is_ascii());
                    assert!(wire.split("\r\n").all(|line| line.len() <= 76), "{wire}");
                    let decoded = String::from_utf8(crate::email::qp::decode(bytes)).unwrap();
                    assert_eq!(&decoded, text);
                }
            }
        }
    }

    #[test]
    fn html_escapes_raw_html() {
        let html = markdown_to_html(
            "Hi <script>alert(1)</script> there\n\n<div onclick=\"x\">block</div>\n",
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<div"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            html.contains("<p>&lt;div onclick=\"x\"&gt;block&lt;/div&gt;\n</p>"),
            "{html}"
        );
    }

    #[test]
    fn dangerous_links_keep_text_lose_target() {
        let html = markdown_to_html(
            "[click](javascript:alert(1)) [ok](https://a.example/) ![img](data:image/png;base64,AAA) [mail](mailto:a@b.example) [bad](JaVaScRiPt&#58;x)",
        );
        assert!(!html.to_ascii_lowercase().contains("javascript"), "{html}");
        assert!(!html.contains("data:"), "{html}");
        assert!(html.contains("click"));
        assert!(
            html.contains("<a href=\"https://a.example/\">ok</a>"),
            "{html}"
        );
        assert!(
            html.contains("<a href=\"mailto:a@b.example\">mail</a>"),
            "{html}"
        );
        let text = markdown_to_text("[click](javascript:alert(1)) and [ok](https://a.example/)");
        assert_eq!(text, "click and ok (https://a.example/)\n");
    }

    #[test]
    fn plain_text_rendering() {
        let md = "# Title\n\nFirst *para*\nsecond line.\n\n## Sub\n\n- one\n- two with [link](https://x.example/a)\n  - nested\n- <https://auto.example/>\n\n1. first\n2. second\n\n> quoted\n> text\n\n```\ncode line\n```\n\n### Small\n\nContact <info@pregon.example>.\n\n---\n\nEnd";
        let expected = "Title\n=====\n\nFirst para\nsecond line.\n\nSub\n---\n\n- one\n- two with link (https://x.example/a)\n  - nested\n- https://auto.example/\n\n1. first\n2. second\n\n> quoted\n> text\n\n    code line\n\n### Small\n\nContact info@pregon.example.\n\n----------\n\nEnd\n";
        assert_eq!(markdown_to_text(md), expected);
    }

    #[test]
    fn loose_list_items_are_separated() {
        let md = "- a\n\n- b\n\n  more b\n";
        assert_eq!(markdown_to_text(md), "- a\n\n- b\n\n  more b\n");
    }

    #[test]
    fn three_languages() {
        let cases = [
            (
                Lang::Es,
                "Darse de baja",
                "Recibes este mensaje porque estás suscrito/a",
            ),
            (
                Lang::En,
                "Unsubscribe",
                "You are receiving this message because",
            ),
            (
                Lang::Fr,
                "Se désabonner",
                "Vous recevez ce message car vous êtes abonné·e",
            ),
        ];
        for (lang, label, reason) in cases {
            let prepared = PreparedNewsletter::new("Boletín <marzo>", BODY, lang, &footer());
            let body = prepared.personalise("Ana", "https://pregon.example/u/t0k?x=1&y=2");
            let html = &body.html;
            assert!(html.contains(&format!("<html lang=\"{lang}\">")), "{html}");
            assert!(
                html.contains("<title>Boletín &lt;marzo&gt;</title>"),
                "{html}"
            );
            assert!(
                html.contains(&format!(
                    "<a href=\"https://pregon.example/u/t0k?x=1&amp;y=2\" style=\"color:#666666;\">{label}</a>"
                )),
                "{html}"
            );
            assert!(html.contains(reason), "{html}");
            assert!(html.contains("Ayuntamiento de Villa &amp; Río"), "{html}");
            assert!(html.contains("Plaza Mayor 1<br>\n29001 Málaga"), "{html}");
            assert!(html.contains("<h1>Boletín de Ana</h1>"), "{html}");
            assert!(html.contains("Hola <strong>Ana</strong>"), "{html}");
            assert!(
                html.contains("<a href=\"https://pregon.example/u/t0k?x=1&amp;y=2\">Baja</a>"),
                "{html}"
            );
            assert!(!leaks_token(html), "{html}");
            assert!(!leaks_token(&body.text), "{}", body.text);

            let text = &body.text;
            assert!(
                text.starts_with("Boletín de Ana\n==============\n\nHola Ana, novedades:\n"),
                "{text}"
            );
            assert!(
                text.contains("- Pleno el martes (https://pregon.example/pleno?a=1&b=2)\n"),
                "{text}"
            );
            assert!(
                text.contains("Baja (https://pregon.example/u/t0k?x=1&y=2)"),
                "{text}"
            );
            assert!(text.contains("\n-- \n"), "{text}");
            assert!(
                text.contains("Ayuntamiento de Villa & Río\nPlaza Mayor 1\n29001 Málaga\n"),
                "{text}"
            );
            assert!(
                text.ends_with(&format!("{label}: https://pregon.example/u/t0k?x=1&y=2\n")),
                "{text}"
            );
            assert!(text.contains(reason), "{text}");
        }
    }

    #[test]
    fn personalisation_values_are_inert() {
        let prepared = PreparedNewsletter::new("t", BODY, Lang::En, &footer());
        let evil =
            "<img src=x onerror=alert(1)> *bold* [x](javascript:y) {{unsubscribe_url}}\r\nBcc: z";
        let body = prepared.personalise(evil, "https://pregon.example/u/\"><script>");
        assert!(!body.html.contains("<img"), "{}", body.html);
        assert!(!body.html.contains("<script>"), "{}", body.html);
        assert!(!body.html.contains("<em>bold</em>"), "{}", body.html);
        assert!(body.html.contains("&lt;img src=x onerror=alert(1)&gt; *bold* [x](javascript:y) {{unsubscribe_url}} Bcc: z"), "{}", body.html);
        assert!(
            body.html
                .contains("href=\"https://pregon.example/u/&quot;&gt;&lt;script&gt;\""),
            "{}",
            body.html
        );
        // Text keeps the name verbatim but on one line, and the literal
        // placeholder inside it is not expanded.
        assert!(body.text.contains("Boletín de <img src=x onerror=alert(1)> *bold* [x](javascript:y) {{unsubscribe_url}} Bcc: z\n"), "{}", body.text);
    }

    #[test]
    fn each_recipient_gets_their_own_values() {
        let prepared = PreparedNewsletter::new("t", BODY, Lang::Es, &footer());
        let a = prepared.personalise("Ana", "https://p.example/u/a");
        let b = prepared.personalise("Bea", "https://p.example/u/b");
        assert!(a.text.contains("Ana") && !a.text.contains("Bea"));
        assert!(
            b.html.contains("https://p.example/u/b") && !b.html.contains("https://p.example/u/a")
        );
    }

    #[test]
    fn names_take_their_fallback_everywhere_the_title_included() {
        let prepared = PreparedNewsletter::new(
            "Hola {{name|amiga}} <3",
            "# Hola {{ name | amiga }}\n\nQuerida {{name|vecina}}, {{name}}.\n",
            Lang::Es,
            &footer(),
        );
        let nameless = prepared.personalise("", "https://u.example/");
        let html = &nameless.html;
        assert!(html.contains("<title>Hola amiga &lt;3</title>"), "{html}");
        assert!(html.contains("<h1>Hola amiga</h1>"), "{html}");
        assert!(html.contains("<p>Querida vecina, .</p>"), "{html}");
        assert!(
            nameless
                .text
                .starts_with("Hola amiga\n==========\n\nQuerida vecina, .\n"),
            "{}",
            nameless.text
        );
        let named = prepared.personalise("Zoé <z>", "https://u.example/");
        assert!(
            named
                .html
                .contains("<title>Hola Zoé &lt;z&gt; &lt;3</title>"),
            "{}",
            named.html
        );
        assert!(
            named
                .html
                .contains("<p>Querida Zoé &lt;z&gt;, Zoé &lt;z&gt;.</p>"),
            "{}",
            named.html
        );
        assert!(
            named.text.starts_with("Hola Zoé <z>\n============\n"),
            "{}",
            named.text
        );
        for body in [&nameless, &named] {
            assert!(!leaks_token(&body.html) && !leaks_token(&body.text));
        }
        // Encoded for the wire, the same.
        let encoded = prepared.encode("", "https://u.example/");
        let decoded = String::from_utf8(crate::email::qp::decode(&encoded.html)).unwrap();
        assert_eq!(decoded, nameless.html);
        // A fallback is text, never markup.
        let evil = PreparedNewsletter::new("t", "Hi {{name|<b>x</b>}}", Lang::En, &footer());
        assert!(
            evil.personalise("", "u")
                .html
                .contains("Hi &lt;b&gt;x&lt;/b&gt;")
        );
    }

    #[test]
    fn a_subject_without_a_name_has_no_stray_space() {
        assert_eq!(
            personalise_subject("Bonjour {{name}}, voici", ""),
            "Bonjour, voici"
        );
        assert_eq!(
            personalise_subject("Hola {{name}} y bienvenida", " "),
            "Hola y bienvenida"
        );
        assert_eq!(personalise_subject("{{name}} novedades", ""), "novedades");
        assert_eq!(
            personalise_subject("Bonjour {{name|à tous}} !", ""),
            "Bonjour à tous !"
        );
        assert_eq!(
            personalise_subject("Bonjour {{name|à tous}} !", "Zoé"),
            "Bonjour Zoé !"
        );
        assert_eq!(
            unknown_placeholders("{{name|x}} {{ name | y }} {{unsubscribe_url|z}}"),
            ["unsubscribe_url|z"]
        );
    }

    #[test]
    fn placeholders() {
        assert_eq!(
            unknown_placeholders("Hi {{ name }}, {{first_name}} {{unsubscribe_url}} {{ x }} {{"),
            ["first_name", "x"]
        );
        assert_eq!(
            personalise_subject("Hola {{ name }} 🎉", "Ana\r\nBcc: x"),
            "Hola Ana Bcc: x 🎉"
        );
        assert_eq!(
            personalise_subject("{{other}} {{name", "Ana"),
            "{{other}} {{name"
        );
        let prepared = PreparedNewsletter::new("t", "Hi {{first_name}}", Lang::En, &footer());
        assert!(
            prepared
                .personalise("Ana", "https://u")
                .text
                .starts_with("Hi {{first_name}}\n")
        );
    }
}
