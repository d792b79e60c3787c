use super::schema::organisations;
use super::{DbConnection, Page, PageRequest, parse_stored, utc};
use crate::domain::activity::OrganisationKind;
use crate::domain::organisation::{Organisation, OrganisationInput};
use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

#[derive(Queryable, Selectable)]
#[diesel(table_name = organisations)]
struct Row {
    id: i64,
    slug: String,
    name: String,
    kind: String,
    description: Option<String>,
    website: Option<String>,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl Row {
    fn into_domain(self) -> Result<Organisation> {
        Ok(Organisation {
            id: self.id,
            slug: self.slug,
            name: self.name,
            kind: parse_stored(&self.kind)?,
            description: self.description,
            website: self.website,
            version: self.version,
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
        })
    }
}

#[derive(AsChangeset, Insertable)]
#[diesel(table_name = organisations, treat_none_as_null = true)]
struct Fields<'a> {
    slug: &'a str,
    name: &'a str,
    kind: &'a str,
    description: Option<&'a str>,
    website: Option<&'a str>,
}

fn fields(input: &OrganisationInput) -> Fields<'_> {
    Fields {
        slug: input.slug.as_str(),
        name: input.name.as_str(),
        kind: input.kind.as_str(),
        description: input.description.as_ref().map(|d| d.as_str()),
        website: input.website.as_ref().map(|w| w.as_str()),
    }
}

pub fn create(
    conn: &mut DbConnection,
    input: &OrganisationInput,
    now: DateTime<Utc>,
) -> Result<Organisation> {
    let id = diesel::insert_into(organisations::table)
        .values((
            fields(input),
            organisations::created_at.eq(now.naive_utc()),
            organisations::updated_at.eq(now.naive_utc()),
        ))
        .returning(organisations::id)
        .get_result(conn)?;
    get(conn, id)
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<Organisation> {
    organisations::table
        .find(id)
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::not_found("organisation", id))?
        .into_domain()
}

pub fn find_by_slug(conn: &mut DbConnection, slug: &str) -> Result<Option<Organisation>> {
    organisations::table
        .filter(organisations::slug.eq(slug))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .map(Row::into_domain)
        .transpose()
}

pub fn list(
    conn: &mut DbConnection,
    kind: Option<OrganisationKind>,
    page: PageRequest,
) -> Result<Page<Organisation>> {
    let query = || {
        let mut q = organisations::table.into_boxed();
        if let Some(kind) = kind {
            q = q.filter(organisations::kind.eq(kind.as_str()));
        }
        q
    };
    let total: i64 = query().count().get_result(conn)?;
    let rows = query()
        .order(organisations::id)
        .limit(page.limit())
        .offset(page.offset())
        .select(Row::as_select())
        .load(conn)?;
    page.wrap(
        rows.into_iter()
            .map(Row::into_domain)
            .collect::<Result<_>>()?,
        total,
    )
}

pub fn update(
    conn: &mut DbConnection,
    id: i64,
    expected_version: i32,
    input: &OrganisationInput,
    now: DateTime<Utc>,
) -> Result<Organisation> {
    update_versioned(conn, id, expected_version, now, fields(input))?;
    get(conn, id)
}

super::versioned_record!(organisations, "organisation");

/// The names of the organisations `ids` (those that exist), by id; read in
/// chunks, so any number of ids stays within a statement's parameter limit.
pub fn names_of(
    conn: &mut DbConnection,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, String>> {
    let mut out = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        out.extend(
            organisations::table
                .filter(organisations::id.eq_any(chunk))
                .select((organisations::id, organisations::name))
                .load::<(i64, String)>(conn)?,
        );
    }
    Ok(out)
}

/// Every organisation's name by id.
pub fn names(conn: &mut DbConnection) -> Result<std::collections::HashMap<i64, String>> {
    Ok(organisations::table
        .select((organisations::id, organisations::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect())
}
