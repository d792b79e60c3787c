//! The agenda (a list, the keyboard- and screen-reader-friendly view: every
//! item announced with its date) and the month grid, both filterable by
//! campaign, channel, kind and status. Items whose date is to be confirmed
//! are never put on a made-up day: they are listed apart, marked as such.

use super::super::format;
use super::super::i18n::Tr;
use super::super::page::{self, Chrome, State, chrome, render, signed_in, to_sign_in};
use super::{When, kind_label, plans, query, status_label};
use crate::db::PageRequest;
use crate::db::activities::{ActivityFilter, Detail};
use crate::domain::activity::{Activity, ActivityKind, ActivityStatus};
use crate::domain::timing::Timing;
use crate::domain::zone::Zone;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use chrono::{Datelike, NaiveDate};

/// The filters of both views, as the query string gives them.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub campaign: Option<i64>,
    pub channel: Option<i64>,
    pub kind: Option<ActivityKind>,
    pub status: Option<ActivityStatus>,
    pub when: Option<When>,
}

impl Filters {
    fn of(req: &HttpRequest) -> Filters {
        Filters {
            campaign: query(req, "campaign").and_then(|v| v.parse().ok()),
            channel: query(req, "channel").and_then(|v| v.parse().ok()),
            kind: query(req, "kind").and_then(|v| v.parse().ok()),
            status: query(req, "status").and_then(|v| v.parse().ok()),
            when: query(req, "when").and_then(|v| When::parse(&v)),
        }
    }

    fn filter(&self, plan_id: i64) -> ActivityFilter {
        ActivityFilter {
            plan_id: Some(plan_id),
            campaign_id: self.campaign,
            channel_id: self.channel,
            kind: self.kind,
            status: self.status,
            ..Default::default()
        }
    }

    /// These filters as hidden fields, for a form that changes something else
    /// (the week shown) and keeps them.
    fn hidden(&self) -> Vec<(&'static str, String)> {
        let mut h = Vec::new();
        if let Some(v) = self.campaign {
            h.push(("campaign", v.to_string()));
        }
        if let Some(v) = self.channel {
            h.push(("channel", v.to_string()));
        }
        if let Some(v) = self.kind {
            h.push(("kind", v.as_str().to_owned()));
        }
        if let Some(v) = self.status {
            h.push(("status", v.as_str().to_owned()));
        }
        if let Some(w) = self.when {
            h.push(("when", w.as_str().to_owned()));
        }
        h
    }

    /// The query string of these filters (and `extra`), for links.
    fn query(&self, plan_id: i64, extra: &[(&str, String)]) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("plan", &plan_id.to_string());
        if let Some(v) = self.campaign {
            q.append_pair("campaign", &v.to_string());
        }
        if let Some(v) = self.channel {
            q.append_pair("channel", &v.to_string());
        }
        if let Some(v) = self.kind {
            q.append_pair("kind", v.as_str());
        }
        if let Some(v) = self.status {
            q.append_pair("status", v.as_str());
        }
        if let Some(w) = self.when {
            q.append_pair("when", w.as_str());
        }
        for (k, v) in extra {
            q.append_pair(k, v);
        }
        q.finish()
    }
}

#[derive(Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// The filter form's selects.
pub struct FilterForm {
    pub plan_id: i64,
    pub campaigns: Vec<Choice>,
    pub channels: Vec<Choice>,
    pub kinds: Vec<Choice>,
    pub statuses: Vec<Choice>,
    pub when: Option<&'static str>,
    /// Other parameters the form keeps (the week or month shown).
    pub keep: Vec<(&'static str, String)>,
}

#[derive(Clone)]
pub struct Item {
    pub id: i64,
    pub title: String,
    pub when: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub kind: &'static str,
    pub tbc: bool,
    pub tentative: bool,
    pub recurrence: Option<String>,
    pub place: Option<String>,
}

impl Item {
    pub fn class(&self) -> &'static str {
        if self.tbc {
            "item-tbc"
        } else if self.tentative {
            "item-tentative"
        } else {
            ""
        }
    }
}

pub fn item(t: &Tr, a: &Activity, zone: Zone) -> Item {
    Item {
        id: a.id,
        title: a.title.clone(),
        when: format::timing(t, &a.timing, zone),
        status: status_label(t, a.status),
        status_class: status_class(a.status),
        kind: kind_label(t, a.kind),
        tbc: a.timing == Timing::ToBeConfirmed,
        tentative: a.status == ActivityStatus::Tentative,
        recurrence: a.recurrence.as_ref().map(|r| format::rrule(t, &r.rule)),
        place: a.place.name.clone(),
    }
}

pub fn status_class(s: ActivityStatus) -> &'static str {
    match s {
        ActivityStatus::Draft => "status-draft",
        ActivityStatus::Planned => "status-planned",
        ActivityStatus::Tentative => "status-tentative",
        ActivityStatus::Confirmed => "status-confirmed",
        ActivityStatus::Done => "status-done",
        ActivityStatus::Cancelled => "status-cancelled",
        ActivityStatus::Failed => "status-failed",
    }
}

pub struct Group {
    pub heading: String,
    pub items: Vec<Item>,
}

#[derive(askama::Template)]
#[template(path = "team/agenda.html")]
pub struct AgendaPage {
    pub c: Chrome,
    pub form: FilterForm,
    pub groups: Vec<Group>,
    pub total: usize,
    pub calendar_link: String,
    pub prev: Option<String>,
    pub next: Option<String>,
    pub page_label: String,
}

/// Items on one page of the agenda.
const AGENDA_PAGE: i64 = 100;

async fn filter_form(
    state: &State,
    t: &Tr,
    lang: crate::domain::Language,
    plan_id: i64,
    f: &Filters,
) -> crate::Result<FilterForm> {
    let (campaigns, channels) = state
        .db
        .run(move |c| {
            let all = PageRequest {
                page: Some(1),
                per_page: Some(500),
            };
            Ok((
                crate::db::campaigns::list(c, Some(plan_id), None, all)?.items,
                crate::db::channels::list(c, None, all)?.items,
            ))
        })
        .await?;
    Ok(FilterForm {
        plan_id,
        campaigns: campaigns
            .iter()
            .map(|k| Choice {
                value: k.id.to_string(),
                label: crate::domain::language::pick(&k.translations, lang)
                    .map(|(_, tr)| tr.title.clone())
                    .unwrap_or_else(|| k.slug.clone()),
                selected: f.campaign == Some(k.id),
            })
            .collect(),
        channels: channels
            .iter()
            .map(|ch| Choice {
                value: ch.id.to_string(),
                label: ch.name.clone(),
                selected: f.channel == Some(ch.id),
            })
            .collect(),
        kinds: ActivityKind::ALL
            .iter()
            .map(|k| Choice {
                value: k.as_str().to_owned(),
                label: kind_label(t, *k).to_owned(),
                selected: f.kind == Some(*k),
            })
            .collect(),
        statuses: ActivityStatus::ALL
            .iter()
            .map(|s| Choice {
                value: s.as_str().to_owned(),
                label: status_label(t, *s).to_owned(),
                selected: f.status == Some(*s),
            })
            .collect(),
        when: f.when.map(When::as_str),
        keep: Vec::new(),
    })
}

/// What the agenda, month and week pages start from: the page's chrome,
/// the viewer's zone, the filters asked for and the plan shown; or the
/// answer instead (to sign-in, "no plan yet" under the page's `title`, an
/// error page).
async fn shown_plan(
    state: &State,
    req: &HttpRequest,
    title: &str,
) -> Result<(Chrome, Zone, Filters, crate::domain::plan::Plan), HttpResponse> {
    let Some(who) = signed_in(req) else {
        return Err(to_sign_in(req));
    };
    let mut c = chrome(state, req, Some(&who), None).await;
    let t = c.tr();
    match plans(state, req).await {
        Ok((_, Some(plan))) => Ok((c, format::viewer_zone(req), Filters::of(req), plan)),
        Ok((_, None)) => Err(page::message(
            StatusCode::OK,
            &mut c,
            t.t(title),
            t.t("overview.no_plan"),
            None,
        )),
        Err(e) => Err(page::error_page(&mut c, &e)),
    }
}

pub async fn agenda(state: State, req: HttpRequest) -> HttpResponse {
    let (mut c, zone, f, plan) = match shown_plan(&state, &req, "nav.agenda").await {
        Ok(start) => start,
        Err(answer) => return answer,
    };
    let t = c.tr();
    let filter = f.filter(plan.id);
    let asked = PageRequest {
        page: query(&req, "page")
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|p| *p >= 1),
        per_page: Some(AGENDA_PAGE),
    };
    let today = state.clock.now().date_naive();
    let when = f.when;
    // A page of the list in date order, undated last, cut in SQL; a "when"
    // view (due, late, to be confirmed) is decided per item, then cut.
    let found = state
        .db
        .run(move |conn| match when {
            None => crate::db::activities::list_as(conn, &filter, asked, Detail::Listing),
            Some(w) => {
                let mut all = crate::db::activities::all_as(conn, &filter, Detail::Listing)?;
                all.retain(|a| w.admits(a, today));
                Ok(asked.slice(all))
            }
        })
        .await;
    let found = match found {
        Ok(a) => a,
        Err(e) => return page::error_page(&mut c, &e),
    };
    let (total, pages) = (found.total, found.pages());
    let mut activities = found.items;
    for a in &mut activities {
        a.localise(c.lang);
    }
    let mut groups: Vec<Group> = Vec::new();
    let mut tbc = Vec::new();
    for a in &activities {
        match a.timing.date_range() {
            None => tbc.push(item(&t, a, zone)),
            Some((start, _)) => {
                let heading = format::month_year(&t, start.year(), start.month());
                match groups.last_mut() {
                    Some(g) if g.heading == heading => g.items.push(item(&t, a, zone)),
                    _ => groups.push(Group {
                        heading,
                        items: vec![item(&t, a, zone)],
                    }),
                }
            }
        }
    }
    if !tbc.is_empty() {
        groups.push(Group {
            heading: t.t("timing.tbc").to_owned(),
            items: tbc,
        });
    }
    let form = match filter_form(&state, &t, c.lang, plan.id, &f).await {
        Ok(form) => form,
        Err(e) => return page::error_page(&mut c, &e),
    };
    c.set_title(t.t("nav.agenda"));
    let number = asked.page();
    let link = |n: i64| {
        format!(
            "/app/agenda?{}",
            f.query(plan.id, &[("page", n.to_string())])
        )
    };
    let page = AgendaPage {
        total: total as usize,
        prev: (number > 1).then(|| link(number - 1)),
        next: (number < pages).then(|| link(number + 1)),
        page_label: t.f(
            "nl.page_of",
            &[
                ("page", &number.to_string()),
                ("pages", &pages.max(1).to_string()),
            ],
        ),
        calendar_link: format!("/app/calendar?{}", f.query(plan.id, &[])),
        form,
        groups,
        c,
    };
    render(StatusCode::OK, &page.c, &page)
}

/// Puts each dated activity on the days of `days` it covers, between
/// `first` and `last` (a series: each occurrence on its day, at its own
/// time); month-precision ones are returned apart ("sometime this month"),
/// to-be-confirmed ones are on no day.
fn place_on_days(
    t: &Tr,
    activities: &[Activity],
    zone: Zone,
    days: &mut [(NaiveDate, Vec<Item>)],
    first: NaiveDate,
    last: NaiveDate,
) -> Vec<Item> {
    let mut whole_month = Vec::new();
    for a in activities {
        if let Timing::Month(_) = a.timing {
            whole_month.push(item(t, a, zone));
            continue;
        }
        let spans: Vec<(NaiveDate, NaiveDate, String)> = match &a.occurrences {
            Some(occ) if a.recurrence.is_some() => occ
                .iter()
                .filter_map(|o| {
                    Some((
                        format::view_start_date(&o.timing)?,
                        format::view_end_date(&o.timing)?,
                        format::timing_view(t, &o.timing, zone),
                    ))
                })
                .collect(),
            _ => a
                .timing
                .date_range()
                .map(|(s, e)| vec![(s, e, format::timing(t, &a.timing, zone))])
                .unwrap_or_default(),
        };
        for (s, e, when) in spans {
            for (day, items) in days.iter_mut() {
                if *day >= s && *day <= e && *day >= first && *day <= last {
                    let mut it = item(t, a, zone);
                    it.when = when.clone();
                    items.push(it);
                }
            }
        }
    }
    whole_month
}

/// The day a calendar opens on without one asked for: today when the plan has
/// something in today's `span` (month or week, `same` telling), else the next
/// dated item's day, else the last one's.
async fn default_day(
    state: &State,
    filter: &ActivityFilter,
    today: NaiveDate,
    same: impl Fn(NaiveDate, NaiveDate) -> bool,
) -> NaiveDate {
    let all = filter.clone();
    let starts: Vec<NaiveDate> = state
        .db
        .run(move |conn| crate::db::activities::first_days(conn, &all))
        .await
        .unwrap_or_default();
    if starts.iter().any(|s| same(*s, today)) {
        today
    } else {
        starts
            .iter()
            .filter(|s| **s >= today)
            .min()
            .or(starts.iter().max())
            .copied()
            .unwrap_or(today)
    }
}

pub struct DayCell {
    pub day: u32,
    pub label: String,
    pub in_month: bool,
    pub items: Vec<Item>,
    /// How many more the day has, linked to it in the week view.
    pub more: Option<Link>,
}

#[derive(askama::Template)]
#[template(path = "team/calendar.html")]
pub struct CalendarPage {
    pub c: Chrome,
    pub form: FilterForm,
    pub heading: String,
    pub weekdays: Vec<&'static str>,
    pub weeks: Vec<Vec<DayCell>>,
    pub whole_month: Vec<Item>,
    pub tbc: Vec<Item>,
    pub tbc_more: Option<Link>,
    pub prev: String,
    pub next: String,
    pub month_value: String,
    pub agenda_link: String,
    pub week_link: String,
}

fn parse_month(v: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(&format!("{v}-01"), "%Y-%m-%d").ok()
}

fn last_day(first: NaiveDate) -> NaiveDate {
    (first + chrono::Months::new(1)).pred_opt().unwrap_or(first)
}

pub async fn calendar(state: State, req: HttpRequest) -> HttpResponse {
    let (mut c, zone, f, plan) = match shown_plan(&state, &req, "nav.calendar").await {
        Ok(start) => start,
        Err(answer) => return answer,
    };
    let t = c.tr();
    let today = state.clock.now().date_naive();
    let plan_filter = f.filter(plan.id);
    let asked = query(&req, "month").and_then(|m| parse_month(&m));
    // Without ?month=: this month, or the month of the plan's next (else last) item.
    let first = match asked {
        Some(m) => m,
        None => {
            let pick = default_day(&state, &plan_filter, today, |a, b| {
                a.year() == b.year() && a.month() == b.month()
            })
            .await;
            pick.with_day(1).unwrap_or(pick)
        }
    };
    let last = last_day(first);
    let mut in_range = plan_filter.clone();
    in_range.from = Some(first);
    in_range.to = Some(last);
    let undated = plan_filter.clone();
    let when = f.when;
    let found = state
        .db
        .run(move |conn| {
            day_grid(
                conn,
                &in_range,
                &undated,
                when.is_some(),
                first,
                last,
                DAY_ITEMS,
            )
        })
        .await;
    let (mut month_items, grid, (mut everything, tbc_total)) = match found {
        Ok(x) => x,
        Err(e) => return page::error_page(&mut c, &e),
    };
    if let Some(w) = f.when {
        month_items.retain(|a| w.admits(a, today));
        everything.retain(|a| w.admits(a, today));
    }
    for a in month_items.iter_mut().chain(everything.iter_mut()) {
        a.localise(c.lang);
    }
    // Each day of the grid, Monday first.
    let grid_start = first - chrono::Days::new(first.weekday().num_days_from_monday() as u64);
    let mut days: Vec<(NaiveDate, Vec<Item>)> = Vec::new();
    let mut d = grid_start;
    while d <= last || d.weekday() != chrono::Weekday::Mon {
        days.push((d, Vec::new()));
        d = d.succ_opt().unwrap_or(d);
        if days.len() > 42 {
            break;
        }
    }
    let whole_month = place_on_days(&t, &month_items, zone, &mut days, first, last);
    let (tbc, tbc_more) = tbc_list(&t, &everything, tbc_total, zone, &f, plan.id);
    let weeks = days
        .chunks(7)
        .map(|w| {
            w.iter()
                .map(|(d, items)| {
                    let mut items = items.clone();
                    if let Some(grid) = &grid {
                        let (shown, _) = grid.day(*d);
                        items.retain(|i| shown.contains(&i.id));
                    }
                    let more = more_link(&t, grid.as_ref(), *d, || {
                        format!(
                            "/app/calendar/week?{}#day-{d}",
                            f.query(plan.id, &[("week", d.to_string())])
                        )
                    });
                    DayCell {
                        day: d.day(),
                        label: format::date(&t, *d),
                        in_month: d.month() == first.month(),
                        items,
                        more,
                    }
                })
                .collect()
        })
        .collect();
    let prev = first - chrono::Months::new(1);
    let next = first + chrono::Months::new(1);
    // The week view opens on today's week when today is in this month.
    let week_of_month = if today.year() == first.year() && today.month() == first.month() {
        today
    } else {
        first
    };
    let form = match filter_form(&state, &t, c.lang, plan.id, &f).await {
        Ok(form) => form,
        Err(e) => return page::error_page(&mut c, &e),
    };
    let heading = format::month_year(&t, first.year(), first.month());
    c.set_title(format!("{} · {}", t.t("nav.calendar"), heading));
    let page = CalendarPage {
        weekdays: [
            chrono::Weekday::Mon,
            chrono::Weekday::Tue,
            chrono::Weekday::Wed,
            chrono::Weekday::Thu,
            chrono::Weekday::Fri,
            chrono::Weekday::Sat,
            chrono::Weekday::Sun,
        ]
        .iter()
        .map(|w| format::weekday_name(&t, *w))
        .collect(),
        prev: format!(
            "/app/calendar?{}",
            f.query(plan.id, &[("month", prev.format("%Y-%m").to_string())])
        ),
        next: format!(
            "/app/calendar?{}",
            f.query(plan.id, &[("month", next.format("%Y-%m").to_string())])
        ),
        month_value: first.format("%Y-%m").to_string(),
        agenda_link: format!("/app/agenda?{}", f.query(plan.id, &[])),
        week_link: format!(
            "/app/calendar/week?{}",
            f.query(plan.id, &[("week", week_of_month.to_string())])
        ),
        heading,
        weeks,
        whole_month,
        tbc,
        tbc_more,
        form,
        c,
    };
    render(StatusCode::OK, &page.c, &page)
}

/// Items a day of the month grid shows; the others are a link to that day
/// in the week view.
const DAY_ITEMS: usize = 4;

/// Items a day of the week view shows; the others are a link to the day view.
const WEEK_DAY_ITEMS: usize = 10;

/// What the month and week pages load: the items their days show (each day's
/// first `per_day`, found from the range's occurrences, only those loaded)
/// and the grid that placed them; and the first to-be-confirmed items and how
/// many there are. A "when" view (due, late) is decided per item, so it loads
/// the range whole, without a grid. Every item as a list shows it
/// ([`Detail::Listing`]).
#[allow(clippy::type_complexity)]
fn day_grid(
    conn: &mut crate::db::DbConnection,
    in_range: &ActivityFilter,
    undated: &ActivityFilter,
    per_item: bool,
    first: NaiveDate,
    last: NaiveDate,
    per_day: usize,
) -> crate::Result<(Vec<Activity>, Option<Grid>, (Vec<Activity>, i64))> {
    let tbc = crate::db::activities::to_be_confirmed(conn, undated, TBC_ITEMS, Detail::Listing)?;
    if per_item {
        let items = crate::db::activities::all_as(conn, in_range, Detail::Listing)?;
        return Ok((items, None, tbc));
    }
    let slots = crate::db::activities::slots_in_range(conn, in_range, first, last)?;
    let grid = Grid::pick(&slots, first, last, per_day);
    let items = crate::db::activities::in_order_for_range(
        conn,
        &grid.ids,
        first,
        last,
        None,
        Detail::Listing,
    )?;
    Ok((items, Some(grid), tbc))
}

/// How many more than it shows a day has, as a link (`href` for that day).
fn more_link(
    t: &Tr,
    grid: Option<&Grid>,
    d: NaiveDate,
    href: impl FnOnce() -> String,
) -> Option<Link> {
    let (shown, count) = grid?.day(d);
    (count > shown.len()).then(|| Link {
        label: t.f(
            "calendar.more",
            &[("n", &(count - shown.len()).to_string())],
        ),
        href: href(),
    })
}

/// Items to be confirmed the month and week pages list; the others are a
/// link to the agenda's list of them.
const TBC_ITEMS: i64 = 20;

/// What a month grid or a week shows of a range's occurrences: on each day
/// its first `per_day` activities (in list order) and how many there are;
/// every whole-month one; `ids`, the activities to load for that.
pub struct Grid {
    ids: Vec<i64>,
    days: std::collections::HashMap<NaiveDate, (Vec<i64>, usize)>,
}

impl Grid {
    fn pick(
        slots: &[crate::db::activities::DaySlot],
        first: NaiveDate,
        last: NaiveDate,
        per_day: usize,
    ) -> Grid {
        let mut on_day: std::collections::BTreeMap<NaiveDate, Vec<i64>> = Default::default();
        let mut ids: Vec<i64> = Vec::new();
        for &(id, s, e, _, whole_month) in slots {
            if whole_month {
                if !ids.contains(&id) {
                    ids.push(id);
                }
                continue;
            }
            for day in s.max(first).iter_days().take_while(|d| *d <= e.min(last)) {
                let found = on_day.entry(day).or_default();
                if !found.contains(&id) {
                    found.push(id);
                }
            }
        }
        let mut days = std::collections::HashMap::new();
        for (day, found) in on_day {
            let shown: Vec<i64> = found.iter().take(per_day).copied().collect();
            for id in &shown {
                if !ids.contains(id) {
                    ids.push(*id);
                }
            }
            days.insert(day, (shown, found.len()));
        }
        Grid { ids, days }
    }

    /// The activities a day shows, and how many touch it.
    fn day(&self, d: NaiveDate) -> (&[i64], usize) {
        self.days
            .get(&d)
            .map(|(shown, n)| (shown.as_slice(), *n))
            .unwrap_or((&[], 0))
    }
}

/// A link with its text.
pub struct Link {
    pub label: String,
    pub href: String,
}

/// The to-be-confirmed list of the month and week pages, and the link to all
/// of them when there are more than it shows.
fn tbc_list(
    t: &Tr,
    listed: &[Activity],
    total: i64,
    zone: Zone,
    f: &Filters,
    plan_id: i64,
) -> (Vec<Item>, Option<Link>) {
    let items: Vec<Item> = listed
        .iter()
        .filter(|a| a.timing == Timing::ToBeConfirmed)
        .map(|a| item(t, a, zone))
        .collect();
    let more = (f.when.is_none() && total > items.len() as i64).then(|| {
        let all = Filters {
            when: Some(When::Tbc),
            ..f.clone()
        };
        Link {
            label: t.f("calendar.all_tbc", &[("n", &total.to_string())]),
            href: format!("/app/agenda?{}", all.query(plan_id, &[])),
        }
    });
    (items, more)
}

pub struct WeekDay {
    pub label: String,
    pub id: String,
    pub today: bool,
    pub items: Vec<Item>,
    /// How many more the day has, linked to the day view.
    pub more: Option<Link>,
}

#[derive(askama::Template)]
#[template(path = "team/week.html")]
pub struct WeekPage {
    pub c: Chrome,
    pub form: FilterForm,
    pub heading: String,
    pub days: Vec<WeekDay>,
    pub whole_month: Vec<Item>,
    pub tbc: Vec<Item>,
    pub tbc_more: Option<Link>,
    pub prev: String,
    pub next: String,
    /// The labels of the navigation: weeks, or days in the day view.
    pub nav_label: &'static str,
    pub prev_label: &'static str,
    pub next_label: &'static str,
    pub pick_label: &'static str,
    /// The picker's parameter: `week`, or `day` in the day view.
    pub pick_name: &'static str,
    pub week_value: String,
    pub hidden: Vec<(&'static str, String)>,
    /// The day view's link to its week.
    pub week_link: Option<String>,
    pub month_link: String,
    pub agenda_link: String,
}

/// The Monday of the week a day is in.
fn monday_of(d: NaiveDate) -> NaiveDate {
    d - chrono::Days::new(d.weekday().num_days_from_monday() as u64)
}

/// The week view: seven days, Monday first, each a section headed by its
/// date (what a screen reader announces), its items listed at their times,
/// the first [`WEEK_DAY_ITEMS`] of each day and a link to the rest; `?week=`
/// is any day of the week (a date picker sends one). With `?day=`, the day
/// view: that one day, every item of it.
pub async fn week(state: State, req: HttpRequest) -> HttpResponse {
    let (mut c, zone, f, plan) = match shown_plan(&state, &req, "week.title").await {
        Ok(start) => start,
        Err(answer) => return answer,
    };
    let t = c.tr();
    let today = state.clock.now().date_naive();
    let plan_filter = f.filter(plan.id);
    let date =
        |name: &str| query(&req, name).and_then(|v| NaiveDate::parse_from_str(&v, "%Y-%m-%d").ok());
    let one_day = date("day");
    let (first, last) = match one_day {
        Some(d) => (d, d),
        None => {
            let first = monday_of(match date("week") {
                Some(d) => d,
                None => {
                    default_day(&state, &plan_filter, today, |a, b| {
                        monday_of(a) == monday_of(b)
                    })
                    .await
                }
            });
            (first, first + chrono::Days::new(6))
        }
    };
    let mut in_range = plan_filter.clone();
    in_range.from = Some(first);
    in_range.to = Some(last);
    let undated = plan_filter.clone();
    // The day view shows its every item: no grid.
    let per_item = f.when.is_some() || one_day.is_some();
    let found = state
        .db
        .run(move |conn| {
            day_grid(
                conn,
                &in_range,
                &undated,
                per_item,
                first,
                last,
                WEEK_DAY_ITEMS,
            )
        })
        .await;
    let (mut week_items, grid, (mut everything, tbc_total)) = match found {
        Ok(x) => x,
        Err(e) => return page::error_page(&mut c, &e),
    };
    if let Some(w) = f.when {
        week_items.retain(|a| w.admits(a, today));
        everything.retain(|a| w.admits(a, today));
    }
    for a in week_items.iter_mut().chain(everything.iter_mut()) {
        a.localise(c.lang);
    }
    let mut days: Vec<(NaiveDate, Vec<Item>)> = first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|d| (d, Vec::new()))
        .collect();
    let whole_month = place_on_days(&t, &week_items, zone, &mut days, first, last);
    let (tbc, tbc_more) = tbc_list(&t, &everything, tbc_total, zone, &f, plan.id);
    let mut form = match filter_form(&state, &t, c.lang, plan.id, &f).await {
        Ok(form) => form,
        Err(e) => return page::error_page(&mut c, &e),
    };
    let pick_name = if one_day.is_some() { "day" } else { "week" };
    form.keep.push((pick_name, first.to_string()));
    let heading = match one_day {
        Some(d) => format::date(&t, d),
        None => t
            .t("week.heading")
            .replace("{from}", &format::date(&t, first))
            .replace("{to}", &format::date(&t, last)),
    };
    c.set_title(heading.clone());
    let link = |name: &str, d: NaiveDate| {
        format!(
            "/app/calendar/week?{}",
            f.query(plan.id, &[(name, d.to_string())])
        )
    };
    let step = chrono::Days::new(if one_day.is_some() { 1 } else { 7 });
    let (nav_label, prev_label, next_label, pick_label) = if one_day.is_some() {
        (
            t.t("week.days"),
            t.t("week.previous_day"),
            t.t("week.next_day"),
            t.t("week.pick_day"),
        )
    } else {
        (
            t.t("week.weeks"),
            t.t("week.previous"),
            t.t("week.next"),
            t.t("week.pick"),
        )
    };
    let page = WeekPage {
        days: days
            .into_iter()
            .map(|(d, mut items)| {
                if let Some(grid) = &grid {
                    let (shown, _) = grid.day(d);
                    items.retain(|i| shown.contains(&i.id));
                }
                WeekDay {
                    label: format::date(&t, d),
                    id: format!("day-{d}"),
                    today: d == today,
                    more: more_link(&t, grid.as_ref(), d, || link("day", d)),
                    items,
                }
            })
            .collect(),
        prev: link(pick_name, first - step),
        next: link(pick_name, first + step),
        nav_label,
        prev_label,
        next_label,
        pick_label,
        pick_name,
        week_value: first.to_string(),
        hidden: f.hidden(),
        week_link: one_day.map(|d| format!("{}#day-{d}", link("week", d))),
        month_link: format!(
            "/app/calendar?{}",
            f.query(plan.id, &[("month", first.format("%Y-%m").to_string())])
        ),
        agenda_link: format!("/app/agenda?{}", f.query(plan.id, &[])),
        heading,
        whole_month,
        tbc,
        tbc_more,
        form,
        c,
    };
    render(StatusCode::OK, &page.c, &page)
}
