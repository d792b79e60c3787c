//! The transports against real sockets and files: lettre's SMTP client
//! talking to the in-process test server, and the file outbox.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use lettre::message::Mailbox;
use mail_parser::{MessageParser, MimeHeaders};
use pregon::email;

use crate::smtp_server::{ANY, Reply, Script, TestSmtpServer};
use email::message::{CalendarMethod, CalendarPart, Content, ListUnsubscribe, OutgoingEmail};
use email::transport::{
    FileOutbox, MailTransport, SendError, SmtpAccepted, SmtpSettings, SmtpTransport,
};

const ICS: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Pregon//ES\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:event-7@pregon.example\r\nDTSTAMP:20250314T092653Z\r\nDTSTART:20250401T170000Z\r\nDTEND:20250401T190000Z\r\nSUMMARY:Pleno municipal\r\nORGANIZER:mailto:boletin@pregon.example\r\nATTENDEE;RSVP=TRUE:mailto:ana@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

fn date() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, 9, 26, 53).unwrap()
}

fn message_id(delivery: u32) -> String {
    format!("<delivery-{delivery}.issue-9@pregon.example>")
}

fn outgoing(to: &str, delivery: u32) -> OutgoingEmail {
    let mut email = OutgoingEmail::new(
        Mailbox::new(
            Some("Ayuntamiento".to_owned()),
            "boletin@pregon.example".parse().unwrap(),
        ),
        Mailbox::new(Some("Ana".to_owned()), to.parse().unwrap()),
        "Boletín de marzo",
        "Hola Ana,\r\n\r\nNovedades del mes.\r\n",
        message_id(delivery),
        date(),
    );
    email.content = Content::text_and_html(
        "Hola Ana,\r\n\r\nNovedades del mes.\r\n",
        "<p>Hola Ana,</p><p>Novedades del mes.</p>",
    );
    email.list_unsubscribe = Some(ListUnsubscribe {
        https_url: Some(format!("https://pregon.example/u/{delivery}")),
        mailto: Some(format!("unsubscribe+{delivery}@pregon.example")),
    });
    email
}

fn settings(server: &TestSmtpServer) -> SmtpSettings {
    let mut settings = SmtpSettings::plain("127.0.0.1", server.port());
    settings.hello_name = Some("pregon.test".to_owned());
    settings.timeout_secs = 5;
    settings
}

fn transport(server: &TestSmtpServer) -> SmtpTransport {
    SmtpTransport::new(&settings(server)).unwrap()
}

async fn send(
    transport: &dyn MailTransport,
    email: &OutgoingEmail,
) -> Result<SmtpAccepted, SendError> {
    let message = email.build().unwrap();
    transport.send(&message, message.envelope()).await
}

fn unfold(value: &str) -> String {
    value.replace("\r\n", "").trim().to_owned()
}

#[tokio::test]
async fn message_is_received_once_with_the_right_headers_and_parts() {
    let server = TestSmtpServer::start().await;
    let transport = transport(&server);
    let mut email = outgoing("ana@example.org", 123);
    email.calendar = Some(CalendarPart {
        method: CalendarMethod::Request,
        ics: ICS.to_owned(),
        attach_ics: true,
    });

    let accepted = send(&transport, &email).await.unwrap();
    assert_eq!(accepted.code, 250);
    assert_eq!(accepted.reply, "2.0.0 Ok: queued as 0");

    let received = server.messages();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].mail_from, "boletin@pregon.example");
    assert_eq!(received[0].rcpt_to, ["ana@example.org"]);
    assert!(server.unacknowledged().is_empty());

    let parsed = MessageParser::default()
        .parse(&received[0].data[..])
        .unwrap();
    assert_eq!(
        parsed.message_id(),
        Some("delivery-123.issue-9@pregon.example")
    );
    assert_eq!(parsed.date().unwrap().to_timestamp(), date().timestamp());
    assert_eq!(parsed.subject(), Some("Boletín de marzo"));
    assert_eq!(
        unfold(parsed.header_raw("List-Unsubscribe").unwrap()),
        "<https://pregon.example/u/123>, <mailto:unsubscribe+123@pregon.example>"
    );
    assert_eq!(
        parsed.header_raw("List-Unsubscribe-Post").unwrap().trim(),
        "List-Unsubscribe=One-Click"
    );

    let root = parsed.content_type().unwrap();
    assert_eq!((root.ctype(), root.subtype()), ("multipart", Some("mixed")));
    let alternative = parsed.part(1).unwrap().content_type().unwrap();
    assert_eq!(alternative.subtype(), Some("alternative"));
    assert_eq!(
        parsed.body_text(0).unwrap().replace("\r\n", "\n"),
        "Hola Ana,\n\nNovedades del mes.\n"
    );
    assert!(
        parsed
            .body_html(0)
            .unwrap()
            .contains("<p>Novedades del mes.</p>")
    );
    let calendar = parsed
        .parts
        .iter()
        .find(|part| part.is_content_type("text", "calendar"))
        .expect("text/calendar part");
    assert_eq!(
        calendar.content_type().unwrap().attribute("method"),
        Some("REQUEST")
    );
    assert!(calendar.text_contents().unwrap().contains("METHOD:REQUEST"));
    let invite = parsed
        .parts
        .iter()
        .find(|part| part.is_content_type("application", "ics"))
        .expect("invite.ics attachment");
    assert_eq!(invite.attachment_name(), Some("invite.ics"));
    assert_eq!(invite.contents(), ICS.as_bytes());

    assert_eq!(server.command_count("MAIL"), 1);
    assert_eq!(server.command_count("DATA"), 1);
}

#[tokio::test]
async fn envelope_is_pipelined_when_the_relay_offers_it() {
    for pipelining in [true, false] {
        let server = TestSmtpServer::start().await;
        server.advertise_pipelining(pipelining);
        server.on_rcpt("bad@example.org", Script::always("550 5.1.1 no such user"));
        let transport = transport(&server);
        let refused = send(&transport, &outgoing("bad@example.org", 1))
            .await
            .unwrap_err();
        assert!(
            matches!(refused, SendError::Permanent { code: 550, .. }),
            "{refused:?}"
        );
        send(&transport, &outgoing("ana@example.org", 2))
            .await
            .unwrap();
        let received = server.messages();
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].rcpt_to, ["ana@example.org"]);
        // The refusal left the session in step: the same connection went on.
        assert_eq!(server.connection_count(), 1);
        let mail: Vec<_> = server
            .commands()
            .into_iter()
            .filter(|c| c.verb() == "MAIL")
            .collect();
        assert_eq!(mail.len(), 2);
        assert!(
            mail.iter().all(|c| c.pipelined == pipelining),
            "pipelining offered: {pipelining}; {mail:?}"
        );
    }
}

#[tokio::test]
async fn dot_stuffing_round_trips() {
    let server = TestSmtpServer::start().await;
    let transport = transport(&server);
    let mut email = outgoing("ana@example.org", 1);
    email.content = Content::Text {
        text: ".\r\n..two dots\r\n.one dot\r\nend\r\n".to_owned(),
        html: None,
    };
    send(&transport, &email).await.unwrap();
    let data = &server.messages()[0].data;
    // Byte for byte what was built: the message's own last CRLF ends the
    // data, so no empty line is added in transit.
    let expected = email.build().unwrap().formatted();
    assert_eq!(
        String::from_utf8_lossy(data),
        String::from_utf8_lossy(&expected)
    );
    let parsed = MessageParser::default().parse(&data[..]).unwrap();
    assert!(
        parsed
            .body_text(0)
            .unwrap()
            .starts_with(".\r\n..two dots\r\n.one dot\r\nend\r\n")
    );
}

#[tokio::test]
async fn rcpt_451_is_temporary_until_the_server_accepts() {
    let server = TestSmtpServer::start().await;
    server.on_rcpt("ana@example.org", Script::first(2, "451 4.7.1 try later"));
    let transport = transport(&server);
    let email = outgoing("ana@example.org", 1);

    for _ in 0..2 {
        assert_eq!(
            send(&transport, &email).await,
            Err(SendError::Temporary {
                code: 451,
                reply: "4.7.1 try later".to_owned()
            })
        );
    }
    send(&transport, &email).await.unwrap();
    assert_eq!(server.messages().len(), 1);
    // A rejected recipient costs an RSET, not a new connection.
    assert_eq!(server.connection_count(), 1);
    assert_eq!(server.command_count("RSET"), 2);
}

#[tokio::test]
async fn a_421_at_rcpt_data_or_after_the_content_is_the_relay_closing() {
    type Inject = fn(&TestSmtpServer);
    let stages: [Inject; 3] = [
        |s| s.on_rcpt(ANY, Script::first(1, "421 4.7.0 throttled")),
        |s| s.on_data_command(ANY, Script::first(1, "421 4.7.0 throttled")),
        |s| s.on_data(ANY, Script::first(1, "421 4.7.0 throttled")),
    ];
    for (n, inject) in stages.into_iter().enumerate() {
        let server = TestSmtpServer::start().await;
        inject(&server);
        let transport = transport(&server);
        let email = outgoing("ana@example.org", 1);
        let refused = send(&transport, &email).await.unwrap_err();
        assert_eq!(
            refused,
            SendError::RelayClosing {
                code: 421,
                reply: "4.7.0 throttled".to_owned()
            },
            "stage {n}"
        );
        assert!(refused.is_retryable() && !refused.outcome_unknown());
        // The server closed the channel: the next send opens another.
        send(&transport, &email).await.unwrap();
        assert_eq!(server.connection_count(), 2, "stage {n}");
        assert_eq!(server.messages().len(), 1, "stage {n}");
    }
}

#[tokio::test]
async fn rcpt_550_is_permanent_and_other_recipients_still_go() {
    let server = TestSmtpServer::start().await;
    server.on_rcpt(
        "nobody@example.org",
        Script::always("550 5.1.1 no such user"),
    );
    let transport = transport(&server);

    for _ in 0..2 {
        assert_eq!(
            send(&transport, &outgoing("nobody@example.org", 1)).await,
            Err(SendError::Permanent {
                code: 550,
                reply: "5.1.1 no such user".to_owned()
            })
        );
    }
    send(&transport, &outgoing("ana@example.org", 2))
        .await
        .unwrap();
    let received = server.messages();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].rcpt_to, ["ana@example.org"]);
    assert_eq!(server.connection_count(), 1);
}

#[tokio::test]
async fn replies_after_data_map_by_class() {
    let server = TestSmtpServer::start().await;
    server.on_data(
        "ana@example.org",
        Script::sequence([
            Reply::code(452, "4.3.1 insufficient system storage"),
            Reply::code(554, "5.7.1 message rejected as spam"),
        ]),
    );
    let transport = transport(&server);
    let email = outgoing("ana@example.org", 1);
    assert_eq!(
        send(&transport, &email).await,
        Err(SendError::Temporary {
            code: 452,
            reply: "4.3.1 insufficient system storage".to_owned()
        })
    );
    assert_eq!(
        send(&transport, &email).await,
        Err(SendError::Permanent {
            code: 554,
            reply: "5.7.1 message rejected as spam".to_owned()
        })
    );
    assert!(server.messages().is_empty());
    send(&transport, &email).await.unwrap();
    assert_eq!(server.messages().len(), 1);
    assert_eq!(server.connection_count(), 1);
}

#[tokio::test]
async fn sender_rejection_is_not_blamed_on_the_recipient() {
    let server = TestSmtpServer::start().await;
    server.require_auth("pregon", "s3cret");
    let transport = transport(&server);
    match send(&transport, &outgoing("ana@example.org", 1)).await {
        Err(error @ SendError::SenderRejected { code: 530, .. }) => {
            assert!(
                error.is_retryable(),
                "config problem: pause, don't fail the recipient"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn auth_plain_with_settings_credentials() {
    let server = TestSmtpServer::start().await;
    server.require_auth("pregon", "s3cret");

    let mut good = settings(&server);
    good.username = Some("pregon".to_owned());
    good.password = Some(email::transport::Secret::new("s3cret"));
    let transport = SmtpTransport::new(&good).unwrap();
    send(&transport, &outgoing("ana@example.org", 1))
        .await
        .unwrap();
    assert_eq!(server.messages().len(), 1);

    let mut bad = good.clone();
    bad.password = Some(email::transport::Secret::new("wrong"));
    let transport = SmtpTransport::new(&bad).unwrap();
    match send(&transport, &outgoing("ana@example.org", 2)).await {
        // Setup failures are about the relay, never Permanent for the recipient.
        Err(SendError::Connection {
            before_data: true,
            detail,
        }) => assert!(detail.contains("535"), "{detail}"),
        other => panic!("{other:?}"),
    }
    // Credentials never reach the log of commands in clear.
    assert!(
        server
            .commands()
            .iter()
            .all(|c| !c.line.contains("czNjcmV0"))
    );
}

#[tokio::test]
async fn connection_dropped_after_data_is_outcome_unknown() {
    let server = TestSmtpServer::start().await;
    server.on_data("ana@example.org", Script::first(1, Reply::Disconnect));
    let transport = transport(&server);
    let email = outgoing("ana@example.org", 1);

    match send(&transport, &email).await {
        Err(
            error @ SendError::Connection {
                before_data: false, ..
            },
        ) => {
            assert!(error.outcome_unknown());
            assert!(!error.is_retryable());
        }
        other => panic!("{other:?}"),
    }
    // The server did get the whole message; it just never said so.
    assert_eq!(server.unacknowledged().len(), 1);
    assert!(server.messages().is_empty());

    send(&transport, &email).await.unwrap();
    assert_eq!(server.messages().len(), 1);
    assert_eq!(server.connection_count(), 2);
}

#[tokio::test]
async fn connection_dropped_at_rcpt_is_certainly_not_sent() {
    let server = TestSmtpServer::start().await;
    server.on_rcpt("ana@example.org", Script::first(1, Reply::Disconnect));
    let transport = transport(&server);
    match send(&transport, &outgoing("ana@example.org", 1)).await {
        Err(error @ SendError::RecipientDropped { .. }) => {
            assert!(error.is_retryable() && !error.outcome_unknown())
        }
        other => panic!("{other:?}"),
    }
    assert!(server.unacknowledged().is_empty());
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn stalled_final_reply_times_out_as_outcome_unknown() {
    let server = TestSmtpServer::start().await;
    server.on_data("ana@example.org", Script::first(1, Reply::Stall));
    let mut settings = settings(&server);
    settings.timeout_secs = 1;
    let transport = SmtpTransport::new(&settings).unwrap();

    let started = Instant::now();
    let result = send(&transport, &outgoing("ana@example.org", 1)).await;
    let elapsed = started.elapsed();
    assert!(
        matches!(
            result,
            Err(SendError::Connection {
                before_data: false,
                ..
            })
        ),
        "{result:?}"
    );
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    assert_eq!(server.unacknowledged().len(), 1);
}

#[tokio::test]
async fn mid_batch_disconnect_reconnects_without_duplicates() {
    let server = TestSmtpServer::start().await;
    server.drop_after_accepted(3);
    let transport = transport(&server);

    for delivery in 0..6 {
        send(&transport, &outgoing("ana@example.org", delivery))
            .await
            .unwrap_or_else(|e| panic!("delivery {delivery}: {e}"));
    }
    let received = server.messages();
    let ids: Vec<String> = received
        .iter()
        .map(|m| {
            MessageParser::default()
                .parse(&m.data[..])
                .unwrap()
                .message_id()
                .unwrap()
                .to_owned()
        })
        .collect();
    let expected: Vec<String> = (0..6)
        .map(|d| format!("delivery-{d}.issue-9@pregon.example"))
        .collect();
    assert_eq!(ids, expected);
    assert_eq!(server.connection_count(), 2);
    assert_eq!(
        received.iter().map(|m| m.connection).collect::<Vec<_>>(),
        [0, 0, 0, 1, 1, 1]
    );
}

#[tokio::test]
async fn server_down_then_back_on_the_same_port() {
    let server = TestSmtpServer::start().await;
    let transport = transport(&server);
    send(&transport, &outgoing("ana@example.org", 1))
        .await
        .unwrap();

    server.go_down().await;
    match send(&transport, &outgoing("ana@example.org", 2)).await {
        Err(
            error @ SendError::Connection {
                before_data: true, ..
            },
        ) => assert!(error.to_string().contains("not sent"), "{error}"),
        other => panic!("{other:?}"),
    }

    server.come_back().await;
    send(&transport, &outgoing("ana@example.org", 2))
        .await
        .unwrap();
    assert_eq!(server.messages().len(), 2);
    assert_eq!(server.connection_count(), 2);
}

#[tokio::test]
async fn pool_caps_simultaneous_connections() {
    let server = TestSmtpServer::start().await;
    server.set_latency(Duration::from_millis(20));
    let mut settings = settings(&server);
    settings.pool_size = 2;
    let transport = Arc::new(SmtpTransport::new(&settings).unwrap());

    let sends = (0..6).map(|delivery| {
        let transport = transport.clone();
        tokio::spawn(async move { send(&*transport, &outgoing("ana@example.org", delivery)).await })
    });
    for result in futures_util::future::join_all(sends).await {
        result.unwrap().unwrap();
    }
    assert_eq!(server.messages().len(), 6);
    assert_eq!(server.connection_count(), 2);
    assert_eq!(transport.idle_connections(), 2);

    transport.close_idle().await;
    assert_eq!(transport.idle_connections(), 0);
    assert_eq!(server.command_count("QUIT"), 2);
}

#[tokio::test]
async fn latency_is_applied_to_every_reply() {
    let server = TestSmtpServer::start().await;
    server.set_latency(Duration::from_millis(40));
    let transport = transport(&server);
    let started = Instant::now();
    send(&transport, &outgoing("ana@example.org", 1))
        .await
        .unwrap();
    // Greeting, EHLO, MAIL, RCPT, DATA, end of data.
    assert!(
        started.elapsed() >= Duration::from_millis(6 * 40),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn scripts_for_any_recipient() {
    let server = TestSmtpServer::start().await;
    server.on_rcpt(ANY, Script::first(1, "421 4.7.0 too busy, closing"));
    let transport = transport(&server);
    assert!(matches!(
        send(&transport, &outgoing("bea@example.org", 1)).await,
        Err(SendError::RelayClosing { code: 421, .. })
    ));
    send(&transport, &outgoing("bea@example.org", 1))
        .await
        .unwrap();
    // 421 means the server is closing: the connection is not reused.
    assert_eq!(server.command_count("RSET"), 0);
    assert_eq!(server.connection_count(), 2);
}

#[tokio::test]
async fn utf8_addresses_need_smtputf8() {
    let server = TestSmtpServer::start().await;
    let transport = transport(&server);
    let email = outgoing("josé@example.org", 1);
    send(&transport, &email).await.unwrap();
    let mail = server
        .commands()
        .into_iter()
        .find(|c| c.verb() == "MAIL")
        .unwrap();
    assert!(mail.line.contains("SMTPUTF8"), "{}", mail.line);
    assert_eq!(server.messages()[0].rcpt_to, ["josé@example.org"]);

    server.advertise_smtputf8(false);
    let transport = self::transport(&server);
    assert!(matches!(
        send(&transport, &email).await,
        Err(SendError::Unsendable(_))
    ));
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test]
async fn multi_recipient_envelopes_are_refused() {
    let server = TestSmtpServer::start().await;
    let transport = transport(&server);
    let message = outgoing("ana@example.org", 1).build().unwrap();
    let envelope = lettre::address::Envelope::new(
        Some("boletin@pregon.example".parse().unwrap()),
        vec![
            "ana@example.org".parse().unwrap(),
            "bea@example.org".parse().unwrap(),
        ],
    )
    .unwrap();
    assert!(matches!(
        transport.send(&message, &envelope).await,
        Err(SendError::Unsendable(_))
    ));
    assert_eq!(server.connection_count(), 0);
}

#[tokio::test]
async fn outbox_writes_parseable_files_and_overwrites_on_retry() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = FileOutbox::new(dir.path().join("var/outbox"));
    let transport: Arc<dyn MailTransport> = Arc::new(outbox.clone());

    let mut email = outgoing("ana@example.org", 123);
    let accepted = send(&*transport, &email).await.unwrap();
    assert_eq!(accepted.code, 250);
    let path = outbox.path_for(&message_id(123));
    assert_eq!(
        path.file_name().unwrap(),
        "delivery-123.issue-9@pregon.example.eml"
    );
    let first = std::fs::read(&path).unwrap();
    let parsed = MessageParser::default().parse(&first[..]).unwrap();
    assert_eq!(parsed.subject(), Some("Boletín de marzo"));
    assert_eq!(
        parsed.message_id(),
        Some("delivery-123.issue-9@pregon.example")
    );
    assert!(parsed.header_raw("List-Unsubscribe").is_some());

    // A retry of the same delivery replaces the file.
    email.subject = "Boletín de marzo (corregido)".to_owned();
    send(&*transport, &email).await.unwrap();
    let second = std::fs::read(&path).unwrap();
    let parsed = MessageParser::default().parse(&second[..]).unwrap();
    assert_eq!(parsed.subject(), Some("Boletín de marzo (corregido)"));

    send(&*transport, &outgoing("bea@example.org", 124))
        .await
        .unwrap();
    let mut names: Vec<String> = std::fs::read_dir(outbox.dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    // No temporary files left behind.
    assert_eq!(
        names,
        [
            "delivery-123.issue-9@pregon.example.eml",
            "delivery-124.issue-9@pregon.example.eml"
        ]
    );
}

#[tokio::test]
async fn outbox_needs_a_message_id() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = FileOutbox::new(dir.path());
    let message = lettre::Message::builder()
        .from("a@example.org".parse().unwrap())
        .to("b@example.org".parse().unwrap())
        .subject("no id")
        .body(String::from("x"))
        .unwrap();
    assert!(matches!(
        outbox.send(&message, message.envelope()).await,
        Err(SendError::Unsendable(_))
    ));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn starttls_mode_never_falls_back_to_plain_text() {
    // The test server does not offer STARTTLS.
    let server = TestSmtpServer::start().await;
    let mut settings = settings(&server);
    settings.tls = email::transport::TlsMode::Starttls;
    settings.username = Some("pregon".to_owned());
    settings.password = Some(email::transport::Secret::new("s3cret"));
    let transport = SmtpTransport::new(&settings).unwrap();
    match send(&transport, &outgoing("ana@example.org", 1)).await {
        Err(SendError::Connection {
            before_data: true,
            detail,
        }) => assert!(detail.contains("STARTTLS"), "{detail}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.command_count("AUTH"), 0);
    assert_eq!(server.command_count("MAIL"), 0);
}
