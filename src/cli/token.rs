use crate::db::{self, Db, tokens};
use crate::domain::token::TokenInput;
use crate::domain::{Name, Role};
use chrono::{DateTime, Utc};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token and print its secret (shown only this once).
    Create {
        /// admin, editor or viewer.
        #[arg(long)]
        role: Role,
        /// A name saying who or what uses the token.
        #[arg(long)]
        name: String,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by id or name.
    Revoke { token: String },
}

pub fn run(command: TokenCommand, db: &Db, now: DateTime<Utc>) -> anyhow::Result<()> {
    let mut conn = db.get()?;
    match command {
        TokenCommand::Create { role, name } => {
            let name = Name::parse(&name).map_err(|e| anyhow::anyhow!("--name {e}"))?;
            let input = TokenInput { name, role };
            let created = db::write_transaction(&mut conn, |c| tokens::create(c, &input, now))?;
            eprintln!(
                "created {} token {:?} (id {}); store the secret now, it is not shown again:",
                created.token.role, created.token.name, created.token.id
            );
            println!("{}", created.secret);
        }
        TokenCommand::List => {
            println!(
                "{:>4}  {:<7}  {:<24}  {:<20}  status",
                "id", "role", "name", "created"
            );
            for t in tokens::list(&mut conn)? {
                let status = match t.revoked_at {
                    Some(at) => format!("revoked {}", at.format("%Y-%m-%d %H:%M")),
                    None => "active".into(),
                };
                println!(
                    "{:>4}  {:<7}  {:<24}  {:<20}  {status}",
                    t.id,
                    t.role,
                    t.name,
                    t.created_at.format("%Y-%m-%d %H:%M")
                );
            }
        }
        TokenCommand::Revoke { token } => {
            let revoked = db::write_transaction(&mut conn, |c| tokens::revoke(c, &token, now))?;
            println!("revoked token {:?} (id {})", revoked.name, revoked.id);
        }
    }
    Ok(())
}
