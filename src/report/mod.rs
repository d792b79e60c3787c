//! The plan-versus-actual progress report to the UCLG World Secretariat: a
//! typed model built from the plan's own records (`build`), and its renderers
//! (JSON, CSV, Markdown, HTML through askama templates, PDF through krilla).
//! Loading the records and the role check live in `app::reports`.

pub mod build;
mod csv;
mod html;
pub mod i18n;
mod markdown;
pub mod model;
mod pdf;
mod social;

pub use build::{Params, Records, build};
pub use model::Report;

use crate::error::{Error, Result};
use chrono::{Datelike, NaiveDate};

/// What the report is rendered as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Csv,
    Md,
    Html,
    Pdf,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Md => "text/markdown; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
            Format::Pdf => "application/pdf",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Md => "md",
            Format::Html => "html",
            Format::Pdf => "pdf",
        }
    }

    /// The format an `Accept` header asks for, first match in its order.
    pub fn from_accept(accept: &str) -> Option<Format> {
        accept.split(',').find_map(|part| {
            let mime = part.split(';').next()?.trim().to_ascii_lowercase();
            match mime.as_str() {
                "application/json" | "application/*" => Some(Format::Json),
                "text/csv" => Some(Format::Csv),
                "text/markdown" => Some(Format::Md),
                "text/html" => Some(Format::Html),
                "application/pdf" => Some(Format::Pdf),
                _ => None,
            }
        })
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Format, String> {
        match s {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "md" | "markdown" => Ok(Format::Md),
            "html" => Ok(Format::Html),
            "pdf" => Ok(Format::Pdf),
            other => Err(format!(
                "unknown format {other:?}: json, csv, md, html or pdf"
            )),
        }
    }
}

/// A period as the CLI takes it: `2020`, `2020-Q1` or `FROM..TO`
/// (`2020-01-01..2020-06-30`), inclusive.
pub fn parse_period(s: &str) -> Result<(NaiveDate, NaiveDate)> {
    let bad = || {
        Error::invalid(
            "period",
            format!("{s:?} is not a year (2020), a quarter (2020-Q1) or a range FROM..TO"),
        )
    };
    let s = s.trim();
    if let Some((from, to)) = s.split_once("..") {
        let from = NaiveDate::parse_from_str(from.trim(), "%Y-%m-%d").map_err(|_| bad())?;
        let to = NaiveDate::parse_from_str(to.trim(), "%Y-%m-%d").map_err(|_| bad())?;
        if to < from {
            return Err(Error::invalid("period", "the end is before the start"));
        }
        return Ok((from, to));
    }
    if let Some((year, q)) = s.split_once("-Q").or_else(|| s.split_once("-q")) {
        let year: i32 = year.parse().map_err(|_| bad())?;
        let q: u32 = q.parse().map_err(|_| bad())?;
        if !(1..=4).contains(&q) {
            return Err(bad());
        }
        let from = NaiveDate::from_ymd_opt(year, (q - 1) * 3 + 1, 1).ok_or_else(bad)?;
        let next = if q == 4 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(year, q * 3 + 1, 1)
        }
        .ok_or_else(bad)?;
        return Ok((from, next.pred_opt().ok_or_else(bad)?));
    }
    let year: i32 = s.parse().map_err(|_| bad())?;
    let from = NaiveDate::from_ymd_opt(year, 1, 1).ok_or_else(bad)?;
    let to = NaiveDate::from_ymd_opt(year, 12, 31).ok_or_else(bad)?;
    debug_assert_eq!(from.year(), to.year());
    Ok((from, to))
}

/// The report as bytes in `format`.
pub fn render(report: &Report, format: Format) -> Result<Vec<u8>> {
    match format {
        Format::Json => serde_json::to_vec_pretty(report)
            .map_err(|e| Error::Internal(anyhow::anyhow!("report json: {e}"))),
        Format::Csv => Ok(csv::render(report)),
        Format::Md => Ok(markdown::render(report).into_bytes()),
        Format::Html => html::render(report).map(String::into_bytes),
        Format::Pdf => pdf::render(report),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(
            parse_period("2020").unwrap(),
            (d(2020, 1, 1), d(2020, 12, 31))
        );
        assert_eq!(
            parse_period("2020-Q1").unwrap(),
            (d(2020, 1, 1), d(2020, 3, 31))
        );
        assert_eq!(
            parse_period("2020-Q4").unwrap(),
            (d(2020, 10, 1), d(2020, 12, 31))
        );
        assert_eq!(
            parse_period("2020-02-01..2020-02-29").unwrap(),
            (d(2020, 2, 1), d(2020, 2, 29))
        );
        assert!(parse_period("2020-Q5").is_err());
        assert!(parse_period("2020-03-01..2020-02-01").is_err());
        assert!(parse_period("last year").is_err());
    }

    #[test]
    fn accept_picks_the_first_known_type() {
        assert_eq!(
            Format::from_accept("text/csv, application/json"),
            Some(Format::Csv)
        );
        assert_eq!(
            Format::from_accept("application/pdf;q=0.9"),
            Some(Format::Pdf)
        );
        assert_eq!(Format::from_accept("image/png"), None);
    }
}
