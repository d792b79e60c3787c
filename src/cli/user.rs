//! `pregon user`: people's accounts from the server's console.

use crate::app::{self, Actor};
use crate::config::Settings;
use crate::db::{self, Db, accounts};
use crate::domain::account::{AccountInput, AccountStatus};
use crate::domain::{EmailAddress, Language, Name, Role};
use chrono::{DateTime, Utc};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a person's account and print a one-time sign-in link for them.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// viewer, editor, approver or admin.
        #[arg(long)]
        role: Role,
        /// es, en or fr.
        #[arg(long, default_value = "en")]
        lang: Language,
    },
    /// List accounts (people and built-in ones).
    List,
    /// Disable an account (by email or id): its sessions and tokens stop at once.
    Disable { account: String },
    /// Enable a disabled account again (its tokens work again; sessions do not).
    Enable { account: String },
    /// Change an account's role (by email or id).
    SetRole {
        account: String,
        #[arg(long)]
        role: Role,
    },
    /// Print a new one-time sign-in link for a person (by email or id).
    SignInLink { account: String },
}

pub fn run(
    command: UserCommand,
    db: &Db,
    settings: &Settings,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mut conn = db.get()?;
    let actor = Actor::System;
    let public_url = &settings.server.public_url;
    let link_note = |secret: &str| {
        eprintln!(
            "one-time sign-in link (valid {} minutes, works once):",
            settings.accounts.sign_in_link_minutes
        );
        println!("{}", app::sessions::link_url(public_url, secret));
    };
    match command {
        UserCommand::Create {
            email,
            name,
            role,
            lang,
        } => {
            let input = AccountInput {
                email: EmailAddress::parse(&email).map_err(|e| anyhow::anyhow!("--email {e}"))?,
                name: Name::parse(&name).map_err(|e| anyhow::anyhow!("--name {e}"))?,
                role,
                language: lang,
            };
            let (account, secret) = db::write_transaction(&mut conn, |c| {
                let account = app::accounts::create(&actor, now, c, &input)?;
                let secret = app::sessions::create_link(now, c, &account, &settings.accounts)?;
                Ok((account, secret))
            })?;
            eprintln!(
                "created {} account {} for {:?}",
                account.role, account.id, account.name
            );
            link_note(&secret);
        }
        UserCommand::List => {
            println!(
                "{:>4}  {:<6}  {:<8}  {:<8}  {:<32}  name",
                "id", "kind", "role", "status", "email"
            );
            for a in accounts::list(&mut conn)? {
                println!(
                    "{:>4}  {:<6}  {:<8}  {:<8}  {:<32}  {}",
                    a.id,
                    a.kind,
                    a.role,
                    a.status,
                    a.email.as_deref().unwrap_or("-"),
                    a.name
                );
            }
        }
        UserCommand::Disable { account } => {
            let a = db::write_transaction(&mut conn, |c| {
                let id = app::accounts::find(c, &account)?.id;
                app::accounts::set_status(&actor, now, c, id, AccountStatus::Disabled)
            })?;
            println!("disabled account {} ({})", a.id, a.name);
        }
        UserCommand::Enable { account } => {
            let a = db::write_transaction(&mut conn, |c| {
                let id = app::accounts::find(c, &account)?.id;
                app::accounts::set_status(&actor, now, c, id, AccountStatus::Active)
            })?;
            println!("enabled account {} ({})", a.id, a.name);
        }
        UserCommand::SetRole { account, role } => {
            let a = db::write_transaction(&mut conn, |c| {
                let id = app::accounts::find(c, &account)?.id;
                app::accounts::set_role(&actor, now, c, id, role)
            })?;
            println!("account {} ({}) is now {}", a.id, a.name, a.role);
        }
        UserCommand::SignInLink { account } => {
            let secret = db::write_transaction(&mut conn, |c| {
                let account = app::accounts::find(c, &account)?;
                app::sessions::create_link(now, c, &account, &settings.accounts)
            })?;
            link_note(&secret);
        }
    }
    Ok(())
}
