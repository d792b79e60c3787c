//! The one error type of the domain and persistence layers. The HTTP edge turns it
//! into RFC 9457 problem documents (`http::problem`); the CLI prints it.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A referenced or requested record does not exist.
    #[error("{entity}{}{id} not found", if id.is_empty() { "" } else { " " })]
    NotFound { entity: &'static str, id: String },
    /// Input that parses but breaks a rule; `field` is a dotted path into the input.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The write would break uniqueness or a reference still in use.
    #[error("{0}")]
    Conflict(String),
    /// Optimistic concurrency: the client edited an older version.
    #[error("version {given} is not the current version {current}")]
    VersionMismatch { given: i32, current: i32 },
    /// A rule forbids this actor this operation on this record (e.g. approving
    /// one's own work under four-eyes); `kind` names the rule.
    #[error("{message}")]
    NotAllowed { kind: &'static str, message: String },
    /// The record's state does not allow the operation; says what would.
    #[error("cannot {action} when the state is {current}; allowed: {}", allowed.join(", "))]
    InvalidTransition {
        action: String,
        current: String,
        allowed: Vec<String>,
    },
    /// The operation needs something first (e.g. a current approval); `kind` names it.
    #[error("{message}")]
    Blocked { kind: &'static str, message: String },
    /// The actor's role does not allow this operation.
    #[error("{0}")]
    Forbidden(String),
    /// Wrong or unusable credentials (a sign-in that failed).
    #[error("{0}")]
    Unauthenticated(String),
    /// Too many failed attempts; try again after this many seconds.
    #[error("too many failed attempts; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("database error: {0}")]
    Database(DieselError),
    #[error("database unavailable: {0}")]
    Pool(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn not_found(entity: &'static str, id: impl ToString) -> Self {
        Error::NotFound {
            entity,
            id: id.to_string(),
        }
    }
}

impl From<DieselError> for Error {
    fn from(err: DieselError) -> Self {
        match &err {
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                Error::Conflict(format!("already exists: {}", info.message()))
            }
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                Error::Conflict("the record is still referenced by other records".into())
            }
            _ => Error::Database(err),
        }
    }
}

impl From<diesel::r2d2::PoolError> for Error {
    fn from(err: diesel::r2d2::PoolError) -> Self {
        Error::Pool(err.to_string())
    }
}
