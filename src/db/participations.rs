use super::schema::{participations, people};
use super::{
    DbConnection, Page, PageRequest, activities, organisations, parse_stored, require_ref, utc,
};
use crate::domain::activity::ParticipantRole;
use crate::domain::participation::{Participation, ParticipationAnswer, ParticipationInput};
use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

#[derive(Queryable, Selectable)]
#[diesel(table_name = participations)]
struct Row {
    id: i64,
    activity_id: i64,
    person_id: i64,
    role: String,
    represents_organisation_id: Option<i64>,
    note: Option<String>,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    answer: Option<String>,
    answered_at: Option<NaiveDateTime>,
}

type Joined = (Row, (String, Option<String>));

fn into_domain((row, (name, title)): Joined) -> Result<Participation> {
    Ok(Participation {
        id: row.id,
        activity_id: row.activity_id,
        person_id: row.person_id,
        person_name: name,
        person_title: title,
        role: parse_stored(&row.role)?,
        represents_organisation_id: row.represents_organisation_id,
        note: row.note,
        answer: row.answer.as_deref().map(parse_stored).transpose()?,
        answered_at: row.answered_at.map(utc),
        version: row.version,
        created_at: utc(row.created_at),
        updated_at: utc(row.updated_at),
    })
}

#[derive(AsChangeset, Insertable)]
#[diesel(table_name = participations, treat_none_as_null = true)]
struct Fields<'a> {
    activity_id: i64,
    person_id: i64,
    role: &'a str,
    represents_organisation_id: Option<i64>,
    note: Option<&'a str>,
}

fn fields<'a>(conn: &mut DbConnection, input: &'a ParticipationInput) -> Result<Fields<'a>> {
    require_ref(
        activities::exists(conn, input.activity_id)?,
        "activity_id",
        input.activity_id,
    )?;
    require_ref(
        super::people::exists(conn, input.person_id)?,
        "person_id",
        input.person_id,
    )?;
    match (input.role, input.represents_organisation_id) {
        (ParticipantRole::Represents, None) => {
            return Err(Error::invalid(
                "represents_organisation_id",
                "is required when the role is \"represents\"",
            ));
        }
        (_, Some(org)) => require_ref(
            organisations::exists(conn, org)?,
            "represents_organisation_id",
            org,
        )?,
        _ => {}
    }
    Ok(Fields {
        activity_id: input.activity_id,
        person_id: input.person_id,
        role: input.role.as_str(),
        represents_organisation_id: input.represents_organisation_id,
        note: input.note.as_ref().map(|n| n.as_str()),
    })
}

pub fn create(
    conn: &mut DbConnection,
    input: &ParticipationInput,
    now: DateTime<Utc>,
) -> Result<Participation> {
    let values = fields(conn, input)?;
    let id = diesel::insert_into(participations::table)
        .values((
            values,
            participations::created_at.eq(now.naive_utc()),
            participations::updated_at.eq(now.naive_utc()),
        ))
        .returning(participations::id)
        .get_result(conn)?;
    get(conn, id)
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<Participation> {
    let row: Joined = participations::table
        .inner_join(people::table)
        .filter(participations::id.eq(id))
        .select((Row::as_select(), (people::name, people::title)))
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::not_found("participation", id))?;
    into_domain(row)
}

pub fn list(
    conn: &mut DbConnection,
    activity_id: Option<i64>,
    person_id: Option<i64>,
    page: PageRequest,
) -> Result<Page<Participation>> {
    let query = || {
        let mut q = participations::table.inner_join(people::table).into_boxed();
        if let Some(a) = activity_id {
            q = q.filter(participations::activity_id.eq(a));
        }
        if let Some(p) = person_id {
            q = q.filter(participations::person_id.eq(p));
        }
        q
    };
    let total: i64 = query().count().get_result(conn)?;
    let rows: Vec<Joined> = query()
        .order(participations::id)
        .limit(page.limit())
        .offset(page.offset())
        .select((Row::as_select(), (people::name, people::title)))
        .load(conn)?;
    page.wrap(
        rows.into_iter().map(into_domain).collect::<Result<_>>()?,
        total,
    )
}

pub fn update(
    conn: &mut DbConnection,
    id: i64,
    expected_version: i32,
    input: &ParticipationInput,
    now: DateTime<Utc>,
) -> Result<Participation> {
    let values = fields(conn, input)?;
    update_versioned(conn, id, expected_version, now, values)?;
    get(conn, id)
}

super::versioned_record!(participations, "participation");

/// The participations of an activity whose person has this address (compared
/// without regard to case), with the SEQUENCE their last answer was given at.
pub fn of_attendee(
    conn: &mut DbConnection,
    activity_id: i64,
    email: &str,
) -> Result<Vec<(i64, Option<i32>)>> {
    let rows: Vec<(i64, Option<String>, Option<i32>)> = participations::table
        .inner_join(people::table)
        .filter(participations::activity_id.eq(activity_id))
        .select((
            participations::id,
            people::email,
            participations::answer_sequence,
        ))
        .order(participations::id)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|(_, e, _)| {
            e.as_deref()
                .is_some_and(|e| e.trim().eq_ignore_ascii_case(email.trim()))
        })
        .map(|(id, _, sequence)| (id, sequence))
        .collect())
}

/// Records an answer to the invitation on a participation.
pub fn set_answer(
    conn: &mut DbConnection,
    id: i64,
    answer: ParticipationAnswer,
    sequence: i32,
    now: DateTime<Utc>,
) -> Result<()> {
    diesel::update(participations::table.find(id))
        .set((
            participations::answer.eq(answer.as_str()),
            participations::answered_at.eq(now.naive_utc()),
            participations::answer_sequence.eq(sequence),
            participations::version.eq(participations::version + 1),
            participations::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The activity an invitation's UID names.
pub fn activity_by_uid(conn: &mut DbConnection, uid: &str) -> Result<Option<i64>> {
    use super::schema::activities;
    Ok(activities::table
        .filter(activities::uid.eq(uid))
        .select(activities::id)
        .first(conn)
        .optional()?)
}
