//! Statements SQLite prepares once per connection and then reuses, for the
//! dispatcher's per-delivery writes.
//!
//! Diesel caches the prepared statements of SELECTs and INSERTs it builds,
//! but never those of an UPDATE (`UpdateStatement::walk_ast` marks every
//! update unsafe to cache) nor of `sql_query`: each of the dispatcher's
//! per-delivery UPDATEs was parsed and planned anew, which was most of
//! SQLite's share of a message's CPU time. A statement here is a fixed text
//! with its binds in a type of its own; diesel's statement cache keys it by
//! that type, so it is prepared once.
//!
//! `cached_statement!` declares one: its name, its fields (references, so
//! the binds are borrowed), and the SQL written with those binds (their SQL
//! types as named where the macro is used):
//!
//! ```ignore
//! cached_statement! {
//!     /// Doc.
//!     pub(crate) struct ResetSoftBounces<'a> { id: &'a i64 }
//!     "UPDATE subscribers SET soft_bounces = 0 WHERE id = " (id as BigInt) " AND soft_bounces > 0"
//! }
//! ```

macro_rules! cached_statement {
    (
        $(#[$doc:meta])*
        $vis:vis struct $name:ident<'a> { $($field:ident: $ty:ty),* $(,)? }
        $($sql:literal $(($bind:ident as $sql_type:ty))?)*
    ) => {
        $(#[$doc])*
        $vis struct $name<'a> {
            $(pub $field: $ty,)*
        }

        impl diesel::query_builder::QueryId for $name<'_> {
            type QueryId = $name<'static>;
            const HAS_STATIC_QUERY_ID: bool = true;
        }

        impl diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for $name<'_> {
            fn walk_ast<'b>(
                &'b self,
                mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
            ) -> diesel::QueryResult<()> {
                $(
                    out.push_sql($sql);
                    $(out.push_bind_param::<$sql_type, _>(self.$bind)?;)?
                )*
                Ok(())
            }
        }

        impl diesel::RunQueryDsl<diesel::SqliteConnection> for $name<'_> {}
    };
}

pub(crate) use cached_statement;
