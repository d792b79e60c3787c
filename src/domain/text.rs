use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// A URL-safe identifier: lowercase ASCII letters, digits and inner hyphens, 1–64 long.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Slug(String);

impl Slug {
    pub fn parse(s: &str) -> Result<Slug, String> {
        let valid = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if valid {
            Ok(Slug(s.to_owned()))
        } else {
            Err(format!(
                "{s:?} is not a slug: use 1-64 lowercase letters, digits and inner hyphens"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Slug {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Slug::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Slug {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"))
            .min_length(Some(1))
            .max_length(Some(64))
            .into()
    }
}
impl utoipa::ToSchema for Slug {}

/// Human text: trimmed, not empty, at most `MAX` characters, and free of control
/// characters other than newline and tab (they would corrupt feeds and headers).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Text<const MAX: usize = 10000>(String);

pub type Title = Text<300>;
pub type Name = Text<200>;

impl<const MAX: usize> Text<MAX> {
    pub fn parse(s: &str) -> Result<Self, String> {
        let trimmed = s.trim();
        if trimmed.is_empty() {
            return Err("must not be empty".into());
        }
        let chars = trimmed.chars().count();
        if chars > MAX {
            return Err(format!("is {chars} characters long; the limit is {MAX}"));
        }
        if let Some(c) = trimmed
            .chars()
            .find(|c| c.is_control() && *c != '\n' && *c != '\t' && *c != '\r')
        {
            return Err(format!("contains the control character U+{:04X}", c as u32));
        }
        Ok(Text(trimmed.replace("\r\n", "\n").replace('\r', "\n")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl<const MAX: usize> fmt::Display for Text<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de, const MAX: usize> Deserialize<'de> for Text<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Text::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl<const MAX: usize> utoipa::PartialSchema for Text<MAX> {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .min_length(Some(1))
            .max_length(Some(MAX))
            .into()
    }
}
/// One component per limit (`Text300` for a title, `Text200` for a name), so
/// the document states each field's own limit rather than one shared one.
impl<const MAX: usize> utoipa::ToSchema for Text<MAX> {
    fn name() -> std::borrow::Cow<'static, str> {
        format!("Text{MAX}").into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_rules() {
        assert!(Slug::parse("smart-cities-2020").is_ok());
        for bad in ["", "-a", "a-", "Upper", "spa ce", "ñ", &"a".repeat(65)] {
            assert!(Slug::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn text_is_trimmed_bounded_and_clean() {
        assert_eq!(Title::parse("  Málaga 🎉 ").unwrap().as_str(), "Málaga 🎉");
        assert!(Title::parse("   ").is_err());
        assert!(Title::parse(&"x".repeat(301)).is_err());
        assert!(Title::parse(&"é".repeat(300)).is_ok());
        assert!(Title::parse("bell\u{7}").is_err());
        assert_eq!(Text::<10>::parse("a\r\nb").unwrap().as_str(), "a\nb");
    }
}

/// An absolute http(s) URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct WebUrl(String);

impl WebUrl {
    pub const MAX: usize = 2000;

    pub fn parse(s: &str) -> Result<WebUrl, String> {
        let parsed = url::Url::parse(s.trim()).map_err(|e| format!("{s:?} is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(format!("{s:?} must be an http or https URL"));
        }
        if s.chars().count() > WebUrl::MAX {
            return Err(format!("URL is longer than {} characters", WebUrl::MAX));
        }
        Ok(WebUrl(parsed.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for WebUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        WebUrl::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for WebUrl {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::Custom("uri".into())))
            .max_length(Some(WebUrl::MAX))
            .into()
    }
}
impl utoipa::ToSchema for WebUrl {}

/// An email address as lettre accepts it for sending.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// RFC 5321's limit on a forward path, less its angle brackets.
    pub const MAX: usize = 254;

    pub fn parse(s: &str) -> Result<EmailAddress, String> {
        let trimmed = s.trim();
        if trimmed.chars().count() > EmailAddress::MAX {
            return Err(format!(
                "email address is longer than {} characters",
                EmailAddress::MAX
            ));
        }
        trimmed
            .parse::<lettre::Address>()
            .map(|a| EmailAddress(a.to_string()))
            .map_err(|_| format!("{s:?} is not a valid email address"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for EmailAddress {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        EmailAddress::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for EmailAddress {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Email,
            )))
            .max_length(Some(EmailAddress::MAX))
            .into()
    }
}
impl utoipa::ToSchema for EmailAddress {}
