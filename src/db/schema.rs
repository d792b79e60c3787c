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
        account_id -> BigInt,
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
        rdates -> Nullable<Text>,
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
        location -> Nullable<Text>,
    }
}

diesel::table! {
    activity_exception_translations (activity_id, recurrence_id, lang) {
        activity_id -> BigInt,
        recurrence_id -> Text,
        lang -> Text,
        title -> Text,
        description -> Nullable<Text>,
    }
}

diesel::table! {
    post_variants (activity_id, channel_id, lang) {
        activity_id -> BigInt,
        channel_id -> BigInt,
        lang -> Text,
        body -> Text,
        content_warning -> Nullable<Text>,
        thread -> Nullable<Text>,
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
        answer -> Nullable<Text>,
        answered_at -> Nullable<Timestamp>,
        answer_sequence -> Nullable<Integer>,
    }
}

diesel::table! {
    mailing_lists (id) {
        id -> BigInt,
        slug -> Text,
        name -> Text,
        description -> Nullable<Text>,
        public_subscribe -> Bool,
        default_language -> Text,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    subscribers (id) {
        id -> BigInt,
        email -> Text,
        name -> Nullable<Text>,
        language -> Text,
        status -> Text,
        soft_bounces -> Integer,
        suppressed_at -> Nullable<Timestamp>,
        suppression_reason -> Nullable<Text>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    subscriptions (id) {
        id -> BigInt,
        list_id -> BigInt,
        subscriber_id -> BigInt,
        status -> Text,
        source -> Text,
        requested_at -> Timestamp,
        confirmed_at -> Nullable<Timestamp>,
        confirm_sent_at -> Nullable<Timestamp>,
        confirm_expires_at -> Nullable<Timestamp>,
        unsubscribed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    newsletter_issues (id) {
        id -> BigInt,
        uid -> Text,
        name -> Text,
        activity_id -> Nullable<BigInt>,
        state -> Text,
        scheduled_at -> Nullable<Timestamp>,
        schedule_zone -> Nullable<Text>,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    newsletter_issue_lists (issue_id, list_id) {
        issue_id -> BigInt,
        list_id -> BigInt,
    }
}

diesel::table! {
    newsletter_issue_translations (issue_id, lang) {
        issue_id -> BigInt,
        lang -> Text,
        subject -> Text,
        body_markdown -> Text,
    }
}

diesel::table! {
    deliveries (id) {
        id -> BigInt,
        kind -> Text,
        issue_id -> Nullable<BigInt>,
        subscriber_id -> Nullable<BigInt>,
        subscription_id -> Nullable<BigInt>,
        activity_id -> Nullable<BigInt>,
        person_id -> Nullable<BigInt>,
        email -> Text,
        name -> Nullable<Text>,
        language -> Text,
        method -> Nullable<Text>,
        sequence -> Nullable<Integer>,
        message_id -> Text,
        state -> Text,
        attempts -> Integer,
        unknown_outcomes -> Integer,
        next_attempt_at -> Timestamp,
        claimed_by -> Nullable<Text>,
        claimed_at -> Nullable<Timestamp>,
        smtp_code -> Nullable<Integer>,
        smtp_reply -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
        bounced_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        first_attempt_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    bounces (id) {
        id -> BigInt,
        email -> Text,
        kind -> Text,
        subscriber_id -> Nullable<BigInt>,
        delivery_id -> Nullable<BigInt>,
        reason -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    dispatchers (id) {
        id -> Text,
        host -> Text,
        pid -> Integer,
        started_at -> Timestamp,
        heartbeat_at -> Timestamp,
    }
}

diesel::table! {
    email_limits (id) {
        id -> Integer,
        rate_per_second -> Nullable<Integer>,
        rate_per_hour -> Nullable<Integer>,
        concurrency -> Nullable<Integer>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    service_secrets (name) {
        name -> Text,
        value -> Text,
        created_at -> Timestamp,
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
diesel::joinable!(activity_exception_translations -> activities (activity_id));
diesel::joinable!(participations -> activities (activity_id));
diesel::joinable!(participations -> people (person_id));

diesel::joinable!(subscriptions -> mailing_lists (list_id));
diesel::joinable!(subscriptions -> subscribers (subscriber_id));
diesel::joinable!(newsletter_issue_lists -> newsletter_issues (issue_id));
diesel::joinable!(newsletter_issue_lists -> mailing_lists (list_id));
diesel::joinable!(newsletter_issue_translations -> newsletter_issues (issue_id));
diesel::joinable!(deliveries -> newsletter_issues (issue_id));

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
    activity_exception_translations,
    post_variants,
    participations,
    mailing_lists,
    subscribers,
    subscriptions,
    newsletter_issues,
    newsletter_issue_lists,
    newsletter_issue_translations,
    deliveries,
    bounces,
    dispatchers,
    email_limits,
    service_secrets,
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

diesel::table! {
    history (id) {
        id -> BigInt,
        at -> Timestamp,
        actor_kind -> Text,
        account_id -> Nullable<BigInt>,
        token_id -> Nullable<BigInt>,
        session_id -> Nullable<BigInt>,
        organisation_id -> Nullable<BigInt>,
        entity -> Text,
        entity_id -> BigInt,
        action -> Text,
        changes -> Text,
        reason -> Nullable<Text>,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    reviews (entity, entity_id) {
        entity -> Text,
        entity_id -> BigInt,
        state -> Text,
        content_hash -> Text,
        approved_hash -> Nullable<Text>,
        author_account_id -> Nullable<BigInt>,
        last_editor_account_id -> Nullable<BigInt>,
        approved_by_account_id -> Nullable<BigInt>,
        approved_by_kind -> Nullable<Text>,
        approved_at -> Nullable<Timestamp>,
        comment -> Nullable<Text>,
        updated_at -> Timestamp,
        standing_hash -> Nullable<Text>,
    }
}

diesel::table! {
    accounts (id) {
        id -> BigInt,
        kind -> Text,
        email -> Nullable<Text>,
        name -> Text,
        language -> Text,
        role -> Text,
        status -> Text,
        password_hash -> Nullable<Text>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(api_tokens -> accounts (account_id));
diesel::allow_tables_to_appear_in_same_query!(accounts, api_tokens);

diesel::table! {
    sign_in_links (id) {
        id -> BigInt,
        account_id -> BigInt,
        secret_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        account_id -> BigInt,
        secret_hash -> Text,
        method -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        last_seen_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sign_in_failures (id) {
        id -> BigInt,
        account_id -> Nullable<BigInt>,
        ip -> Text,
        failed_at -> Timestamp,
    }
}

diesel::joinable!(sign_in_links -> accounts (account_id));
diesel::joinable!(sessions -> accounts (account_id));
diesel::allow_tables_to_appear_in_same_query!(accounts, sign_in_links, sessions, sign_in_failures);

diesel::table! {
    activity_import_fingerprints (activity_id) {
        activity_id -> BigInt,
        dtstamp -> Nullable<Timestamp>,
        content_hash -> Text,
        categories -> Nullable<Text>,
    }
}

diesel::joinable!(activity_import_fingerprints -> activities (activity_id));
diesel::allow_tables_to_appear_in_same_query!(activity_import_fingerprints, activities);

diesel::table! {
    activity_spans (activity_id) {
        activity_id -> BigInt,
        occurs_from -> Nullable<Date>,
        occurs_until -> Nullable<Date>,
        long_span -> Bool,
        occurrences_stored -> Bool,
        stored_through -> Nullable<Date>,
    }
}

diesel::joinable!(activity_spans -> activities (activity_id));

diesel::table! {
    activity_occurrences (activity_id, n) {
        activity_id -> BigInt,
        n -> Integer,
        starts_on -> Date,
        ends_on -> Date,
        starts_at -> Nullable<Timestamp>,
        long_span -> Bool,
        plan_id -> BigInt,
        campaign_id -> Nullable<BigInt>,
        kind -> Text,
        status -> Text,
        visibility -> Text,
        source_organisation_id -> Nullable<BigInt>,
        time_precision -> Text,
        series -> Bool,
        one_day -> Bool,
        earlier_until -> Nullable<Date>,
    }
}

diesel::joinable!(activity_occurrences -> activities (activity_id));
diesel::allow_tables_to_appear_in_same_query!(activity_occurrences, activities);
diesel::allow_tables_to_appear_in_same_query!(activity_occurrences, activity_channels);
diesel::allow_tables_to_appear_in_same_query!(activity_occurrences, activity_translations);
diesel::allow_tables_to_appear_in_same_query!(activity_spans, activities);
diesel::allow_tables_to_appear_in_same_query!(activity_spans, activity_channels);
diesel::allow_tables_to_appear_in_same_query!(activity_spans, activity_translations);

diesel::table! {
    account_preferences (account_id) {
        account_id -> BigInt,
        weekly_digest -> Bool,
        updated_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(account_preferences, accounts);
