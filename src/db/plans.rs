use super::schema::{plan_goals, plan_periods, plans};
use super::{DbConnection, Page, PageRequest, organisations, require_ref, utc};
use crate::domain::plan::{Goal, Period, Plan, PlanInput};
use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;

#[derive(Queryable, Selectable)]
#[diesel(table_name = plans)]
struct Row {
    id: i64,
    slug: String,
    title: String,
    description: Option<String>,
    organisation_id: i64,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = plan_periods)]
struct PeriodRow {
    id: i64,
    name: String,
    description: Option<String>,
    starts_on: Option<NaiveDate>,
    ends_on: Option<NaiveDate>,
}

impl PeriodRow {
    fn into_domain(self) -> Period {
        Period {
            id: self.id,
            name: self.name,
            description: self.description,
            starts_on: self.starts_on,
            ends_on: self.ends_on,
        }
    }
}

#[derive(AsChangeset, Insertable)]
#[diesel(table_name = plans, treat_none_as_null = true)]
struct Fields<'a> {
    slug: &'a str,
    title: &'a str,
    description: Option<&'a str>,
    organisation_id: i64,
}

fn fields<'a>(conn: &mut DbConnection, input: &'a PlanInput) -> Result<Fields<'a>> {
    input.validate()?;
    require_ref(
        organisations::exists(conn, input.organisation_id)?,
        "organisation_id",
        input.organisation_id,
    )?;
    Ok(Fields {
        slug: input.slug.as_str(),
        title: input.title.as_str(),
        description: input.description.as_ref().map(|d| d.as_str()),
        organisation_id: input.organisation_id,
    })
}

pub fn create(conn: &mut DbConnection, input: &PlanInput, now: DateTime<Utc>) -> Result<Plan> {
    let values = fields(conn, input)?;
    let id = diesel::insert_into(plans::table)
        .values((
            values,
            plans::created_at.eq(now.naive_utc()),
            plans::updated_at.eq(now.naive_utc()),
        ))
        .returning(plans::id)
        .get_result(conn)?;
    write_structure(conn, id, input)?;
    get(conn, id)
}

/// Replaces periods and goals. Periods sent with an id are kept (activities may
/// point at them); those left out are removed, which fails while an activity
/// still points at one.
fn write_structure(conn: &mut DbConnection, plan_id: i64, input: &PlanInput) -> Result<()> {
    diesel::delete(plan_goals::table.filter(plan_goals::plan_id.eq(plan_id))).execute(conn)?;
    let existing: Vec<i64> = plan_periods::table
        .filter(plan_periods::plan_id.eq(plan_id))
        .select(plan_periods::id)
        .load(conn)?;
    let kept: Vec<i64> = input.periods.iter().filter_map(|p| p.id).collect();
    for (i, id) in kept.iter().enumerate() {
        if !existing.contains(id) {
            return Err(Error::invalid(
                format!("periods[{i}].id"),
                format!("period {id} is not a period of this plan"),
            ));
        }
    }
    let removed: Vec<i64> = existing
        .into_iter()
        .filter(|id| !kept.contains(id))
        .collect();
    diesel::delete(plan_periods::table.filter(plan_periods::id.eq_any(&removed))).execute(conn)?;
    let mut period_ids = Vec::with_capacity(input.periods.len());
    for (position, p) in input.periods.iter().enumerate() {
        let values = (
            plan_periods::position.eq(position as i32),
            plan_periods::name.eq(p.name.as_str()),
            plan_periods::description.eq(p.description.as_ref().map(|d| d.as_str())),
            plan_periods::starts_on.eq(p.starts_on),
            plan_periods::ends_on.eq(p.ends_on),
        );
        let id = match p.id {
            Some(id) => {
                diesel::update(plan_periods::table.find(id))
                    .set(values)
                    .execute(conn)?;
                id
            }
            None => diesel::insert_into(plan_periods::table)
                .values((plan_periods::plan_id.eq(plan_id), values))
                .returning(plan_periods::id)
                .get_result(conn)?,
        };
        period_ids.push(id);
    }
    for (position, g) in input.goals.iter().enumerate() {
        diesel::insert_into(plan_goals::table)
            .values((
                plan_goals::plan_id.eq(plan_id),
                plan_goals::position.eq(position as i32),
                plan_goals::period_id.eq(g.period.map(|i| period_ids[i])),
                plan_goals::description.eq(g.description.as_str()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn hydrate(conn: &mut DbConnection, row: Row) -> Result<Plan> {
    let periods = plan_periods::table
        .filter(plan_periods::plan_id.eq(row.id))
        .order(plan_periods::position)
        .select(PeriodRow::as_select())
        .load(conn)?
        .into_iter()
        .map(PeriodRow::into_domain)
        .collect();
    let goals = plan_goals::table
        .filter(plan_goals::plan_id.eq(row.id))
        .order(plan_goals::position)
        .select((
            plan_goals::id,
            plan_goals::description,
            plan_goals::period_id,
        ))
        .load::<(i64, String, Option<i64>)>(conn)?
        .into_iter()
        .map(|(id, description, period_id)| Goal {
            id,
            description,
            period_id,
        })
        .collect();
    Ok(Plan {
        id: row.id,
        slug: row.slug,
        title: row.title,
        description: row.description,
        organisation_id: row.organisation_id,
        periods,
        goals,
        version: row.version,
        created_at: utc(row.created_at),
        updated_at: utc(row.updated_at),
    })
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<Plan> {
    let row = plans::table
        .find(id)
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::not_found("plan", id))?;
    hydrate(conn, row)
}

pub fn find_by_slug(conn: &mut DbConnection, slug: &str) -> Result<Option<Plan>> {
    let row = plans::table
        .filter(plans::slug.eq(slug))
        .select(Row::as_select())
        .first(conn)
        .optional()?;
    row.map(|r| hydrate(conn, r)).transpose()
}

pub fn count(conn: &mut DbConnection) -> Result<i64> {
    Ok(plans::table.count().get_result(conn)?)
}

pub fn list(conn: &mut DbConnection, page: PageRequest) -> Result<Page<Plan>> {
    let total: i64 = plans::table.count().get_result(conn)?;
    let rows = plans::table
        .order(plans::id)
        .limit(page.limit())
        .offset(page.offset())
        .select(Row::as_select())
        .load(conn)?;
    let items = rows
        .into_iter()
        .map(|r| hydrate(conn, r))
        .collect::<Result<_>>()?;
    page.wrap(items, total)
}

pub fn update(
    conn: &mut DbConnection,
    id: i64,
    expected_version: i32,
    input: &PlanInput,
    now: DateTime<Utc>,
) -> Result<Plan> {
    let values = fields(conn, input)?;
    update_versioned(conn, id, expected_version, now, values)?;
    write_structure(conn, id, input)?;
    get(conn, id)
}

/// Does `period_id` belong to plan `plan_id`?
pub fn has_period(conn: &mut DbConnection, plan_id: i64, period_id: i64) -> Result<bool> {
    let n: i64 = plan_periods::table
        .filter(plan_periods::id.eq(period_id))
        .filter(plan_periods::plan_id.eq(plan_id))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

super::versioned_record!(plans, "plan");

/// Every plan period (feeds place undated activities on their period).
pub fn all_periods(conn: &mut DbConnection) -> Result<Vec<Period>> {
    Ok(plan_periods::table
        .select(PeriodRow::as_select())
        .load(conn)?
        .into_iter()
        .map(PeriodRow::into_domain)
        .collect())
}
