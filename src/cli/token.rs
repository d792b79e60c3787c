use crate::app::{self, Actor};
use crate::db::{self, Db, tokens};
use crate::domain::token::TokenInput;
use crate::domain::{Name, Role};
use chrono::{DateTime, Utc};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token and print its secret (shown only this once).
    Create {
        /// viewer, editor, approver or admin; at most the account's role.
        #[arg(long)]
        role: Role,
        /// A name saying who or what uses the token.
        #[arg(long)]
        name: String,
        /// Email of the account the token acts as. Without it the token gets
        /// a built-in account of its own, named after it, with its role.
        #[arg(long, value_name = "EMAIL")]
        account: Option<String>,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by id or name.
    Revoke { token: String },
}

pub fn run(command: TokenCommand, db: &Db, now: DateTime<Utc>) -> anyhow::Result<()> {
    let mut conn = db.get()?;
    // The operator at the server's console acts as Pregón itself.
    let actor = Actor::System;
    match command {
        TokenCommand::Create {
            role,
            name,
            account,
        } => {
            let name = Name::parse(&name).map_err(|e| anyhow::anyhow!("--name {e}"))?;
            let created = db::write_transaction(&mut conn, |c| {
                let account_id = match &account {
                    Some(email) => Some(app::accounts::find(c, email)?.id),
                    None => None,
                };
                let input = TokenInput {
                    name,
                    role,
                    account_id,
                };
                app::tokens::create(&actor, now, c, &input)
            })?;
            eprintln!(
                "created {} token {:?} (id {}, account {}); store the secret now, it is not shown again:",
                created.token.role, created.token.name, created.token.id, created.token.account_id
            );
            println!("{}", created.secret);
        }
        TokenCommand::List => {
            println!(
                "{:>4}  {:<8}  {:<24}  {:>7}  {:<20}  status",
                "id", "role", "name", "account", "created"
            );
            for t in tokens::list(&mut conn)? {
                let status = match t.revoked_at {
                    Some(at) => format!("revoked {}", at.format("%Y-%m-%d %H:%M")),
                    None => "active".into(),
                };
                println!(
                    "{:>4}  {:<8}  {:<24}  {:>7}  {:<20}  {status}",
                    t.id,
                    t.role,
                    t.name,
                    t.account_id,
                    t.created_at.format("%Y-%m-%d %H:%M")
                );
            }
        }
        TokenCommand::Revoke { token } => {
            let revoked =
                db::write_transaction(&mut conn, |c| app::tokens::revoke(&actor, now, c, &token))?;
            println!("revoked token {:?} (id {})", revoked.name, revoked.id);
        }
    }
    Ok(())
}
