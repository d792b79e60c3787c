//! The `pregon` command: `serve`, `dispatch`, `migrate`, `seed`, `token`,
//! `subscribers`, `bounce`, `inbound`. Every subcommand takes `--config DIR` and
//! `--database URL`.

mod backup;
mod healthcheck;
mod jobs;
mod newsletter;
mod progress;
mod report;
mod token;
mod user;

use crate::app::imports::{self as ingest, Destination};
use crate::calendar::import::{ImportLimits, Strictness, parse_calendar_with};
use crate::clock::Clock;
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Settings, redact_url};
use crate::db::{self, Db};
use crate::dispatch::{self, Dispatcher};
use crate::domain::Language;
use crate::http::Application;
use crate::{app, seed, telemetry};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "pregon",
    version,
    about = "Runs an institution's communication plan"
)]
pub struct Cli {
    /// Directory with <PREGON_ENV>.toml overrides (default: ./config).
    #[arg(long, global = true, value_name = "DIR")]
    config: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://… (overrides configuration).
    #[arg(long, global = true, value_name = "URL")]
    database: Option<String>,
    /// Draw no progress bars (they are drawn on a terminal only, on stderr).
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (migrates, and seeds an empty database).
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080.
        #[arg(long, value_name = "ADDR")]
        bind: Option<String>,
        /// Serve HTTP only; run `pregon dispatch` elsewhere to send email.
        #[arg(long)]
        no_dispatcher: bool,
    },
    /// Send email only (no HTTP): scheduled issues, newsletters, confirmations,
    /// invitations. Any number may run on one PostgreSQL database.
    Dispatch {
        /// Exit once nothing is queued, retrying or scheduled.
        #[arg(long)]
        exit_when_idle: bool,
    },
    /// Import, export and unsubscribe newsletter subscribers.
    #[command(subcommand)]
    Subscribers(newsletter::SubscribersCommand),
    /// Record a bounce or complaint; hard bounces and complaints stop every
    /// future send to the address.
    Bounce(newsletter::BounceArgs),
    /// Apply pending database migrations.
    Migrate {
        /// Revert every migration instead (drops all Pregón tables).
        #[arg(long)]
        revert_all: bool,
    },
    /// Load the default 2020 plan; does nothing if it is already there.
    Seed,
    /// Create, list and revoke API tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// The change history.
    #[command(subcommand)]
    History(HistoryCommand),
    /// Create, list, disable and change the role of people's accounts.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Write a consistent copy of the database to FILE while the service runs
    /// (SQLite: VACUUM INTO; PostgreSQL: pg_dump --format=custom).
    Backup { file: PathBuf },
    /// Replace the database with a backup made by `pregon backup`; refuses a
    /// database that holds data unless --force (stop the service first).
    Restore {
        file: PathBuf,
        /// Replace a database that already holds Pregón tables.
        #[arg(long)]
        force: bool,
    },
    /// Exit 0 when the service answers /readyz (for container health checks).
    Healthcheck {
        /// Base URL of the service (default: http://<server.bind>).
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
    /// The progress report of a plan for a period (plan versus actual).
    Report(report::ReportArgs),
    /// The inbound mailbox (`[inbound]`): bounces, complaints and
    /// invitation replies read over IMAP.
    #[command(subcommand)]
    Inbound(InboundCommand),
    /// Import a partner's .ics file as external activities (matched by UID).
    ImportIcs {
        /// The .ics file.
        file: PathBuf,
        /// Slug of the partner organisation whose calendar it is.
        #[arg(long)]
        organisation: String,
        /// Slug of the plan to import into (default: the first plan).
        #[arg(long)]
        plan: Option<String>,
        /// Language of the partner's texts.
        #[arg(long, default_value = "en")]
        lang: Language,
        /// Visibility of the imported activities: internal (the default), or
        /// public to republish the partner's events in the public feed.
        #[arg(long, default_value = "internal")]
        visibility: crate::domain::activity::Visibility,
        /// Refuse the whole file if any event cannot be imported (by default
        /// such an event is skipped and reported, and the others import).
        #[arg(long)]
        strict: bool,
    },
}

#[derive(Subcommand)]
enum InboundCommand {
    /// Read the new messages once, handle each, and print what they were.
    Fetch,
    /// The messages read most recently and what became of each.
    List {
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
}

#[derive(Subcommand)]
enum HistoryCommand {
    /// Recompute the hash chain; report the first entry that was changed or
    /// removed (exit 1), or that it holds.
    Verify,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn settings(cli: &Cli) -> anyhow::Result<Settings> {
    let mut settings = Settings::load(cli.config.as_deref())?;
    if let Some(url) = &cli.database {
        settings.database.url = url.clone();
    }
    Ok(settings)
}

/// Connects and brings the schema up to date.
pub fn open_database(settings: &Settings) -> anyhow::Result<Db> {
    let db = Db::connect(&settings.database.url, settings.database.pool_size)?;
    let applied = db::run_migrations(&mut *db.get()?)?;
    for name in applied {
        tracing::info!(migration = %name, "applied migration");
    }
    // Activities and issues from before reviews existed stand approved.
    let cx = app::Context::new(app::Actor::System, SystemClock.now());
    let backfilled = db::write_transaction(&mut *db.get()?, |c| app::reviews::backfill(c, &cx))?;
    if backfilled > 0 {
        tracing::info!(
            records = backfilled,
            "took existing activities and issues as approved"
        );
    }
    Ok(db)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = settings(&cli)?;
    telemetry::init(&settings.log);
    crate::domain::recurrence::set_max_occurrences_per_day(
        settings.calendar.max_occurrences_per_day,
    );
    if !matches!(cli.command, Command::Serve { .. })
        && settings.server.public_url.trim().is_empty()
        && let Ok(addr) = settings.server.bind.parse::<std::net::SocketAddr>()
    {
        // Commands that do not listen (dispatch, subscribers) still write links:
        // they point where `serve` listens with this configuration.
        settings.server.public_url = settings.server.effective_public_url(addr);
    }
    let clock: SharedClock = Arc::new(SystemClock);
    let quiet = cli.quiet;
    match cli.command {
        Command::Serve {
            bind,
            no_dispatcher,
        } => {
            if let Some(bind) = bind {
                settings.server.bind = bind;
            }
            serve(settings, clock, !no_dispatcher)
        }
        Command::Dispatch { exit_when_idle } => dispatch(settings, clock, exit_when_idle, quiet),
        Command::Subscribers(command) => {
            let db = open_database(&settings)?;
            newsletter::subscribers(command, &db, &settings, clock.now(), quiet)
        }
        Command::Bounce(args) => {
            let db = open_database(&settings)?;
            newsletter::bounce(args, &db, clock.now())
        }
        Command::Migrate { revert_all } => {
            let db = Db::connect(&settings.database.url, 1)?;
            let mut conn = db.get()?;
            let names = if revert_all {
                db::revert_all_migrations(&mut conn)?
            } else {
                db::run_migrations(&mut conn)?
            };
            let verb = if revert_all { "reverted" } else { "applied" };
            if names.is_empty() {
                println!("nothing to do: {}", redact_url(&settings.database.url));
            }
            for name in names {
                println!("{verb} {name}");
            }
            Ok(())
        }
        Command::Seed => {
            let db = open_database(&settings)?;
            let now = clock.now();
            let report = db::write_transaction(&mut *db.get()?, |c| seed::load_2020_plan(c, now))?;
            println!("{report}");
            Ok(())
        }
        Command::Token(command) => {
            let db = open_database(&settings)?;
            token::run(command, &db, clock.now())
        }
        Command::History(HistoryCommand::Verify) => {
            let db = open_database(&settings)?;
            let found = app::history::verify(&mut *db.get()?)?;
            match found.first_broken {
                None => {
                    println!("{} history entries; the chain holds", found.entries);
                    Ok(())
                }
                Some(id) => anyhow::bail!(
                    "the history was changed: entry {id} does not match its hash or its predecessor's"
                ),
            }
        }
        Command::User(command) => {
            let db = open_database(&settings)?;
            user::run(command, &db, &settings, clock.now())
        }
        Command::Backup { file } => {
            backup::backup(&settings.database.url, &file)?;
            println!("backed up to {}", file.display());
            Ok(())
        }
        Command::Restore { file, force } => {
            backup::restore(&settings.database.url, &file, force)?;
            println!(
                "restored {} into {}",
                file.display(),
                redact_url(&settings.database.url)
            );
            Ok(())
        }
        Command::Healthcheck { url } => healthcheck::run(&settings, url),
        Command::Report(args) => {
            let db = open_database(&settings)?;
            report::run(args, &db, clock.now(), quiet)
        }
        Command::Inbound(command) => inbound(command, &settings, clock),
        Command::ImportIcs {
            file,
            organisation,
            plan,
            lang,
            visibility,
            strict,
        } => {
            let db = open_database(&settings)?;
            let strictness = if strict {
                Strictness::Strict
            } else {
                Strictness::Lenient
            };
            import_ics(
                &db,
                &settings,
                &file,
                ImportTo {
                    organisation: &organisation,
                    plan: plan.as_deref(),
                    lang,
                    visibility,
                },
                strictness,
                clock.now(),
                quiet,
            )
        }
    }
}

fn inbound(command: InboundCommand, settings: &Settings, clock: SharedClock) -> anyhow::Result<()> {
    let db = open_database(settings)?;
    match command {
        InboundCommand::Fetch => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let report = runtime.block_on(async move {
                crate::inbound::Fetcher::new(settings.inbound.clone(), db, clock)?
                    .fetch_once()
                    .await
            })?;
            println!("{report}");
        }
        InboundCommand::List { limit } => {
            for m in crate::db::inbound::recent(&mut *db.get()?, limit)? {
                println!(
                    "{} {} uid {} {}: {}",
                    m.received_at.format("%Y-%m-%d %H:%M:%S"),
                    m.mailbox,
                    m.uid,
                    m.outcome,
                    m.detail
                );
            }
        }
    }
    Ok(())
}

struct ImportTo<'a> {
    organisation: &'a str,
    plan: Option<&'a str>,
    lang: Language,
    visibility: crate::domain::activity::Visibility,
}

fn import_ics(
    db: &Db,
    settings: &Settings,
    file: &std::path::Path,
    to: ImportTo<'_>,
    strictness: Strictness,
    now: chrono::DateTime<chrono::Utc>,
    quiet: bool,
) -> anyhow::Result<()> {
    let bar = progress::Bar::new("reading the calendar", "events", quiet);
    let limits = ImportLimits {
        max_bytes: settings.imports.max_bytes,
        max_events: settings.imports.max_events,
    };
    let size = std::fs::metadata(file)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?
        .len();
    if size > limits.max_bytes as u64 {
        anyhow::bail!(
            "{}: the file is {size} bytes, larger than the import limit of {} bytes (imports.max_bytes)",
            file.display(),
            limits.max_bytes
        );
    }
    let bytes = std::fs::read(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let parsed = parse_calendar_with(&bytes, &limits, strictness)
        .map_err(|e| anyhow::anyhow!("{}: {e}; nothing was imported", file.display()))?;
    bar.message(format!("importing {} events", parsed.events.len()));
    let report = db::write_transaction(&mut *db.get()?, |c| {
        let to = Destination::resolve(c, to.organisation, to.plan, to.lang)?
            .with_visibility(to.visibility);
        let cx = app::Context::new(
            app::Actor::Import {
                organisation_id: to.organisation_id,
            },
            now,
        );
        ingest::apply_with(c, &cx, parsed, &to, strictness)
    })
    .map_err(|e| anyhow::anyhow!("{}: {e}; nothing was imported", file.display()))?;
    bar.finish();
    for w in &report.warnings {
        eprintln!("{}:{}: warning: {}", file.display(), w.line, w.message);
    }
    for e in report.events.iter().filter(|e| e.reason.is_some()) {
        eprintln!(
            "{}:{}: {:?}: {}",
            file.display(),
            e.line,
            e.outcome,
            e.reason.as_deref().unwrap_or_default()
        );
    }
    println!(
        "imported {}: {} created, {} updated, {} unchanged, {} skipped",
        file.display(),
        report.created,
        report.updated,
        report.unchanged,
        report.skipped
    );
    Ok(())
}

/// Turns SIGTERM and SIGINT into a shutdown signal for the dispatcher.
fn shutdown_signal() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("stopping: finishing the messages in flight");
        let _ = tx.send(true);
    });
    rx
}

/// Runs a dispatcher and a job runner until SIGTERM (or, with
/// `exit_when_idle`, until both have nothing left).
async fn run_dispatcher(
    settings: &Settings,
    db: Db,
    clock: SharedClock,
    exit_when_idle: bool,
) -> anyhow::Result<()> {
    let jobs = jobs::start(settings, db.clone(), clock.clone(), exit_when_idle)?;
    let inbound = if settings.inbound.enabled() {
        let fetcher =
            crate::inbound::Fetcher::new(settings.inbound.clone(), db.clone(), clock.clone())?;
        Some(tokio::spawn(fetcher.run(shutdown_signal(), exit_when_idle)))
    } else {
        None
    };
    let sent = run_dispatcher_only(settings, db, clock, exit_when_idle).await;
    let ran = jobs.finish().await;
    let read = match inbound {
        // A pass under way is cut short: what it committed stays, the rest
        // is read at the next start.
        Some(task) if !exit_when_idle => {
            task.abort();
            Ok(())
        }
        Some(task) => task.await?,
        None => Ok(()),
    };
    sent.and(ran).and(read)
}

/// Runs a dispatcher until SIGTERM; in-flight sends get `shutdown_grace_secs`
/// to finish, after which they are left to recovery (outcome unknown).
async fn run_dispatcher_only(
    settings: &Settings,
    db: Db,
    clock: SharedClock,
    exit_when_idle: bool,
) -> anyhow::Result<()> {
    // A sender address that cannot be used would fail every message: refuse
    // to start instead.
    dispatch::content::sender(&settings.email).map_err(|e| {
        anyhow::anyhow!(
            "email.from_address {:?} cannot be used: {e:?}",
            settings.email.from_address
        )
    })?;
    let transport = dispatch::transport_from_settings(&settings.email)?;
    let dispatcher = Dispatcher::new(
        db,
        clock,
        transport,
        settings.email.clone(),
        &settings.server.public_url,
    );
    let mut shutdown = shutdown_signal();
    let grace = std::time::Duration::from_secs(settings.email.shutdown_grace_secs);
    let run = tokio::spawn(dispatcher.run(shutdown.clone(), exit_when_idle));
    tokio::pin!(run);
    tokio::select! {
        result = &mut run => return Ok(result??),
        _ = shutdown.wait_for(|stop| *stop) => {}
    }
    match tokio::time::timeout(grace, &mut run).await {
        Ok(result) => Ok(result??),
        Err(_) => {
            tracing::warn!(
                "in-flight sends did not finish in time; they will be recovered as outcome unknown"
            );
            Ok(())
        }
    }
}

fn dispatch(
    settings: Settings,
    clock: SharedClock,
    exit_when_idle: bool,
    quiet: bool,
) -> anyhow::Result<()> {
    // The blocking pool only runs database work here: the writer, claims and
    // housekeeping. More threads than that only add malloc arenas (memory).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(4)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let db = open_database(&settings)?;
        tracing::info!(
            database = %redact_url(&settings.database.url),
            transport = ?settings.email.transport,
            "starting the dispatcher"
        );
        // A run that ends when the queue is empty shows how far it has got.
        let follow = exit_when_idle
            .then(|| progress::follow_deliveries(db.clone(), clock.clone(), quiet))
            .flatten();
        let ran = run_dispatcher(&settings, db, clock, exit_when_idle).await;
        if let Some(follow) = follow {
            follow.abort();
            let _ = follow.await;
        }
        ran
    })
}

fn serve(settings: Settings, clock: SharedClock, with_dispatcher: bool) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let db = open_database(&settings)?;
        if settings.database.seed_when_empty {
            let now = clock.now();
            let report = db
                .transaction(move |c| seed::seed_if_empty(c, now))
                .await?;
            if let Some(report) = report {
                tracing::info!(%report, "loaded the default plan");
            }
        }
        if !db.run(crate::app::accounts::any_admin).await? {
            tracing::warn!(
                "no administrator can reach the API yet: create one with `pregon user create --role admin --email EMAIL --name NAME` or `pregon token create --role admin --name NAME`"
            );
        }
        // Bind first: an unset public_url is derived from the real address.
        let app = Application::build(settings.clone(), db.clone(), clock.clone())?;
        let mut settings = settings;
        settings.server.public_url = app.public_url().to_owned();
        if !settings.server.public_url.starts_with("https://") {
            tracing::warn!(
                public_url = %settings.server.public_url,
                "server.public_url is not https: newsletters carry no one-click unsubscribe (RFC 8058)"
            );
        }
        tracing::info!(
            bind = %settings.server.bind,
            port = app.port(),
            public_url = %settings.server.public_url,
            database = %redact_url(&settings.database.url),
            dispatcher = with_dispatcher,
            "starting Pregón"
        );
        let dispatcher = if with_dispatcher {
            let (settings, db, clock) = (settings.clone(), db.clone(), clock.clone());
            Some(tokio::spawn(async move {
                run_dispatcher(&settings, db, clock, false).await
            }))
        } else {
            None
        };
        app.run_until_stopped().await?;
        if let Some(dispatcher) = dispatcher {
            dispatcher.await??;
        }
        Ok(())
    })
}
