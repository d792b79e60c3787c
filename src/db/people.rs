use super::schema::people;
use super::{DbConnection, Page, PageRequest, organisations, parse_stored, require_ref, utc};
use crate::domain::person::{Person, PersonInput};
use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

#[derive(Queryable, Selectable)]
#[diesel(table_name = people)]
struct Row {
    id: i64,
    name: String,
    title: Option<String>,
    organisation_id: Option<i64>,
    email: Option<String>,
    language: Option<String>,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl Row {
    fn into_domain(self) -> Result<Person> {
        Ok(Person {
            id: self.id,
            name: self.name,
            title: self.title,
            organisation_id: self.organisation_id,
            email: self.email,
            language: self.language.as_deref().map(parse_stored).transpose()?,
            version: self.version,
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
        })
    }
}

#[derive(AsChangeset, Insertable)]
#[diesel(table_name = people, treat_none_as_null = true)]
struct Fields<'a> {
    name: &'a str,
    title: Option<&'a str>,
    organisation_id: Option<i64>,
    email: Option<&'a str>,
    language: Option<&'a str>,
}

fn fields<'a>(conn: &mut DbConnection, input: &'a PersonInput) -> Result<Fields<'a>> {
    if let Some(org) = input.organisation_id {
        require_ref(organisations::exists(conn, org)?, "organisation_id", org)?;
    }
    Ok(Fields {
        name: input.name.as_str(),
        title: input.title.as_ref().map(|t| t.as_str()),
        organisation_id: input.organisation_id,
        email: input.email.as_ref().map(|e| e.as_str()),
        language: input.language.map(|l| l.as_str()),
    })
}

pub fn create(conn: &mut DbConnection, input: &PersonInput, now: DateTime<Utc>) -> Result<Person> {
    let values = fields(conn, input)?;
    let id = diesel::insert_into(people::table)
        .values((
            values,
            people::created_at.eq(now.naive_utc()),
            people::updated_at.eq(now.naive_utc()),
        ))
        .returning(people::id)
        .get_result(conn)?;
    get(conn, id)
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<Person> {
    people::table
        .find(id)
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::not_found("person", id))?
        .into_domain()
}

pub fn list(
    conn: &mut DbConnection,
    organisation_id: Option<i64>,
    page: PageRequest,
) -> Result<Page<Person>> {
    let query = || {
        let mut q = people::table.into_boxed();
        if let Some(org) = organisation_id {
            q = q.filter(people::organisation_id.eq(org));
        }
        q
    };
    let total: i64 = query().count().get_result(conn)?;
    let rows = query()
        .order(people::id)
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
    input: &PersonInput,
    now: DateTime<Utc>,
) -> Result<Person> {
    let values = fields(conn, input)?;
    update_versioned(conn, id, expected_version, now, values)?;
    get(conn, id)
}

super::versioned_record!(people, "person");
