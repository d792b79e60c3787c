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
    /// A delete refused because other records still refer to this one.
    #[error("{entity} {id} is still referred to by {}", describe_references(by))]
    Referenced {
        entity: &'static str,
        id: String,
        by: Vec<Reference>,
    },
    /// A unique field (or set of fields) already taken; `fields` names them,
    /// never the database's own wording nor the value.
    #[error("{}", describe_duplicate(fields))]
    Duplicate { fields: Vec<String> },
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

/// Rows of `table` whose `column` refers to the record, `count` of them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Reference {
    pub table: String,
    pub column: String,
    pub count: i64,
}

fn describe_references(by: &[Reference]) -> String {
    by.iter()
        .map(|r| format!("{} row(s) of {} (by {})", r.count, r.table, r.column))
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_duplicate(fields: &[String]) -> String {
    match fields {
        [] => "a record with these values already exists".into(),
        [one] => format!("a record with this {one} already exists"),
        many => format!(
            "a record with this combination of {} already exists",
            many.join(", ")
        ),
    }
}

/// The columns a unique violation names. SQLite: "UNIQUE constraint failed:
/// t.a, t.b"; PostgreSQL: detail "Key (a, b)=(…) already exists." (the value
/// is dropped here and never reaches a client).
fn duplicate_fields(info: &dyn diesel::result::DatabaseErrorInformation) -> Vec<String> {
    if let Some(list) = info.message().strip_prefix("UNIQUE constraint failed:") {
        return list
            .split(',')
            .filter_map(|c| c.trim().rsplit('.').next())
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect();
    }
    if let Some(detail) = info.details()
        && let Some(rest) = detail.strip_prefix("Key (")
        && let Some((cols, _)) = rest.split_once(")=")
    {
        return cols.split(',').map(|c| c.trim().to_owned()).collect();
    }
    info.column_name()
        .map(|c| vec![c.to_owned()])
        .unwrap_or_default()
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
                Error::Duplicate {
                    fields: duplicate_fields(info.as_ref()),
                }
            }
            // SQLite without extended result codes reports a foreign-key failure
            // as a plain constraint error: recognised by its fixed wording.
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                Error::Conflict("the record is still referred to by other records".into())
            }
            DieselError::DatabaseError(_, info)
                if info.message().contains("FOREIGN KEY constraint failed") =>
            {
                Error::Conflict("the record is still referred to by other records".into())
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
