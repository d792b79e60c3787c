// One schema for both backends: only SQL types both SQLite and PostgreSQL share
// (BigInt ids, Integer counters, Text, Bool, Date, and Timestamp holding UTC).

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        name -> Text,
        role -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    organisations (id) {
        id -> BigInt,
        slug -> Text,
        name -> Text,
        kind -> Text,
        description -> Nullable<Text>,
        website -> Nullable<Text>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    people (id) {
        id -> BigInt,
        name -> Text,
        title -> Nullable<Text>,
        organisation_id -> Nullable<BigInt>,
        email -> Nullable<Text>,
        language -> Nullable<Text>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    plans (id) {
        id -> BigInt,
        slug -> Text,
        title -> Text,
        description -> Nullable<Text>,
        organisation_id -> BigInt,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    plan_periods (id) {
        id -> BigInt,
        plan_id -> BigInt,
        position -> Integer,
        name -> Text,
        description -> Nullable<Text>,
        starts_on -> Nullable<Date>,
        ends_on -> Nullable<Date>,
    }
}

diesel::table! {
    plan_goals (id) {
        id -> BigInt,
        plan_id -> BigInt,
        position -> Integer,
        period_id -> Nullable<BigInt>,
        description -> Text,
    }
}

diesel::table! {
    channels (id) {
        id -> BigInt,
        slug -> Text,
        kind -> Text,
        name -> Text,
        network -> Nullable<Text>,
        handle -> Nullable<Text>,
        url -> Nullable<Text>,
        organisation_id -> Nullable<BigInt>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    campaigns (id) {
        id -> BigInt,
        plan_id -> BigInt,
        slug -> Text,
        status -> Text,
        starts_on -> Nullable<Date>,
        ends_on -> Nullable<Date>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    campaign_translations (campaign_id, lang) {
        campaign_id -> BigInt,
        lang -> Text,
        title -> Text,
        description -> Nullable<Text>,
    }
}

diesel::table! {
    campaign_channels (campaign_id, channel_id) {
        campaign_id -> BigInt,
        channel_id -> BigInt,
    }
}

diesel::table! {
    activities (id) {
        id -> BigInt,
        uid -> Text,
        plan_id -> BigInt,
        period_id -> Nullable<BigInt>,
        campaign_id -> Nullable<BigInt>,
        kind -> Text,
        status -> Text,
        visibility -> Text,
        owner_person_id -> Nullable<BigInt>,
        owner_organisation_id -> Nullable<BigInt>,
        time_precision -> Text,
        starts_at -> Nullable<Timestamp>,
        ends_at -> Nullable<Timestamp>,
        time_zone -> Nullable<Text>,
        start_date -> Nullable<Date>,
        end_date -> Nullable<Date>,
        rrule -> Nullable<Text>,
        place_name -> Nullable<Text>,
        place_address -> Nullable<Text>,
        place_url -> Nullable<Text>,
        actual_start_date -> Nullable<Date>,
        actual_end_date -> Nullable<Date>,
        source_organisation_id -> Nullable<BigInt>,
        external_uid -> Nullable<Text>,
        external_sequence -> Nullable<Integer>,
        external_last_modified -> Nullable<Timestamp>,
        sequence -> Integer,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        cancelled_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    activity_translations (activity_id, lang) {
        activity_id -> BigInt,
        lang -> Text,
        title -> Text,
        description -> Nullable<Text>,
    }
}

diesel::table! {
    activity_channels (activity_id, channel_id) {
        activity_id -> BigInt,
        channel_id -> BigInt,
    }
}

diesel::table! {
    activity_partners (activity_id, organisation_id) {
        activity_id -> BigInt,
        organisation_id -> BigInt,
        role -> Text,
    }
}

diesel::table! {
    activity_exceptions (activity_id, recurrence_id) {
        activity_id -> BigInt,
        recurrence_id -> Text,
        cancelled -> Bool,
        starts_at -> Nullable<Timestamp>,
        ends_at -> Nullable<Timestamp>,
        start_date -> Nullable<Date>,
        end_date -> Nullable<Date>,
    }
}

diesel::table! {
    post_variants (activity_id, channel_id, lang) {
        activity_id -> BigInt,
        channel_id -> BigInt,
        lang -> Text,
        body -> Text,
    }
}

diesel::table! {
    participations (id) {
        id -> BigInt,
        activity_id -> BigInt,
        person_id -> BigInt,
        role -> Text,
        represents_organisation_id -> Nullable<BigInt>,
        note -> Nullable<Text>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(people -> organisations (organisation_id));
diesel::joinable!(plans -> organisations (organisation_id));
diesel::joinable!(plan_periods -> plans (plan_id));
diesel::joinable!(plan_goals -> plans (plan_id));
diesel::joinable!(campaigns -> plans (plan_id));
diesel::joinable!(campaign_translations -> campaigns (campaign_id));
diesel::joinable!(campaign_channels -> campaigns (campaign_id));
diesel::joinable!(campaign_channels -> channels (channel_id));
diesel::joinable!(activities -> plans (plan_id));
diesel::joinable!(activities -> campaigns (campaign_id));
diesel::joinable!(activity_translations -> activities (activity_id));
diesel::joinable!(activity_channels -> activities (activity_id));
diesel::joinable!(activity_channels -> channels (channel_id));
diesel::joinable!(activity_exceptions -> activities (activity_id));
diesel::joinable!(participations -> activities (activity_id));
diesel::joinable!(participations -> people (person_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_tokens,
    organisations,
    people,
    plans,
    plan_periods,
    plan_goals,
    channels,
    campaigns,
    campaign_translations,
    campaign_channels,
    activities,
    activity_translations,
    activity_channels,
    activity_partners,
    activity_exceptions,
    post_variants,
    participations,
);

diesel::table! {
    feeds (id) {
        id -> BigInt,
        name -> Text,
        organisation_id -> Nullable<BigInt>,
        token_hash -> Text,
        lang -> Nullable<Text>,
        filters -> Text,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    deletions (entity) {
        entity -> Text,
        last_deleted_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(feeds, organisations);
