//! How long a post is, as each network counts it, and Bluesky's facets.
//!
//! Mastodon (`StatusLengthValidator`): grapheme clusters of the text plus
//! the content warning, every URL counted as the instance's
//! `characters_reserved_per_url`, a mention `@user@domain` counted as
//! `@user`. Bluesky: at most 300 grapheme clusters and 3,000 bytes of
//! UTF-8; links, mentions and hashtags are facets whose offsets are UTF-8
//! byte offsets into the text.

use unicode_segmentation::UnicodeSegmentation;

/// One piece of a post's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token<'a> {
    Text(&'a str),
    Url(&'a str),
    /// `@user` or `@user@domain` (Mastodon) / `@handle.domain` (Bluesky),
    /// without the leading `@`.
    Mention(&'a str),
    /// Without the leading `#`.
    Tag(&'a str),
}

/// Characters that end a URL, mention or tag when they come last.
fn trailing_punctuation(c: char) -> bool {
    matches!(
        c,
        '.' | ',' | ';' | ':' | '!' | '?' | ')' | '"' | '\'' | '»' | '…'
    )
}

/// Splits `text` into runs of plain text, URLs, mentions and hashtags,
/// with byte offsets (start, token).
pub fn tokens(text: &str) -> Vec<(usize, Token<'_>)> {
    let mut out = Vec::new();
    let mut plain_start = 0;
    let mut i = 0;
    let bytes = text.as_bytes();
    while i < text.len() {
        let at_word_start = i == 0
            || text[..i]
                .chars()
                .next_back()
                .is_some_and(char::is_whitespace);
        let rest = &text[i..];
        let special = if at_word_start {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let mut word = &rest[..end];
            while let Some(c) = word.chars().next_back() {
                if trailing_punctuation(c) {
                    word = &word[..word.len() - c.len_utf8()];
                } else {
                    break;
                }
            }
            if (word.starts_with("https://") || word.starts_with("http://"))
                && word.len() > word.find("://").unwrap_or(0) + 3
            {
                Some(Token::Url(word))
            } else if word.len() > 1
                && word.starts_with('@')
                && word[1..]
                    .chars()
                    .all(|c| c.is_alphanumeric() || "_.-@".contains(c))
                && !word[1..].starts_with('@')
            {
                Some(Token::Mention(&word[1..]))
            } else if word.len() > 1
                && word.starts_with('#')
                && word[1..].chars().all(|c| c.is_alphanumeric() || c == '_')
                && !word[1..].chars().all(|c| c.is_ascii_digit())
            {
                Some(Token::Tag(&word[1..]))
            } else {
                None
            }
        } else {
            None
        };
        match special {
            Some(token) => {
                if plain_start < i {
                    out.push((plain_start, Token::Text(&text[plain_start..i])));
                }
                let len = match token {
                    Token::Url(w) => w.len(),
                    Token::Mention(w) | Token::Tag(w) => w.len() + 1,
                    Token::Text(w) => w.len(),
                };
                out.push((i, token));
                i += len;
                plain_start = i;
            }
            None => {
                // Next character.
                i += 1;
                while i < text.len() && (bytes[i] & 0xC0) == 0x80 {
                    i += 1;
                }
            }
        }
    }
    if plain_start < text.len() {
        out.push((plain_start, Token::Text(&text[plain_start..])));
    }
    out
}

pub fn graphemes(text: &str) -> usize {
    text.graphemes(true).count()
}

/// A post's length as Mastodon counts it.
pub fn mastodon_length(text: &str, content_warning: &str, reserved_per_url: usize) -> usize {
    let body: usize = tokens(text)
        .into_iter()
        .map(|(_, token)| match token {
            Token::Url(_) => reserved_per_url,
            Token::Mention(m) => 1 + graphemes(m.split('@').next().unwrap_or(m)),
            Token::Tag(t) => 1 + graphemes(t),
            Token::Text(t) => graphemes(t),
        })
        .sum();
    body + graphemes(content_warning)
}

/// Bluesky's limits on a post's text.
pub const BLUESKY_MAX_GRAPHEMES: usize = 300;
pub const BLUESKY_MAX_BYTES: usize = 3000;
pub const BLUESKY_MAX_LANGS: usize = 3;

/// A facet before mentions are resolved to DIDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facet {
    pub byte_start: usize,
    pub byte_end: usize,
    pub feature: Feature,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feature {
    Link(String),
    /// The handle (without `@`); its DID is looked up when publishing.
    Mention(String),
    Tag(String),
}

/// The links, mentions (of handles with a dot) and hashtags of a Bluesky
/// post, with UTF-8 byte offsets.
pub fn bluesky_facets(text: &str) -> Vec<Facet> {
    tokens(text)
        .into_iter()
        .filter_map(|(start, token)| match token {
            Token::Url(u) => Some(Facet {
                byte_start: start,
                byte_end: start + u.len(),
                feature: Feature::Link(u.to_owned()),
            }),
            Token::Mention(m) if m.contains('.') && !m.contains('@') => Some(Facet {
                byte_start: start,
                byte_end: start + m.len() + 1,
                feature: Feature::Mention(m.to_owned()),
            }),
            Token::Tag(t) => Some(Facet {
                byte_start: start,
                byte_end: start + t.len() + 1,
                feature: Feature::Tag(t.to_owned()),
            }),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grapheme_clusters_count_emoji_sequences_and_flags_once() {
        // Family (ZWJ sequence), flag, skin tone, combining accent.
        assert_eq!(graphemes("👨‍👩‍👧‍👦"), 1);
        assert_eq!(graphemes("🇪🇸🇫🇷"), 2);
        assert_eq!(graphemes("👍🏽"), 1);
        assert_eq!(graphemes("e\u{301}"), 1);
        assert_eq!(graphemes("Málaga 日本語"), 10);
    }

    #[test]
    fn mastodon_counts_urls_as_reserved_and_mentions_without_domain() {
        let text = "Hola @ana@mastodon.social mira https://example.org/a/very/long/path?x=1.";
        // "Hola " 5 + "@ana" 4 + " mira " 6 + 23 + "." 1
        assert_eq!(mastodon_length(text, "", 23), 39);
        assert_eq!(mastodon_length(text, "CW: ñ", 23), 44);
        assert_eq!(mastodon_length("🇪🇸 👨‍👩‍👧 日本", "", 23), 6);
        // Not a URL without a host.
        assert_eq!(mastodon_length("https://", "", 23), 8);
    }

    #[test]
    fn bluesky_facets_use_utf8_byte_offsets() {
        let text = "Café ☕ en Málaga: https://pregon.example/es #Pregón con @ana.bsky.social 👨‍👩‍👧!";
        let facets = bluesky_facets(text);
        assert_eq!(facets.len(), 3);
        for f in &facets {
            let slice = &text.as_bytes()[f.byte_start..f.byte_end];
            let s = std::str::from_utf8(slice).unwrap();
            match &f.feature {
                Feature::Link(u) => assert_eq!(s, u),
                Feature::Tag(t) => assert_eq!(s, format!("#{t}")),
                Feature::Mention(m) => assert_eq!(s, format!("@{m}")),
            }
        }
        // "Café ☕ en Málaga: " is 18 characters but 22 bytes.
        assert_eq!(facets[0].byte_start, 22);
        assert_eq!(facets[1].feature, Feature::Tag("Pregón".into()));
    }
}
