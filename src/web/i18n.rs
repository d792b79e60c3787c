//! The interface's message catalogue: one TOML file per language under
//! `i18n/` (compiled in), sections flattened to dotted keys (`nav.agenda`).
//! A unit test checks every language has every key, and that every key the
//! templates and pages use exists.

use crate::domain::Language;
use actix_web::HttpRequest;
use actix_web::http::header;
use std::collections::HashMap;
use std::sync::OnceLock;

const SOURCES: [(Language, &str); 3] = [
    (Language::Es, include_str!("../../i18n/es.toml")),
    (Language::En, include_str!("../../i18n/en.toml")),
    (Language::Fr, include_str!("../../i18n/fr.toml")),
];

/// The cookie the language switch sets.
pub const LANG_COOKIE: &str = "pregon_lang";

type Catalogue = HashMap<String, String>;

fn flatten(prefix: &str, table: &toml::Table, out: &mut Catalogue) {
    for (key, value) in table {
        let full = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(t) => flatten(&full, t, out),
            toml::Value::String(s) => {
                out.insert(full, s.clone());
            }
            other => {
                out.insert(full, other.to_string());
            }
        }
    }
}

fn catalogues() -> &'static HashMap<Language, Catalogue> {
    static ALL: OnceLock<HashMap<Language, Catalogue>> = OnceLock::new();
    ALL.get_or_init(|| {
        SOURCES
            .iter()
            .map(|(lang, text)| {
                let table: toml::Table = text
                    .parse()
                    .unwrap_or_else(|e| panic!("i18n/{lang}.toml does not parse: {e}"));
                let mut out = Catalogue::new();
                flatten("", &table, &mut out);
                (*lang, out)
            })
            .collect()
    })
}

/// The strings of one language, as templates use them: `t.t("nav.agenda")`.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    pub lang: Language,
}

impl Tr {
    pub fn new(lang: Language) -> Tr {
        Tr { lang }
    }

    /// The message `key`; the English one if this language lacks it (a test
    /// makes sure none does), a visible marker if no language has it.
    pub fn t(&self, key: &str) -> &'static str {
        let all = catalogues();
        all.get(&self.lang)
            .and_then(|c| c.get(key))
            .or_else(|| all.get(&Language::En).and_then(|c| c.get(key)))
            .map(|s| s.as_str())
            .unwrap_or("[?]")
    }

    /// The message `key` with `{name}` placeholders filled in, in one pass:
    /// a value is never read for placeholders itself (a title may hold
    /// `{day}`), and a placeholder with no value is left as it is. Each date
    /// a calendar page shows goes through here.
    pub fn f(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut rest = self.t(key);
        let mut text = String::with_capacity(rest.len() + 32);
        while let Some(open) = rest.find('{') {
            text.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let filled = after.find('}').and_then(|close| {
                let name = &after[..close];
                args.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, value)| (close, *value))
            });
            match filled {
                Some((close, value)) => {
                    text.push_str(value);
                    rest = &after[close + 1..];
                }
                None => {
                    text.push('{');
                    rest = after;
                }
            }
        }
        text.push_str(rest);
        text
    }

    pub fn code(&self) -> &'static str {
        self.lang.as_str()
    }
}

/// The language a page is shown in: the switch (`?lang=`, then its cookie),
/// else the account's preference, else the browser's Accept-Language, else
/// English. Returns the cookie to set when the switch was used.
pub fn choose(req: &HttpRequest, account: Option<Language>) -> (Language, Option<String>) {
    let from_query = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "lang")
        .and_then(|(_, v)| v.parse::<Language>().ok());
    if let Some(lang) = from_query {
        return (
            lang,
            Some(format!(
                "{LANG_COOKIE}={lang}; Path=/; Max-Age=31536000; SameSite=Lax"
            )),
        );
    }
    if let Some(lang) =
        super::csrf::cookie(req.headers(), LANG_COOKIE).and_then(|v| v.parse::<Language>().ok())
    {
        return (lang, None);
    }
    if let Some(lang) = account {
        return (lang, None);
    }
    (accept_language(req.headers()).unwrap_or(Language::En), None)
}

/// The best of es, en, fr the browser asks for (RFC 9110 §12.5.4 weights).
pub fn accept_language(headers: &header::HeaderMap) -> Option<Language> {
    let value = headers.get(header::ACCEPT_LANGUAGE)?.to_str().ok()?;
    let mut best: Option<(f32, Language)> = None;
    for part in value.split(',') {
        let mut pieces = part.trim().split(';');
        let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = pieces
            .find_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
            })
            .unwrap_or(1.0);
        let primary = tag.split('-').next().unwrap_or("");
        if let Ok(lang) = primary.parse::<Language>()
            && q > 0.0
            && best.is_none_or(|(bq, _)| q > bq)
        {
            best = Some((q, lang));
        }
    }
    best.map(|(_, l)| l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn placeholders_are_filled_once_and_values_are_not_read_for_more() {
        let tr = Tr::new(Language::Es);
        assert_eq!(
            tr.f("rrule.nth", &[("nth", "{day}"), ("day", "lunes")]),
            "{day} lunes"
        );
        assert_eq!(tr.f("rrule.nth", &[("day", "lunes")]), "{nth} lunes");
        assert_eq!(
            Tr::new(Language::Fr).f(
                "format.date",
                &[
                    ("weekday", "mardi"),
                    ("day", "3"),
                    ("month", "mars"),
                    ("year", "2020")
                ]
            ),
            "mardi 3 mars 2020"
        );
    }

    #[test]
    fn every_language_has_every_key() {
        let all = catalogues();
        let keys: BTreeSet<&String> = all.values().flat_map(|c| c.keys()).collect();
        for (lang, catalogue) in all {
            let missing: Vec<&&String> = keys
                .iter()
                .filter(|k| !catalogue.contains_key(**k))
                .collect();
            assert!(missing.is_empty(), "i18n/{lang}.toml lacks {missing:?}");
            let empty: Vec<&String> = catalogue
                .iter()
                .filter(|(_, v)| v.trim().is_empty())
                .map(|(k, _)| k)
                .collect();
            assert!(empty.is_empty(), "i18n/{lang}.toml has empty {empty:?}");
        }
        assert!(keys.len() > 50, "only {} keys", keys.len());
    }

    /// Keys written literally as the first argument of `t.t`, `t.f`, `tr.t`
    /// or `tr.f` in templates and pages.
    fn used_keys() -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for dir in ["templates", "src/web"] {
            let mut stack = vec![root.join(dir)];
            while let Some(d) = stack.pop() {
                for entry in std::fs::read_dir(&d).unwrap().flatten() {
                    let p = entry.path();
                    if p.is_dir() {
                        stack.push(p);
                    } else {
                        files.push(p);
                    }
                }
            }
        }
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for marker in ["t.t(\"", "t.f(\"", "tr.t(\"", "tr.f(\""] {
                for (i, _) in text.match_indices(marker) {
                    let rest = &text[i + marker.len()..];
                    if let Some(end) = rest.find('"') {
                        let key = &rest[..end];
                        // Keys built at run time (`"kind."` + …) are checked below.
                        if !key.ends_with('.') && !key.is_empty() && !key.contains('{') {
                            found.insert(key.to_owned());
                        }
                    }
                }
            }
        }
        found
    }

    #[test]
    fn every_key_the_pages_use_exists() {
        let en = &catalogues()[&Language::En];
        let used = used_keys();
        assert!(used.len() > 30, "found only {} keys in use", used.len());
        let missing: Vec<&String> = used.iter().filter(|k| !en.contains_key(*k)).collect();
        assert!(
            missing.is_empty(),
            "keys used but not in i18n/*.toml: {missing:?}"
        );
        // Keys built from enums.
        use crate::domain::activity::{ActivityKind, ActivityStatus, ParticipantRole, PartnerRole};
        for k in ActivityKind::ALL {
            assert!(en.contains_key(&format!("kind.{k}")), "kind.{k}");
        }
        for s in ActivityStatus::ALL {
            assert!(en.contains_key(&format!("status.{s}")), "status.{s}");
        }
        for r in ParticipantRole::ALL {
            assert!(en.contains_key(&format!("participant_role.{r}")), "{r}");
        }
        for r in PartnerRole::ALL {
            assert!(en.contains_key(&format!("partner_role.{r}")), "{r}");
        }
        for r in crate::domain::review::ReviewState::ALL {
            assert!(en.contains_key(&format!("review.state.{r}")), "{r}");
        }
        for r in crate::domain::Role::ALL {
            assert!(en.contains_key(&format!("role.{r}")), "role.{r}");
        }
        // Keys the date and recurrence formatting builds.
        let built = (1..=12)
            .map(|m| format!("month.{m}"))
            .chain(
                ["mo", "tu", "we", "th", "fr", "sa", "su"]
                    .iter()
                    .map(|d| format!("weekday.{d}")),
            )
            .chain(
                ["1", "2", "3", "4", "5", "-1", "-2"]
                    .iter()
                    .map(|n| format!("ordinal.{n}")),
            )
            .chain(
                ["daily", "weekly", "monthly", "yearly"]
                    .iter()
                    .flat_map(|u| [format!("rrule.every.{u}"), format!("rrule.every_n.{u}")]),
            )
            .chain(
                [
                    "format.date",
                    "format.month",
                    "format.your_time",
                    "timing.sometime_in",
                    "rrule.nth",
                    "feeds.rotated",
                    "sign_in.wrong",
                    "sign_in.too_many",
                ]
                .iter()
                .map(|k| k.to_string()),
            );
        for key in built {
            assert!(en.contains_key(&key), "{key}");
        }
    }

    #[test]
    fn accept_language_takes_the_heaviest_known_language() {
        let mut h = header::HeaderMap::new();
        h.insert(
            header::ACCEPT_LANGUAGE,
            header::HeaderValue::from_static("de-DE, fr;q=0.8, es-ES;q=0.9"),
        );
        assert_eq!(accept_language(&h), Some(Language::Es));
        h.insert(
            header::ACCEPT_LANGUAGE,
            header::HeaderValue::from_static("de, it"),
        );
        assert_eq!(accept_language(&h), None);
    }
}
