use crate::config::Settings;
use crate::db::{self, Db, subscriber_csv, subscribers};
use crate::dispatch::message_domain;
use crate::domain::newsletter::{BounceInput, BounceKind};
use crate::domain::{EmailAddress, Text};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use std::io::{Read, Write};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum SubscribersCommand {
    /// Import a CSV file (`email`, optional `name`, `language` columns) into a
    /// list. Any bad row: every bad row is reported and nothing is imported.
    Import {
        /// The list's slug.
        #[arg(long)]
        list: String,
        /// Consent was obtained elsewhere: subscribe as confirmed (needs
        /// --source). Otherwise each new subscriber gets a confirmation email.
        #[arg(long)]
        confirmed: bool,
        /// How consent was obtained, recorded with each subscription.
        #[arg(long)]
        source: Option<String>,
        /// The CSV file; `-` reads standard input.
        file: PathBuf,
    },
    /// Export a list's subscriptions as CSV.
    Export {
        #[arg(long)]
        list: String,
        /// Where to write; standard output by default.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Unsubscribe an address from every list (or from --list), e.g. after a
    /// request to the List-Unsubscribe mailto address.
    Unsubscribe {
        email: String,
        #[arg(long)]
        list: Option<String>,
    },
    /// Erase a subscriber (right to erasure): the record, their subscriptions
    /// and their address in past delivery records. The history keeps only that
    /// subscriber N was erased.
    Erase { email: String },
}

#[derive(Args)]
pub struct BounceArgs {
    #[arg(required_unless_present = "message")]
    pub email: Option<String>,
    /// hard, soft, policy (recorded, suppresses nothing) or complaint.
    #[arg(long, required_unless_present = "message")]
    pub kind: Option<BounceKind>,
    #[arg(long)]
    pub reason: Option<String>,
    /// Message-ID of the bounced message, to mark its delivery.
    #[arg(long)]
    pub message_id: Option<String>,
    /// Instead: the bounce as the relay sent it (a delivery status
    /// notification or an ARF abuse report); `-` reads standard input, so an
    /// MTA alias can pipe bounces here. Anything else is refused and nothing
    /// is recorded.
    #[arg(long, conflicts_with_all = ["email", "kind", "reason", "message_id"])]
    pub message: Option<PathBuf>,
}

fn read_file_or_stdin(file: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    if file.as_os_str() == "-" {
        let mut data = Vec::new();
        std::io::stdin().read_to_end(&mut data)?;
        Ok(data)
    } else {
        std::fs::read(file).map_err(|e| anyhow::anyhow!("reading {}: {e}", file.display()))
    }
}

fn list_id(conn: &mut db::DbConnection, slug: &str) -> anyhow::Result<i64> {
    subscribers::find_list_by_slug(conn, slug)?
        .map(|l| l.id)
        .ok_or_else(|| anyhow::anyhow!("no list with slug {slug:?}"))
}

pub fn subscribers(
    command: SubscribersCommand,
    db: &Db,
    settings: &Settings,
    now: DateTime<Utc>,
    quiet: bool,
) -> anyhow::Result<()> {
    let mut conn = db.get()?;
    match command {
        SubscribersCommand::Import {
            list,
            confirmed,
            source,
            file,
        } => {
            let id = list_id(&mut conn, &list)?;
            let default_language = subscribers::get_list(&mut conn, id)?.default_language;
            let data = read_file_or_stdin(&file)?;
            let source = match (source, confirmed) {
                (Some(s), _) => format!("import:cli: {s}"),
                (None, true) => {
                    anyhow::bail!("--confirmed needs --source: say how consent was obtained")
                }
                (None, false) => format!("import:cli: {}", file.display()),
            };
            let rows = match subscriber_csv::parse(&data, default_language) {
                Ok(rows) => rows,
                Err(errors) => {
                    for e in &errors {
                        eprintln!("{}:{}: {}", file.display(), e.line, e.message);
                    }
                    anyhow::bail!("{} bad row(s); nothing was imported", errors.len());
                }
            };
            let (hours, domain) = (
                settings.email.confirm_link_hours,
                message_domain(&settings.email),
            );
            let cx = crate::app::Context::new(crate::app::Actor::System, now);
            let bar = super::progress::Bar::new("importing subscribers", "rows", quiet);
            let report = db::write_transaction(&mut conn, |c| {
                crate::app::subscribers::import_csv(
                    c, &cx, id, &rows, confirmed, &source, hours, &domain, &bar,
                )
            })?;
            bar.finish();
            println!(
                "{} rows: {} new addresses, {} subscribed, {} already subscribed, {} left unsubscribed, {} suppressed",
                report.rows,
                report.created,
                report.subscribed,
                report.already_subscribed,
                report.skipped_unsubscribed,
                report.skipped_suppressed
            );
        }
        SubscribersCommand::Export { list, output } => {
            let id = list_id(&mut conn, &list)?;
            let csv = subscriber_csv::export(&mut conn, id)?;
            match output {
                Some(path) => std::fs::write(&path, csv)?,
                None => std::io::stdout().write_all(&csv)?,
            }
        }
        SubscribersCommand::Unsubscribe { email, list } => {
            let lists = match list {
                Some(slug) => Some(vec![list_id(&mut conn, &slug)?]),
                None => None,
            };
            let Some(subscriber) = subscribers::find_subscriber_id(&mut conn, &email)? else {
                anyhow::bail!("no subscriber {email}");
            };
            let cx = crate::app::Context::new(crate::app::Actor::System, now).with_reason(Some(
                "on the subscriber's request, from the command line".into(),
            ));
            let (_, changed) = db::write_transaction(&mut conn, |c| {
                crate::app::subscribers::unsubscribe(c, &cx, subscriber, lists.as_deref())
            })?;
            println!("{email}: unsubscribed from {changed} list(s)");
        }
        SubscribersCommand::Erase { email } => {
            let Some(subscriber) = subscribers::find_subscriber_id(&mut conn, &email)? else {
                anyhow::bail!("no subscriber {email}");
            };
            let cx = crate::app::Context::new(crate::app::Actor::System, now);
            db::write_transaction(&mut conn, |c| {
                crate::app::subscribers::erase(c, &cx, subscriber)
            })?;
            println!("subscriber {subscriber} erased");
        }
    }
    Ok(())
}

pub fn bounce(args: BounceArgs, db: &Db, now: DateTime<Utc>) -> anyhow::Result<()> {
    let (inputs, ignored) = match &args.message {
        Some(file) => {
            let raw = read_file_or_stdin(file)?;
            let report = crate::email::bounce::parse(&raw)
                .map_err(|e| anyhow::anyhow!("{}: {e}; nothing recorded", file.display()))?;
            (report.bounces, report.ignored)
        }
        None => (vec![bounce_input(&args)?], Vec::new()),
    };
    let cx = crate::app::Context::new(crate::app::Actor::System, now);
    let outcomes = db::write_transaction(&mut *db.get()?, |c| {
        inputs
            .iter()
            .map(|input| crate::app::subscribers::record_bounce(c, &cx, input))
            .collect::<crate::Result<Vec<_>>>()
    })?;
    for outcome in outcomes {
        println!(
            "{}: {} recorded; {}",
            outcome.email,
            outcome.kind,
            match (outcome.known_subscriber, outcome.suppressed) {
                (false, _) => "no subscriber has this address",
                (true, true) => "the address receives nothing more",
                (true, false) => "the address still receives mail (soft bounce)",
            }
        );
    }
    for line in ignored {
        println!("{line}: not a bounce, nothing recorded");
    }
    Ok(())
}

fn bounce_input(args: &BounceArgs) -> anyhow::Result<BounceInput> {
    let (Some(email), Some(kind)) = (&args.email, args.kind) else {
        anyhow::bail!("give EMAIL and --kind, or --message");
    };
    Ok(BounceInput {
        email: EmailAddress::parse(email).map_err(anyhow::Error::msg)?,
        kind,
        reason: args
            .reason
            .as_deref()
            .map(Text::parse)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--reason {e}"))?,
        message_id: args
            .message_id
            .as_deref()
            .map(Text::parse)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--message-id {e}"))?,
    })
}
