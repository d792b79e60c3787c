//! The report as an HTML page (askama template `templates/report/progress.html`;
//! every value is escaped by the template engine).

use super::i18n::Catalogue;
use super::model::{Item, Report, Tally};
use crate::error::{Error, Result};
use askama::Template;

#[derive(Template)]
#[template(path = "report/progress.html")]
struct Page<'a> {
    r: &'a Report,
    t: &'static Catalogue,
    totals: Vec<(String, &'a Tally)>,
    unconfirmed: Vec<&'a Item>,
    called_off: Vec<&'a Item>,
}

pub fn render(r: &Report) -> Result<String> {
    let t = Catalogue::of(r.lang);
    let index = r.index();
    let c = &r.totals;
    let totals = vec![
        (t.planned.to_owned(), &c.planned),
        (t.done.to_owned(), &c.done),
        (format!("{} ({})", t.done, t.on_time), &c.done_on_time),
        (format!("{} ({})", t.done, t.late), &c.done_late),
        (t.overdue.to_owned(), &c.overdue),
        (t.upcoming.to_owned(), &c.upcoming),
        (t.unconfirmed.to_owned(), &c.unconfirmed),
        (t.cancelled.to_owned(), &c.cancelled),
        (t.failed.to_owned(), &c.failed),
    ];
    let pick = |ids: &[i64]| ids.iter().filter_map(|id| index.get(id).copied()).collect();
    Page {
        r,
        t,
        totals,
        unconfirmed: pick(&r.unconfirmed),
        called_off: pick(&r.called_off),
    }
    .render()
    .map_err(|e| Error::Internal(anyhow::anyhow!("report template: {e}")))
}
