use super::macros::text_enum;

text_enum!(
    /// What an activity of the plan is.
    ActivityKind {
        Milestone => "milestone",
        NewsletterIssue => "newsletter_issue",
        SocialPost => "social_post",
        Event => "event",
        LearningMeeting => "learning_meeting",
        ProgressReport => "progress_report",
        External => "external",
    }
);

text_enum!(
    /// Where an activity (or campaign) stands.
    ActivityStatus {
        Draft => "draft",
        Planned => "planned",
        Tentative => "tentative",
        Confirmed => "confirmed",
        Done => "done",
        Cancelled => "cancelled",
    }
);

text_enum!(
    /// Public activities appear in the public calendar feed; internal ones only to
    /// API users and private feeds.
    Visibility {
        Public => "public",
        Internal => "internal",
    }
);

text_enum!(
    /// How a partner organisation takes part in an activity.
    PartnerRole {
        CoOrganiser => "co_organiser",
        Host => "host",
        Partner => "partner",
        Audience => "audience",
    }
);

text_enum!(
    /// How a person takes part in an activity.
    ParticipantRole {
        Represents => "represents",
        Speaker => "speaker",
        Moderator => "moderator",
        CoOrganiser => "co_organiser",
        Organiser => "organiser",
        Attendee => "attendee",
    }
);

text_enum!(
    OrganisationKind {
        Community => "community",
        Secretariat => "secretariat",
        Partner => "partner",
        MemberGroup => "member_group",
        City => "city",
        External => "external",
    }
);

text_enum!(
    ChannelKind {
        Website => "website",
        Newsletter => "newsletter",
        Social => "social",
        Forum => "forum",
        Email => "email",
    }
);
