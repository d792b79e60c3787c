//! Each kind of record the plan holds, as the use-case layer writes it: its
//! history name, its personal fields, and the rules and effects of its changes.

use super::Context;
use super::records::{Record, plain_record};
use super::reviews::{self, Subject};
use crate::db::activities::DependsOn;
use crate::db::{self, DbConnection};
use crate::domain::activity::{Activity, ActivityInput};
use crate::domain::campaign::{Campaign, CampaignInput};
use crate::domain::channel::{Channel, ChannelInput};
use crate::domain::newsletter::{Issue, IssueInput, ListInput, MailingList};
use crate::domain::organisation::{Organisation, OrganisationInput};
use crate::domain::participation::{Participation, ParticipationInput};
use crate::domain::person::{Person, PersonInput};
use crate::domain::plan::{Plan, PlanInput};
use crate::domain::review;
use crate::error::Result;

plain_record!(
    Channels,
    "channel",
    ChannelInput,
    Channel,
    crate::db::channels
);
plain_record!(People, "person", PersonInput, Person, crate::db::people, personal: ["name", "email", "title"]);

/// Raises SEQUENCE and LAST-MODIFIED of the activities whose published form
/// depends on what changed.
fn touch_dependents(conn: &mut DbConnection, cx: &Context, on: DependsOn) -> Result<()> {
    let ids = db::activities::depending_on(conn, on)?;
    db::activities::touch(conn, &ids, cx.now)?;
    Ok(())
}

pub struct Plans;
impl Record for Plans {
    const ENTITY: &'static str = "plan";
    type Input = PlanInput;
    type Output = Plan;
    fn id(p: &Plan) -> i64 {
        p.id
    }
    fn get(conn: &mut DbConnection, id: i64) -> Result<Plan> {
        db::plans::get(conn, id)
    }
    fn insert(conn: &mut DbConnection, input: &PlanInput, cx: &Context) -> Result<Plan> {
        db::plans::create(conn, input, cx.now)
    }
    fn replace(
        conn: &mut DbConnection,
        id: i64,
        v: i32,
        input: &PlanInput,
        cx: &Context,
    ) -> Result<Plan> {
        db::plans::update(conn, id, v, input, cx.now)
    }
    fn remove(conn: &mut DbConnection, id: i64, cx: &Context) -> Result<()> {
        db::plans::delete(conn, id, cx.now)
    }
    /// A period whose dates moved moves the to-be-confirmed activities placed on it.
    fn after_update(
        conn: &mut DbConnection,
        cx: &Context,
        before: &Plan,
        after: &Plan,
    ) -> Result<()> {
        for period in &after.periods {
            let moved = before
                .periods
                .iter()
                .find(|p| p.id == period.id)
                .is_none_or(|p| {
                    (p.starts_on, p.ends_on, &p.name)
                        != (period.starts_on, period.ends_on, &period.name)
                });
            if moved {
                touch_dependents(conn, cx, DependsOn::PeriodDates(period.id))?;
            }
        }
        Ok(())
    }
}

pub struct Campaigns;
impl Record for Campaigns {
    const ENTITY: &'static str = "campaign";
    type Input = CampaignInput;
    type Output = Campaign;
    fn id(c: &Campaign) -> i64 {
        c.id
    }
    fn get(conn: &mut DbConnection, id: i64) -> Result<Campaign> {
        db::campaigns::get(conn, id)
    }
    fn insert(conn: &mut DbConnection, input: &CampaignInput, cx: &Context) -> Result<Campaign> {
        db::campaigns::create(conn, input, cx.now)
    }
    fn replace(
        conn: &mut DbConnection,
        id: i64,
        v: i32,
        input: &CampaignInput,
        cx: &Context,
    ) -> Result<Campaign> {
        db::campaigns::update(conn, id, v, input, cx.now)
    }
    fn remove(conn: &mut DbConnection, id: i64, cx: &Context) -> Result<()> {
        db::campaigns::delete(conn, id, cx.now)
    }
    /// Its names are its activities' categories in the feeds.
    fn after_update(
        conn: &mut DbConnection,
        cx: &Context,
        before: &Campaign,
        after: &Campaign,
    ) -> Result<()> {
        if serde_json::to_value(&before.translations).ok()
            != serde_json::to_value(&after.translations).ok()
        {
            touch_dependents(conn, cx, DependsOn::Campaign(after.id))?;
        }
        Ok(())
    }
}

pub struct Organisations;
impl Record for Organisations {
    const ENTITY: &'static str = "organisation";
    type Input = OrganisationInput;
    type Output = Organisation;
    fn id(o: &Organisation) -> i64 {
        o.id
    }
    fn get(conn: &mut DbConnection, id: i64) -> Result<Organisation> {
        db::organisations::get(conn, id)
    }
    fn insert(
        conn: &mut DbConnection,
        input: &OrganisationInput,
        cx: &Context,
    ) -> Result<Organisation> {
        db::organisations::create(conn, input, cx.now)
    }
    fn replace(
        conn: &mut DbConnection,
        id: i64,
        v: i32,
        input: &OrganisationInput,
        cx: &Context,
    ) -> Result<Organisation> {
        db::organisations::update(conn, id, v, input, cx.now)
    }
    fn remove(conn: &mut DbConnection, id: i64, cx: &Context) -> Result<()> {
        db::organisations::delete(conn, id, cx.now)
    }
    /// Partners are named in their activities' descriptions in the feeds.
    fn after_update(
        conn: &mut DbConnection,
        cx: &Context,
        before: &Organisation,
        after: &Organisation,
    ) -> Result<()> {
        if before.name != after.name {
            touch_dependents(conn, cx, DependsOn::Organisation(after.id))?;
        }
        Ok(())
    }
}

pub struct Participations;
impl Record for Participations {
    const ENTITY: &'static str = "participation";
    type Input = ParticipationInput;
    type Output = Participation;
    fn id(p: &Participation) -> i64 {
        p.id
    }
    fn get(conn: &mut DbConnection, id: i64) -> Result<Participation> {
        db::participations::get(conn, id)
    }
    fn insert(
        conn: &mut DbConnection,
        input: &ParticipationInput,
        cx: &Context,
    ) -> Result<Participation> {
        db::participations::create(conn, input, cx.now)
    }
    fn replace(
        conn: &mut DbConnection,
        id: i64,
        v: i32,
        input: &ParticipationInput,
        cx: &Context,
    ) -> Result<Participation> {
        db::participations::update(conn, id, v, input, cx.now)
    }
    fn remove(conn: &mut DbConnection, id: i64, cx: &Context) -> Result<()> {
        db::participations::delete(conn, id, cx.now)
    }
    /// Someone removed after being invited gets the cancellation.
    fn after_delete(conn: &mut DbConnection, cx: &Context, p: &Participation) -> Result<()> {
        db::invitations::uninvite(conn, p.activity_id, p.person_id, cx.now)?;
        Ok(())
    }
}

pub struct Activities;
impl Record for Activities {
    const ENTITY: &'static str = "activity";
    type Input = ActivityInput;
    type Output = Activity;
    fn id(a: &Activity) -> i64 {
        a.id
    }
    fn get(conn: &mut DbConnection, id: i64) -> Result<Activity> {
        db::activities::get(conn, id)
    }
    fn insert(conn: &mut DbConnection, input: &ActivityInput, cx: &Context) -> Result<Activity> {
        db::activities::create(conn, &input.validate()?, cx.now)
    }
    fn replace(
        conn: &mut DbConnection,
        id: i64,
        v: i32,
        input: &ActivityInput,
        cx: &Context,
    ) -> Result<Activity> {
        db::activities::update(conn, id, v, &input.validate()?, cx.now)
    }
    fn remove(conn: &mut DbConnection, id: i64, cx: &Context) -> Result<()> {
        db::activities::delete(conn, id, cx.now)
    }
    fn after_create(conn: &mut DbConnection, cx: &Context, a: &Activity) -> Result<()> {
        reviews::opened(
            conn,
            cx,
            Subject::Activity(a.id),
            &review::activity_content(a),
        )?;
        super::webhooks::activity_created(conn, cx, a)
    }
    /// People invited before get the change (or the cancellation); approved
    /// content that changed goes back to review.
    fn after_update(
        conn: &mut DbConnection,
        cx: &Context,
        before: &Activity,
        a: &Activity,
    ) -> Result<()> {
        db::invitations::follow_change(conn, a.id, cx.now)?;
        reviews::edited(
            conn,
            cx,
            Subject::Activity(a.id),
            &review::activity_content(a),
        )?;
        super::webhooks::activity_changed(conn, cx, before, a)
    }
    /// An activity people were invited to is cancelled (and they told) first.
    fn before_delete(conn: &mut DbConnection, _: &Context, a: &Activity) -> Result<()> {
        db::invitations::check_deletable(conn, a.id)
    }
    fn after_delete(conn: &mut DbConnection, _: &Context, a: &Activity) -> Result<()> {
        reviews::removed(conn, Subject::Activity(a.id))
    }
}

pub struct Issues;
impl Record for Issues {
    const ENTITY: &'static str = "issue";
    const HOOKS_CHANGE_IT: bool = true;
    type Input = IssueInput;
    type Output = Issue;
    fn id(i: &Issue) -> i64 {
        i.id
    }
    fn get(conn: &mut DbConnection, id: i64) -> Result<Issue> {
        db::issues::get(conn, id)
    }
    fn insert(conn: &mut DbConnection, input: &IssueInput, cx: &Context) -> Result<Issue> {
        db::issues::create(conn, input, cx.now)
    }
    fn replace(
        conn: &mut DbConnection,
        id: i64,
        v: i32,
        input: &IssueInput,
        cx: &Context,
    ) -> Result<Issue> {
        db::issues::update(conn, id, v, input, cx.now)
    }
    fn remove(conn: &mut DbConnection, id: i64, cx: &Context) -> Result<()> {
        db::issues::delete(conn, id, cx.now)
    }
    fn after_create(conn: &mut DbConnection, cx: &Context, i: &Issue) -> Result<()> {
        reviews::opened(conn, cx, Subject::Issue(i.id), &review::issue_content(i))
    }
    fn after_update(conn: &mut DbConnection, cx: &Context, _: &Issue, i: &Issue) -> Result<()> {
        reviews::edited(conn, cx, Subject::Issue(i.id), &review::issue_content(i))?;
        super::sending::unschedule_unapproved(conn, cx, i)
    }
    fn after_delete(conn: &mut DbConnection, _: &Context, i: &Issue) -> Result<()> {
        reviews::removed(conn, Subject::Issue(i.id))
    }
}

pub struct Lists;
impl Record for Lists {
    const ENTITY: &'static str = "list";
    type Input = ListInput;
    type Output = MailingList;
    fn id(l: &MailingList) -> i64 {
        l.id
    }
    fn get(conn: &mut DbConnection, id: i64) -> Result<MailingList> {
        db::subscribers::get_list(conn, id)
    }
    fn insert(conn: &mut DbConnection, input: &ListInput, cx: &Context) -> Result<MailingList> {
        db::subscribers::create_list(conn, input, cx.now)
    }
    fn replace(
        conn: &mut DbConnection,
        id: i64,
        v: i32,
        input: &ListInput,
        cx: &Context,
    ) -> Result<MailingList> {
        db::subscribers::update_list(conn, id, v, input, cx.now)
    }
    fn remove(conn: &mut DbConnection, id: i64, cx: &Context) -> Result<()> {
        db::subscribers::delete_list(conn, id, cx.now)
    }
}
