//! Tables of the job mechanism, outbound webhooks and social posts (kept
//! apart from `schema.rs`, which every area shares).

diesel::table! {
    jobs (id) {
        id -> BigInt,
        kind -> Text,
        idempotency_key -> Text,
        payload -> Text,
        state -> Text,
        attempts -> Integer,
        unknown_outcomes -> Integer,
        next_attempt_at -> Timestamp,
        claimed_by -> Nullable<Text>,
        claimed_until -> Nullable<Timestamp>,
        last_result -> Nullable<Text>,
        remote_id -> Nullable<Text>,
        remote_url -> Nullable<Text>,
        first_attempt_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    job_attempts (id) {
        id -> BigInt,
        job_id -> BigInt,
        attempt -> Integer,
        worker -> Text,
        started_at -> Timestamp,
        finished_at -> Timestamp,
        outcome -> Text,
        request -> Nullable<Text>,
        status -> Nullable<Integer>,
        reply -> Nullable<Text>,
        remote_id -> Nullable<Text>,
        remote_url -> Nullable<Text>,
    }
}

diesel::table! {
    job_workers (id) {
        id -> Text,
        host -> Text,
        pid -> Integer,
        started_at -> Timestamp,
        heartbeat_at -> Timestamp,
    }
}

diesel::joinable!(job_attempts -> jobs (job_id));
diesel::allow_tables_to_appear_in_same_query!(jobs, job_attempts, job_workers);

diesel::table! {
    webhook_endpoints (id) {
        id -> BigInt,
        url -> Text,
        description -> Nullable<Text>,
        event_types -> Text,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_secrets (id) {
        id -> BigInt,
        endpoint_id -> BigInt,
        sealed -> Text,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_deliveries (job_id) {
        job_id -> BigInt,
        endpoint_id -> BigInt,
        event_id -> Text,
        event_type -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(webhook_secrets -> webhook_endpoints (endpoint_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
diesel::joinable!(webhook_deliveries -> jobs (job_id));
diesel::allow_tables_to_appear_in_same_query!(
    jobs,
    webhook_endpoints,
    webhook_secrets,
    webhook_deliveries
);

diesel::table! {
    channel_accounts (id) {
        id -> BigInt,
        network -> Text,
        base_url -> Text,
        handle -> Nullable<Text>,
        sealed_credentials -> Nullable<Text>,
        limits -> Nullable<Text>,
        limits_fetched_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        channel_id -> Nullable<BigInt>,
        sealed_session -> Nullable<Text>,
        name -> Nullable<Text>,
        disabled_at -> Nullable<Timestamp>,
        deleted_at -> Nullable<Timestamp>,
        credentials_version -> Integer,
        config -> Nullable<Text>,
    }
}

diesel::table! {
    post_publications (activity_id, channel_id, lang) {
        activity_id -> BigInt,
        channel_id -> BigInt,
        lang -> Text,
        channel_account_id -> BigInt,
        content_hash -> Text,
        job_id -> BigInt,
        state -> Text,
        remote_id -> Nullable<Text>,
        remote_url -> Nullable<Text>,
        reason -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    bluesky_records (job_id) {
        job_id -> BigInt,
        rkey -> Text,
        record -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    manual_done_links (token_hash) {
        token_hash -> Text,
        job_id -> BigInt,
        lang -> Text,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    manual_post_deliveries (job_id, recipient) {
        job_id -> BigInt,
        recipient -> Text,
        message_id -> Text,
        sent_at -> Timestamp,
    }
}

diesel::table! {
    post_parts (job_id, part) {
        job_id -> BigInt,
        part -> Integer,
        rkey -> Nullable<Text>,
        record -> Nullable<Text>,
        remote_id -> Nullable<Text>,
        cid -> Nullable<Text>,
        remote_url -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    post_media (id) {
        id -> BigInt,
        activity_id -> BigInt,
        channel_id -> BigInt,
        lang -> Text,
        part -> Integer,
        position -> Integer,
        mime_type -> Text,
        size -> BigInt,
        sha256 -> Text,
        alt -> Text,
        data -> Binary,
        created_at -> Timestamp,
    }
}

diesel::table! {
    post_media_uploads (job_id, media_id) {
        job_id -> BigInt,
        media_id -> BigInt,
        remote -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(post_publications -> channel_accounts (channel_account_id));
diesel::allow_tables_to_appear_in_same_query!(post_publications, channel_accounts, jobs);

diesel::table! {
    inbound_mailboxes (id) {
        id -> BigInt,
        name -> Text,
        uid_validity -> BigInt,
        last_uid -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    inbound_messages (id) {
        id -> BigInt,
        mailbox_id -> BigInt,
        uid_validity -> BigInt,
        uid -> BigInt,
        message_id -> Nullable<Text>,
        outcome -> Text,
        detail -> Text,
        received_at -> Timestamp,
    }
}

diesel::joinable!(inbound_messages -> inbound_mailboxes (mailbox_id));
diesel::allow_tables_to_appear_in_same_query!(inbound_mailboxes, inbound_messages);
