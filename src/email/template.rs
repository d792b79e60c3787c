//! A rendered newsletter part cut at its per-recipient values, so that
//! personalising is concatenation: the fixed text is kept both as text (for
//! previews) and already quoted-printable encoded (for sending), and only
//! the recipient's name and unsubscribe link are encoded per message.
//!
//! Each `{{name|fallback}}` is its own gap with its own fallback: a recipient
//! whose name is empty gets the fallback there (and nothing where there is
//! none).

use super::qp;

/// What fills the gaps: for HTML the values are already escaped.
pub struct Values<'a> {
    pub name: &'a str,
    pub unsubscribe_url: &'a str,
    /// The personalised subject, for the HTML `<title>`.
    pub title: &'a str,
}

#[derive(Debug, Clone)]
enum Piece {
    Fixed {
        text: String,
        encoded: Vec<u8>,
    },
    /// The index of the name gap's fallback in `Template::fallbacks`.
    Name(usize),
    UnsubscribeUrl,
    Title,
    /// A heading underline as long as the line above it, which may hold
    /// values (the plain-text part underlines headings).
    Rule {
        ch: char,
        width: Width,
    },
}

/// The width of a line in characters: fixed part plus values.
#[derive(Debug, Clone, Default)]
struct Width {
    fixed: usize,
    /// The name gaps on the line, by fallback.
    names: Vec<usize>,
    urls: usize,
}

impl Width {
    fn with(&self, values: &Values, fallbacks: &[String]) -> usize {
        let names: usize = self
            .names
            .iter()
            .map(|i| name_or_fallback(values, fallbacks, *i).chars().count())
            .sum();
        let width = self.fixed + names + self.urls * values.unsubscribe_url.chars().count();
        width.max(3)
    }
}

fn name_or_fallback<'a>(values: &Values<'a>, fallbacks: &'a [String], i: usize) -> &'a str {
    if values.name.trim().is_empty() {
        fallbacks.get(i).map(String::as_str).unwrap_or("")
    } else {
        values.name
    }
}

/// The tokens `PreparedNewsletter` put where values and rules go.
pub struct Tokens<'a> {
    /// One token per name gap kind, with its fallback as this part takes it
    /// (escaped for HTML); no token is a prefix of another.
    pub names: &'a [(String, String)],
    pub unsubscribe_url: &'a str,
    /// Where the personalised subject goes (the HTML title), if anywhere.
    pub title: Option<&'a str>,
    /// A line consisting of this token and one character is an underline.
    pub rule: Option<&'a str>,
}

#[derive(Debug, Clone)]
pub struct Template {
    pieces: Vec<Piece>,
    fallbacks: Vec<String>,
}

impl Template {
    pub fn compile(text: &str, tokens: &Tokens) -> Template {
        let mut pieces = Vec::new();
        let mut fixed = String::new();
        let mut previous = Width::default();
        for line in text.split_inclusive('\n') {
            let content = line.trim_end_matches('\n');
            if let Some(rest) = tokens.rule.and_then(|rule| content.strip_prefix(rule)) {
                flush(&mut fixed, &mut pieces);
                pieces.push(Piece::Rule {
                    ch: rest.chars().next().unwrap_or('-'),
                    width: previous.clone(),
                });
                fixed.push_str(&line[content.len()..]);
                continue;
            }
            let mut width = Width::default();
            let mut rest = content;
            loop {
                let names = tokens
                    .names
                    .iter()
                    .enumerate()
                    .filter_map(|(i, (token, _))| {
                        rest.find(token.as_str())
                            .map(|at| (at, token.as_str(), Piece::Name(i)))
                    });
                let url = rest
                    .find(tokens.unsubscribe_url)
                    .map(|at| (at, tokens.unsubscribe_url, Piece::UnsubscribeUrl));
                let title = tokens
                    .title
                    .and_then(|t| rest.find(t).map(|at| (at, t, Piece::Title)));
                let Some((at, token, piece)) = names.chain(url).chain(title).min_by_key(|n| n.0)
                else {
                    break;
                };
                fixed.push_str(&rest[..at]);
                width.fixed += rest[..at].chars().count();
                match piece {
                    Piece::Name(i) => width.names.push(i),
                    Piece::Title => {}
                    _ => width.urls += 1,
                }
                flush(&mut fixed, &mut pieces);
                pieces.push(piece);
                rest = &rest[at + token.len()..];
            }
            width.fixed += rest.chars().count();
            fixed.push_str(&line[content.len() - rest.len()..]);
            previous = width;
        }
        flush(&mut fixed, &mut pieces);
        Template {
            pieces,
            fallbacks: tokens.names.iter().map(|(_, f)| f.clone()).collect(),
        }
    }

    /// The text as the recipient reads it.
    pub fn render(&self, values: &Values) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Fixed { text, .. } => out.push_str(text),
                Piece::Name(i) => out.push_str(name_or_fallback(values, &self.fallbacks, *i)),
                Piece::UnsubscribeUrl => out.push_str(values.unsubscribe_url),
                Piece::Title => out.push_str(values.title),
                Piece::Rule { ch, width } => out.extend(std::iter::repeat_n(
                    *ch,
                    width.with(values, &self.fallbacks),
                )),
            }
        }
        out
    }

    /// The same text quoted-printable encoded, ready to send.
    pub fn encode(&self, values: &Values) -> Vec<u8> {
        let fixed: usize = self
            .pieces
            .iter()
            .map(|p| match p {
                Piece::Fixed { encoded, .. } => encoded.len(),
                _ => 0,
            })
            .sum();
        let mut out = Vec::with_capacity(fixed + 512);
        for piece in &self.pieces {
            match piece {
                Piece::Fixed { encoded, .. } => out.extend_from_slice(encoded),
                Piece::Name(i) => {
                    qp::encode_fragment(name_or_fallback(values, &self.fallbacks, *i), &mut out)
                }
                Piece::UnsubscribeUrl => qp::encode_fragment(values.unsubscribe_url, &mut out),
                Piece::Title => qp::encode_fragment(values.title, &mut out),
                Piece::Rule { ch, width } => {
                    let rule: String =
                        std::iter::repeat_n(*ch, width.with(values, &self.fallbacks)).collect();
                    qp::encode_fragment(&rule, &mut out);
                }
            }
        }
        qp::finish(out)
    }
}

fn flush(fixed: &mut String, pieces: &mut Vec<Piece>) {
    if fixed.is_empty() {
        return;
    }
    let text = std::mem::take(fixed);
    let mut encoded = Vec::new();
    qp::encode_fragment(&text, &mut encoded);
    pieces.push(Piece::Fixed { text, encoded });
}
