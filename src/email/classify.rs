//! What a relay's refusal means for the address: one function for the
//! replies seen while sending (RCPT, DATA, after the content) and for the
//! statuses in delivery status notifications.
//!
//! The enhanced status code (RFC 3463, `5.1.1`) decides when there is one;
//! otherwise the basic code and a few phrases relays use. "No such user"
//! (the address does not exist, its domain does not take mail) suppresses
//! the address for future sends, like a hard bounce; a policy refusal
//! (`5.7.x`: spam filter, reputation, DMARC, a blocked sender) is about the
//! message or the sender, not the address, so it is recorded and nothing is
//! suppressed.

/// What one reply means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx.
    Delivered,
    /// 421: the relay closing the channel or throttling; nothing about the
    /// recipient.
    RelayClosing,
    /// Any other 4xx: try again later.
    Temporary,
    /// The address does not exist: suppress it.
    NoSuchUser,
    /// Refused by policy (5.7.x): record, do not suppress.
    Policy,
    /// Another permanent failure (mailbox full for good, message too big…).
    Permanent,
}

impl Verdict {
    /// Whether the address must get nothing more.
    pub fn suppresses(self) -> bool {
        self == Verdict::NoSuchUser
    }
}

/// Enhanced status codes that say the address itself is bad: bad mailbox
/// (5.1.1), bad domain (5.1.2), bad syntax (5.1.3), moved without a
/// forwarding address (5.1.6), null MX (5.1.10), mailbox disabled (5.2.1).
const NO_SUCH_USER: &[(u16, u16)] = &[(1, 1), (1, 2), (1, 3), (1, 6), (1, 10), (2, 1)];

const NO_SUCH_USER_PHRASES: &[&str] = &[
    "no such user",
    "user unknown",
    "unknown user",
    "does not exist",
    "doesn't exist",
    "mailbox not found",
    "no mailbox",
    "recipient not found",
    "unknown recipient",
    "invalid recipient",
    "address rejected",
];

const POLICY_PHRASES: &[&str] = &[
    "policy",
    "spam",
    "blocked",
    "blacklist",
    "blocklist",
    "reputation",
    "dmarc",
];

/// Classifies a reply: `code` is the basic SMTP code when there is one
/// (`None` for a DSN's `Status:` field), `text` the rest, which may start
/// with an enhanced status code.
pub fn classify(code: Option<u16>, text: &str) -> Verdict {
    let enhanced = enhanced_status(text);
    let class = enhanced
        .map(|(class, _, _)| class)
        .or_else(|| code.map(|c| c / 100));
    match class {
        Some(2) => return Verdict::Delivered,
        Some(4) => {
            return if code == Some(421) {
                Verdict::RelayClosing
            } else {
                Verdict::Temporary
            };
        }
        Some(5) => {}
        _ if code == Some(421) => return Verdict::RelayClosing,
        _ => return Verdict::Permanent,
    }
    if let Some((_, subject, detail)) = enhanced {
        return if NO_SUCH_USER.contains(&(subject, detail)) {
            Verdict::NoSuchUser
        } else if subject == 7 {
            Verdict::Policy
        } else {
            Verdict::Permanent
        };
    }
    let lower = text.to_ascii_lowercase();
    if NO_SUCH_USER_PHRASES.iter().any(|p| lower.contains(p)) {
        Verdict::NoSuchUser
    } else if POLICY_PHRASES.iter().any(|p| lower.contains(p)) {
        Verdict::Policy
    } else {
        Verdict::Permanent
    }
}

/// The first word of `text` shaped like `class.subject.detail`.
fn enhanced_status(text: &str) -> Option<(u16, u16, u16)> {
    text.split(|c: char| c.is_whitespace() || c == ';' || c == '(' || c == ')')
        .find_map(|word| {
            let word = word.trim_end_matches([',', '.', ':']);
            let mut parts = word.split('.');
            let class: u16 = parts.next()?.parse().ok()?;
            let subject: u16 = parts.next()?.parse().ok()?;
            let detail: u16 = parts.next()?.parse().ok()?;
            (parts.next().is_none()
                && matches!(class, 2 | 4 | 5)
                && subject < 1000
                && detail < 1000)
                .then_some((class, subject, detail))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Verdict::*;

    #[test]
    fn the_table() {
        let table: &[(Option<u16>, &str, Verdict)] = &[
            (Some(250), "2.0.0 Ok: queued as 4BqKcp6Wz", Delivered),
            (
                Some(421),
                "4.7.0 too many connections, closing",
                RelayClosing,
            ),
            (Some(421), "closing", RelayClosing),
            (Some(451), "4.7.1 greylisted, try later", Temporary),
            (Some(452), "4.2.2 mailbox full", Temporary),
            (
                Some(550),
                "5.1.1 <ana@example.org>: Recipient address rejected: User unknown",
                NoSuchUser,
            ),
            (
                Some(550),
                "5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
                NoSuchUser,
            ),
            (
                Some(550),
                "5.1.2 bad destination system address",
                NoSuchUser,
            ),
            (Some(553), "5.1.3 bad recipient address syntax", NoSuchUser),
            (
                Some(550),
                "5.2.1 The email account that you tried to reach is disabled",
                NoSuchUser,
            ),
            (Some(550), "No such user here", NoSuchUser),
            (
                Some(550),
                "mailbox unavailable: user does not exist",
                NoSuchUser,
            ),
            (
                Some(554),
                "5.7.1 Message rejected due to content restrictions",
                Policy,
            ),
            (
                Some(550),
                "5.7.26 Unauthenticated email is not accepted (DMARC)",
                Policy,
            ),
            (
                Some(550),
                "5.7.1 Service unavailable; client host blocked using Spamhaus",
                Policy,
            ),
            // The enhanced code decides over the words.
            (
                Some(550),
                "5.7.1 relaying denied: user unknown here",
                Policy,
            ),
            (Some(554), "Message refused as spam", Policy),
            (Some(552), "5.2.2 mailbox full", Permanent),
            (Some(552), "5.3.4 message too big", Permanent),
            (Some(554), "transaction failed", Permanent),
            // DSN Status fields: no basic code.
            (None, "5.1.1", NoSuchUser),
            (None, "5.1.1 smtp; 550 5.1.1 user unknown", NoSuchUser),
            (None, "5.7.1 smtp; 550 5.7.1 blocked by policy", Policy),
            (None, "4.4.7 delivery time expired", Temporary),
            (None, "5.0.0", Permanent),
            (None, "", Permanent),
        ];
        for (code, text, expected) in table {
            assert_eq!(classify(*code, text), *expected, "{code:?} {text}");
        }
    }

    #[test]
    fn only_no_such_user_suppresses() {
        assert!(NoSuchUser.suppresses());
        for v in [Delivered, RelayClosing, Temporary, Policy, Permanent] {
            assert!(!v.suppresses(), "{v:?}");
        }
    }

    #[test]
    fn enhanced_status_is_found_in_its_forms() {
        assert_eq!(enhanced_status("5.1.1 user unknown"), Some((5, 1, 1)));
        assert_eq!(enhanced_status("smtp; 550 5.1.10 nope"), Some((5, 1, 10)));
        assert_eq!(enhanced_status("(5.7.1)"), Some((5, 7, 1)));
        assert_eq!(enhanced_status("version 1.2.3 of"), None);
        assert_eq!(enhanced_status("no code here"), None);
    }
}
