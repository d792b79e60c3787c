//! The words of reminder and digest emails, from the interface catalogue
//! (`i18n/{es,en,fr}.toml`, sections `[reminder]` and `[digest]`), in the
//! recipient's language. Plain text: the message says what and when, and
//! why the reader gets it.

use crate::domain::Language;
use crate::domain::activity::{ActivityKind, ActivityStatus};
use crate::web::i18n::Tr;
use chrono::NaiveDate;

/// Fills `{name}`-style slots.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    values
        .iter()
        .fold(template.to_owned(), |text, (slot, value)| {
            text.replace(&format!("{{{slot}}}"), value)
        })
}

/// Subject and body of a reminder about an item coming up.
pub fn reminder(
    lang: Language,
    kind: ActivityKind,
    name: &str,
    title: &str,
    when: &str,
    lead_days: i64,
) -> (String, String) {
    let t = Tr::new(lang);
    let kind_name = t.t(&format!("kind.{}", kind.as_str()));
    let days = lead_days.to_string();
    let values = [
        ("name", name),
        ("title", title),
        ("when", when),
        ("kind", kind_name),
        ("days", days.as_str()),
    ];
    let subject = fill(t.t("reminder.subject"), &values);
    let body = [
        fill(t.t("reminder.greeting"), &values),
        fill(t.t("reminder.body"), &values),
        t.t("reminder.why").to_owned(),
    ]
    .join("\n\n");
    (subject, body + "\n")
}

/// Subject and body of a reminder to an approver.
pub fn approval(lang: Language, name: &str, title: &str, since: &str) -> (String, String) {
    let t = Tr::new(lang);
    let values = [("name", name), ("title", title), ("since", since)];
    let subject = fill(t.t("reminder.approval_subject"), &values);
    let body = [
        fill(t.t("reminder.greeting"), &values),
        fill(t.t("reminder.approval_body"), &values),
        t.t("reminder.approval_why").to_owned(),
    ]
    .join("\n\n");
    (subject, body + "\n")
}

/// One line of a digest.
#[derive(Debug, Clone)]
pub struct DigestItem {
    pub title: String,
    pub day: Option<NaiveDate>,
    pub status: ActivityStatus,
}

/// The digest's sections.
#[derive(Debug, Clone, Default)]
pub struct DigestSections {
    pub next_week: Vec<DigestItem>,
    pub late: Vec<DigestItem>,
    pub awaiting_approval: Vec<DigestItem>,
    pub tentative: Vec<DigestItem>,
    pub failed: Vec<DigestItem>,
}

impl DigestSections {
    pub fn is_empty(&self) -> bool {
        self.next_week.is_empty()
            && self.late.is_empty()
            && self.awaiting_approval.is_empty()
            && self.tentative.is_empty()
            && self.failed.is_empty()
    }
}

/// Subject and body of the weekly digest for the week starting `monday`.
pub fn digest(
    lang: Language,
    name: &str,
    monday: NaiveDate,
    sections: &DigestSections,
) -> (String, String) {
    let t = Tr::new(lang);
    let week = monday.format("%Y-%m-%d").to_string();
    let values = [("name", name), ("week", week.as_str())];
    let mut body = vec![
        fill(t.t("reminder.greeting"), &values),
        fill(t.t("digest.intro"), &values),
    ];
    for (key, items) in [
        ("digest.next_week", &sections.next_week),
        ("digest.late", &sections.late),
        ("digest.awaiting_approval", &sections.awaiting_approval),
        ("digest.tentative", &sections.tentative),
        ("digest.failed", &sections.failed),
    ] {
        let mut lines = vec![format!("{} ({})", t.t(key), items.len())];
        if items.is_empty() {
            lines.push(format!("- {}", t.t("digest.none")));
        }
        for item in items {
            let day = item
                .day
                .map(|d| format!("{}: ", d.format("%Y-%m-%d")))
                .unwrap_or_default();
            lines.push(format!("- {day}{}", item.title));
        }
        body.push(lines.join("\n"));
    }
    body.push(t.t("digest.why").to_owned());
    (
        fill(t.t("digest.subject"), &values),
        body.join("\n\n") + "\n",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_fills_every_slot() {
        for lang in [Language::Es, Language::En, Language::Fr] {
            let (subject, body) = reminder(
                lang,
                ActivityKind::Event,
                "Ana",
                "Congress",
                "2020-11-11",
                7,
            );
            assert!(subject.contains("Congress"), "{subject}");
            assert!(!subject.contains('{') && !body.contains('{'), "{body}");
            assert!(
                body.contains("Ana") && body.contains("2020-11-11"),
                "{body}"
            );
            let (subject, body) = approval(lang, "Ana", "Post", "2020-01-01");
            assert!(subject.contains("Post") && !body.contains('{'), "{body}");
            let monday = NaiveDate::from_ymd_opt(2020, 1, 6).unwrap();
            let (subject, body) = digest(lang, "Ana", monday, &DigestSections::default());
            assert!(
                subject.contains("2020-01-06") && !body.contains('{'),
                "{body}"
            );
            assert!(!body.contains("[?]"), "{body}");
        }
    }
}
