//! The report's own words in Spanish, English and French. Kept here rather
//! than in the interface catalogue so the report renders the same in the API,
//! the CLI, the PDF and the emails that carry it.

use super::model::{Counts, Outcome};
use crate::domain::Language;
use crate::domain::activity::{ActivityKind, ParticipantRole, PartnerRole};
use crate::domain::timing::Precision;

pub struct Catalogue {
    pub lang: &'static str,
    pub title: &'static str,
    pub period: &'static str,
    pub generated: &'static str,
    pub goals: &'static str,
    pub summary: &'static str,
    pub planned: &'static str,
    pub done: &'static str,
    pub on_time: &'static str,
    pub late: &'static str,
    pub overdue: &'static str,
    pub upcoming: &'static str,
    pub unconfirmed: &'static str,
    pub cancelled: &'static str,
    pub failed: &'static str,
    pub no_period: &'static str,
    pub no_campaign: &'static str,
    pub no_channel: &'static str,
    pub campaign: &'static str,
    pub channel: &'static str,
    pub item: &'static str,
    pub planned_date: &'static str,
    pub actual_date: &'static str,
    pub delay: &'static str,
    pub days: &'static str,
    pub outcome: &'static str,
    pub by_channel: &'static str,
    pub unconfirmed_title: &'static str,
    pub unconfirmed_for: &'static str,
    pub since: &'static str,
    pub called_off_title: &'static str,
    pub reason: &'static str,
    pub no_reason: &'static str,
    pub changes_title: &'static str,
    pub changes_since: &'static str,
    pub no_changes: &'static str,
    pub newsletter_title: &'static str,
    pub newsletter_note: &'static str,
    pub issue: &'static str,
    pub recipients: &'static str,
    pub delivered: &'static str,
    pub bounced: &'static str,
    pub unsubscribed: &'static str,
    pub unknown: &'static str,
    pub no_issues: &'static str,
    pub events_title: &'static str,
    pub represented_by: &'static str,
    pub partners: &'static str,
    pub no_events: &'static str,
    pub none: &'static str,
    pub records: &'static str,
    pub personal_value: &'static str,
    pub tbc: &'static str,
    pub serves: &'static str,
}

const ES: Catalogue = Catalogue {
    lang: "es",
    title: "Informe de avance",
    period: "Periodo",
    generated: "Generado el",
    goals: "Objetivos",
    summary: "Resumen",
    planned: "Previstas",
    done: "Realizadas",
    on_time: "a tiempo",
    late: "con retraso",
    overdue: "Vencidas sin realizar",
    upcoming: "Pendientes",
    unconfirmed: "Por confirmar",
    cancelled: "Canceladas",
    failed: "Fallidas",
    no_period: "Sin periodo",
    no_campaign: "Sin campaña",
    no_channel: "Sin canal",
    campaign: "Campaña",
    channel: "Canal",
    item: "Actividad",
    planned_date: "Fecha prevista",
    actual_date: "Fecha real",
    delay: "Retraso",
    days: "días",
    outcome: "Estado",
    by_channel: "Por periodo, campaña y canal",
    unconfirmed_title: "Pendientes de confirmación",
    unconfirmed_for: "sin confirmar desde hace",
    since: "desde",
    called_off_title: "Canceladas y fallidas",
    reason: "Motivo",
    no_reason: "sin motivo registrado",
    changes_title: "Cambios desde el informe anterior",
    changes_since: "Cambios registrados desde",
    no_changes: "Ningún cambio registrado.",
    newsletter_title: "Alcance del boletín",
    newsletter_note: "Cifras de los registros de envío. Pregón no registra aperturas ni clics: no rastrea a sus lectores.",
    issue: "Número",
    recipients: "Destinatarios",
    delivered: "Entregados",
    bounced: "Rebotados",
    unsubscribed: "Bajas después",
    unknown: "Resultado desconocido",
    no_issues: "Ningún boletín enviado en el periodo.",
    events_title: "Eventos y reuniones con participación",
    represented_by: "En representación",
    partners: "Socios",
    no_events: "Ningún evento realizado en el periodo.",
    none: "ninguno",
    records: "registros",
    personal_value: "(dato personal, no se muestra)",
    tbc: "por confirmar",
    serves: "Sirve a los objetivos",
};

const EN: Catalogue = Catalogue {
    lang: "en",
    title: "Progress report",
    period: "Period",
    generated: "Generated on",
    goals: "Goals",
    summary: "Summary",
    planned: "Planned",
    done: "Done",
    on_time: "on time",
    late: "late",
    overdue: "Overdue, not done",
    upcoming: "Upcoming",
    unconfirmed: "To be confirmed",
    cancelled: "Cancelled",
    failed: "Failed",
    no_period: "No period",
    no_campaign: "No campaign",
    no_channel: "No channel",
    campaign: "Campaign",
    channel: "Channel",
    item: "Activity",
    planned_date: "Planned",
    actual_date: "Actual",
    delay: "Delay",
    days: "days",
    outcome: "Outcome",
    by_channel: "By period, campaign and channel",
    unconfirmed_title: "Still to be confirmed",
    unconfirmed_for: "unconfirmed for",
    since: "since",
    called_off_title: "Cancelled and failed",
    reason: "Reason",
    no_reason: "no reason recorded",
    changes_title: "Changes since the previous report",
    changes_since: "Changes recorded since",
    no_changes: "No change recorded.",
    newsletter_title: "Newsletter reach",
    newsletter_note: "Figures from the delivery records. Pregón records no opens or clicks: it does not track its readers.",
    issue: "Issue",
    recipients: "Recipients",
    delivered: "Delivered",
    bounced: "Bounced",
    unsubscribed: "Unsubscribed after",
    unknown: "Outcome unknown",
    no_issues: "No newsletter issue sent in the period.",
    events_title: "Events and meetings attended",
    represented_by: "Represented by",
    partners: "Partners",
    no_events: "No event took place in the period.",
    none: "none",
    records: "records",
    personal_value: "(personal data, not shown)",
    tbc: "to be confirmed",
    serves: "Serves the goals",
};

const FR: Catalogue = Catalogue {
    lang: "fr",
    title: "Rapport d’avancement",
    period: "Période",
    generated: "Généré le",
    goals: "Objectifs",
    summary: "Synthèse",
    planned: "Prévues",
    done: "Réalisées",
    on_time: "à temps",
    late: "en retard",
    overdue: "Échues, non réalisées",
    upcoming: "À venir",
    unconfirmed: "À confirmer",
    cancelled: "Annulées",
    failed: "Échouées",
    no_period: "Sans période",
    no_campaign: "Sans campagne",
    no_channel: "Sans canal",
    campaign: "Campagne",
    channel: "Canal",
    item: "Activité",
    planned_date: "Date prévue",
    actual_date: "Date réelle",
    delay: "Retard",
    days: "jours",
    outcome: "État",
    by_channel: "Par période, campagne et canal",
    unconfirmed_title: "En attente de confirmation",
    unconfirmed_for: "non confirmée depuis",
    since: "depuis le",
    called_off_title: "Annulées et échouées",
    reason: "Motif",
    no_reason: "aucun motif enregistré",
    changes_title: "Changements depuis le rapport précédent",
    changes_since: "Changements enregistrés depuis le",
    no_changes: "Aucun changement enregistré.",
    newsletter_title: "Portée de la lettre d’information",
    newsletter_note: "Chiffres issus des registres d’envoi. Pregón n’enregistre ni ouvertures ni clics : il ne suit pas ses lecteurs.",
    issue: "Numéro",
    recipients: "Destinataires",
    delivered: "Remis",
    bounced: "Rejetés",
    unsubscribed: "Désinscriptions après",
    unknown: "Résultat inconnu",
    no_issues: "Aucune lettre envoyée pendant la période.",
    events_title: "Événements et réunions avec participation",
    represented_by: "Représentée par",
    partners: "Partenaires",
    no_events: "Aucun événement réalisé pendant la période.",
    none: "aucun",
    records: "enregistrements",
    personal_value: "(donnée personnelle, non affichée)",
    tbc: "à confirmer",
    serves: "Sert les objectifs",
};

impl Catalogue {
    /// The one-line summary of `c` that the Markdown and the PDF show.
    pub fn counts_line(&self, c: &Counts) -> String {
        format!(
            "{} {} · {} {} ({} {}, {} {}) · {} {} · {} {} · {} {} · {} {} · {} {}",
            self.planned,
            c.planned.count,
            self.done,
            c.done.count,
            c.done_on_time.count,
            self.on_time,
            c.done_late.count,
            self.late,
            self.overdue,
            c.overdue.count,
            self.upcoming,
            c.upcoming.count,
            self.unconfirmed,
            c.unconfirmed.count,
            self.cancelled,
            c.cancelled.count,
            self.failed,
            c.failed.count
        )
    }

    pub fn of(lang: Language) -> &'static Catalogue {
        match lang {
            Language::Es => &ES,
            Language::En => &EN,
            Language::Fr => &FR,
        }
    }

    pub fn outcome(&self, o: Outcome) -> String {
        match o {
            Outcome::DoneOnTime => format!("{} ({})", self.done, self.on_time),
            Outcome::DoneLate => format!("{} ({})", self.done, self.late),
            Outcome::Done => self.done.to_owned(),
            Outcome::Overdue => self.overdue.to_owned(),
            Outcome::Upcoming => self.upcoming.to_owned(),
            Outcome::Unconfirmed => self.unconfirmed.to_owned(),
            Outcome::Cancelled => self.cancelled.to_owned(),
            Outcome::Failed => self.failed.to_owned(),
        }
    }

    /// `outcome` and `dates` for templates, which hold fields by reference.
    pub fn outcome_of(&self, o: &Outcome) -> String {
        self.outcome(*o)
    }

    pub fn dates_of(
        &self,
        start: &Option<chrono::NaiveDate>,
        end: &Option<chrono::NaiveDate>,
    ) -> String {
        self.dates(*start, *end)
    }

    pub fn precision(&self, p: Precision) -> &'static str {
        match p {
            Precision::Tbc => self.tbc,
            _ => "",
        }
    }

    pub fn kind(&self, k: ActivityKind) -> &'static str {
        use ActivityKind::*;
        match (self.lang, k) {
            ("es", Milestone) => "hito",
            ("es", NewsletterIssue) => "boletín",
            ("es", SocialPost) => "publicación en redes",
            ("es", Event) => "evento",
            ("es", LearningMeeting) => "reunión de aprendizaje",
            ("es", ProgressReport) => "informe de avance",
            ("es", External) => "externa",
            ("fr", Milestone) => "jalon",
            ("fr", NewsletterIssue) => "lettre d’information",
            ("fr", SocialPost) => "publication sur les réseaux",
            ("fr", Event) => "événement",
            ("fr", LearningMeeting) => "réunion d’apprentissage",
            ("fr", ProgressReport) => "rapport d’avancement",
            ("fr", External) => "externe",
            (_, Milestone) => "milestone",
            (_, NewsletterIssue) => "newsletter issue",
            (_, SocialPost) => "social post",
            (_, Event) => "event",
            (_, LearningMeeting) => "learning meeting",
            (_, ProgressReport) => "progress report",
            (_, External) => "external",
        }
    }

    pub fn participant_role(&self, r: ParticipantRole) -> &'static str {
        use ParticipantRole::*;
        match (self.lang, r) {
            ("es", Represents) => "representa",
            ("es", Speaker) => "ponente",
            ("es", Moderator) => "modera",
            ("es", CoOrganiser) => "coorganiza",
            ("es", Organiser) => "organiza",
            ("es", Attendee) => "asiste",
            ("fr", Represents) => "représente",
            ("fr", Speaker) => "intervenant",
            ("fr", Moderator) => "modère",
            ("fr", CoOrganiser) => "co-organise",
            ("fr", Organiser) => "organise",
            ("fr", Attendee) => "participe",
            (_, Represents) => "represents",
            (_, Speaker) => "speaker",
            (_, Moderator) => "moderator",
            (_, CoOrganiser) => "co-organiser",
            (_, Organiser) => "organiser",
            (_, Attendee) => "attendee",
        }
    }

    pub fn partner_role(&self, r: PartnerRole) -> &'static str {
        use PartnerRole::*;
        match (self.lang, r) {
            ("es", CoOrganiser) => "coorganiza",
            ("es", Host) => "anfitrión",
            ("es", Partner) => "socio",
            ("es", Audience) => "público",
            ("fr", CoOrganiser) => "co-organise",
            ("fr", Host) => "hôte",
            ("fr", Partner) => "partenaire",
            ("fr", Audience) => "public",
            (_, CoOrganiser) => "co-organiser",
            (_, Host) => "host",
            (_, Partner) => "partner",
            (_, Audience) => "audience",
        }
    }

    /// A date range as the report prints it.
    pub fn dates(
        &self,
        start: Option<chrono::NaiveDate>,
        end: Option<chrono::NaiveDate>,
    ) -> String {
        match (start, end) {
            (Some(s), Some(e)) if s == e => s.to_string(),
            (Some(s), Some(e)) => format!("{s} – {e}"),
            (Some(s), None) => s.to_string(),
            _ => self.tbc.to_owned(),
        }
    }
}
