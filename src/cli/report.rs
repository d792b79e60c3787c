//! `pregon report`: the progress report of a plan, to a file or stdout.

use crate::app;
use crate::db::Db;
use crate::domain::Language;
use crate::report::{self, Format};
use chrono::{DateTime, Utc};
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct ReportArgs {
    /// Slug of the plan.
    #[arg(long)]
    plan: String,
    /// A year (2020), a quarter (2020-Q1) or a range FROM..TO
    /// (2020-01-01..2020-06-30), inclusive.
    #[arg(long)]
    period: String,
    /// html, pdf, csv, json or md.
    #[arg(long, default_value = "html")]
    format: Format,
    /// Language of the report.
    #[arg(long, default_value = "en")]
    lang: Language,
    /// Only this campaign (slug).
    #[arg(long)]
    campaign: Option<String>,
    /// Write here instead of to standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn run(args: ReportArgs, db: &Db, now: DateTime<Utc>, quiet: bool) -> anyhow::Result<()> {
    let bar = super::progress::Bar::new("building the report", "items", quiet);
    let (from, to) = report::parse_period(&args.period)?;
    let request = app::reports::Request {
        plan: args.plan,
        from,
        to,
        campaign: args.campaign,
        lang: args.lang,
    };
    // The command line runs with the database's own rights, as the service does.
    let built = app::reports::progress(&mut *db.get()?, &app::Actor::System, now, &request)?;
    bar.message("rendering the report".into());
    let bytes = report::render(&built, args.format)?;
    bar.finish();
    match args.output {
        Some(path) => {
            std::fs::write(&path, &bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => std::io::stdout().write_all(&bytes)?,
    }
    Ok(())
}
