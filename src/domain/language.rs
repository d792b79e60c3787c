use super::macros::text_enum;
use std::collections::BTreeMap;

text_enum!(
    /// The languages UCLG works in.
    Language {
        Es => "es",
        En => "en",
        Fr => "fr",
    }
);

impl Language {
    /// When the wanted language is missing: the wanted one, then English (UCLG's
    /// working language), then Spanish (the plan's source language), then French.
    pub fn fallback_order(self) -> [Language; 4] {
        [self, Language::En, Language::Es, Language::Fr]
    }
}

/// Text of one record in several languages; never empty.
pub type Translations<T> = BTreeMap<Language, T>;

/// Picks the best available translation for `wanted`, following `fallback_order`.
pub fn pick<T>(translations: &Translations<T>, wanted: Language) -> Option<(Language, &T)> {
    wanted
        .fallback_order()
        .into_iter()
        .find_map(|lang| translations.get(&lang).map(|t| (lang, t)))
}
