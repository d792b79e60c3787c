//! Validated domain types. Each newtype checks its invariant on construction, so a
//! value that reaches the database or a feed is known to be valid.

mod macros;

pub mod account;
pub mod activity;
pub mod campaign;
pub mod channel;
pub mod feed;
pub mod history;
pub mod inbound;
pub mod job;
pub mod language;
pub mod network;
pub mod newsletter;
pub mod organisation;
pub mod page;
pub mod participation;
pub mod password;
pub mod person;
pub mod plan;
pub mod recurrence;
pub mod review;
pub mod role;
pub mod session;
pub mod text;
pub mod timing;
pub mod token;
pub mod webhook;
pub mod zone;

pub use activity::{ActivityKind, ActivityStatus, ParticipantRole, PartnerRole, Visibility};
pub use language::{Language, Translations};
pub use recurrence::Recurrence;
pub use role::Role;
pub use text::{EmailAddress, Name, Slug, Text, Title, WebUrl};
pub use timing::Timing;
pub use zone::Zone;
