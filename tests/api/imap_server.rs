//! A real IMAP server for the inbound mailbox tests: Debian's Dovecot
//! (`dovecot-imapd`, installed by `.ci/run`), started in the foreground
//! with a configuration generated in a temporary directory: its own port on
//! 127.0.0.1, IMAP over TLS only (a certificate signed by a CA made here
//! with openssl; the CA is what Pregón is told to trust), one static test
//! user, Maildir storage in the same directory. Stopped (SIGTERM) when
//! dropped. The test puts messages in with APPEND over IMAP, as a mail
//! server's delivery would.
#![allow(dead_code)]

use futures_util::TryStreamExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::{self, pki_types};

pub const USER: &str = "bounces";
pub const PASSWORD: &str = "s3cret-imap-pass";

pub struct Dovecot {
    dir: tempfile::TempDir,
    child: Child,
    pub port: u16,
}

type Session = async_imap::Session<TlsStream<TcpStream>>;

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run a command");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A CA and a certificate for 127.0.0.1 and localhost signed by it.
fn certificates(dir: &Path) {
    let p = |name: &str| dir.join(name);
    run(Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=Pregon test CA", "-keyout"])
        .arg(p("ca.key"))
        .arg("-out")
        .arg(p("ca.pem")));
    run(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(p("server.key"))
        .arg("-out")
        .arg(p("server.csr")));
    std::fs::write(
        p("ext.cnf"),
        "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n\
         extendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-in"])
        .arg(p("server.csr"))
        .arg("-CA")
        .arg(p("ca.pem"))
        .arg("-CAkey")
        .arg(p("ca.key"))
        .arg("-CAcreateserial")
        .arg("-extfile")
        .arg(p("ext.cnf"))
        .arg("-out")
        .arg(p("server.pem")));
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn current_user() -> (String, String) {
    let out = |args: &[&str]| {
        let o = Command::new("id").args(args).output().unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_owned()
    };
    (out(&["-un"]), out(&["-gn"]))
}

impl Dovecot {
    pub async fn start() -> Dovecot {
        assert!(
            Path::new("/usr/sbin/dovecot").exists(),
            "the inbound tests need Dovecot: apt-get install dovecot-imapd (.ci/run does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        certificates(root);
        let mail = root.join("mail");
        std::fs::create_dir_all(&mail).unwrap();
        // As root, Dovecot drops to an unprivileged user for mail access.
        let (user, group) = if is_root() {
            run(Command::new("chmod").arg("755").arg(root));
            run(Command::new("chown").arg("nobody:nogroup").arg(&mail));
            ("nobody".to_owned(), "nogroup".to_owned())
        } else {
            current_user()
        };
        let port = free_port();
        let r = root.display();
        let conf = format!(
            "protocols = imap\nlisten = 127.0.0.1\nbase_dir = {r}/run\nstate_dir = {r}/state\n\
             instance_name = pregon-test-{port}\n\
             default_internal_user = {user}\ndefault_internal_group = {group}\n\
             default_login_user = {user}\nlog_path = {r}/dovecot.log\n\
             ssl = required\nssl_cert = <{r}/server.pem\nssl_key = <{r}/server.key\n\
             auth_mechanisms = plain\n\
             passdb {{\n  driver = static\n  args = password={PASSWORD}\n}}\n\
             userdb {{\n  driver = static\n  args = uid={user} gid={group} home={r}/mail/%u\n}}\n\
             mail_location = maildir:{r}/mail/%u/Maildir\nfirst_valid_uid = 1\n\
             service imap-login {{\n  chroot =\n  inet_listener imap {{\n    port = 0\n  }}\n\
               inet_listener imaps {{\n    port = {port}\n    ssl = yes\n  }}\n}}\n\
             service anvil {{\n  chroot =\n}}\n"
        );
        let conf_path = root.join("dovecot.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new("/usr/sbin/dovecot")
            .arg("-F")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start dovecot");
        let server = Dovecot { dir, child, port };
        // Ready when it accepts connections (a readiness wait, not a timing check).
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!(
            "dovecot did not listen on {port}: {}",
            std::fs::read_to_string(server.dir.path().join("dovecot.log")).unwrap_or_default()
        );
    }

    /// The CA file that signs the server's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Points Pregón's `[inbound]` settings at this server.
    pub fn configure(&self, inbound: &mut pregon::config::InboundSettings) {
        inbound.host = "127.0.0.1".into();
        inbound.port = self.port;
        inbound.user = USER.into();
        inbound.password = pregon::email::Secret::new(PASSWORD);
        inbound.mailbox = "INBOX".into();
        inbound.ca_file = self.ca_file().display().to_string();
        inbound.timeout_secs = 10;
    }

    /// A session of the test user, as a mail client.
    pub async fn session(&self) -> Session {
        use pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        let pem = std::fs::read(self.ca_file()).unwrap();
        for cert in pki_types::CertificateDer::pem_slice_iter(&pem) {
            roots.add(cert.unwrap()).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let tcp = TcpStream::connect(("127.0.0.1", self.port)).await.unwrap();
        let tls = TlsConnector::from(Arc::new(config))
            .connect(
                pki_types::ServerName::try_from("localhost".to_owned()).unwrap(),
                tcp,
            )
            .await
            .unwrap();
        let mut client = async_imap::Client::new(tls);
        client.read_response().await.unwrap().unwrap();
        client
            .login(USER, PASSWORD)
            .await
            .map_err(|(e, _)| e)
            .unwrap()
    }

    /// Puts a message in `mailbox` (APPEND).
    pub async fn append(&self, mailbox: &str, message: &str) {
        let mut session = self.session().await;
        session
            .append(mailbox, None, None, message.as_bytes())
            .await
            .unwrap();
        session.logout().await.unwrap();
    }

    /// UIDs in `mailbox` with their flags.
    pub async fn messages(&self, mailbox: &str) -> Vec<(u32, Vec<String>)> {
        let mut session = self.session().await;
        let selected = session.select(mailbox).await.unwrap();
        let mut found = Vec::new();
        if selected.exists > 0 {
            let fetched: Vec<_> = session
                .fetch("1:*", "(UID FLAGS)")
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            for f in &fetched {
                let flags = f.flags().map(|fl| format!("{fl:?}")).collect();
                found.push((f.uid.unwrap(), flags));
            }
        }
        session.logout().await.unwrap();
        found.sort();
        found
    }

    /// Takes `\Seen` off every message of `mailbox`, as a person reading the
    /// mailbox might.
    pub async fn mark_all_unread(&self, mailbox: &str) {
        let mut session = self.session().await;
        session.select(mailbox).await.unwrap();
        let _: Vec<_> = session
            .store("1:*", "-FLAGS.SILENT (\\Seen)")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        session.logout().await.unwrap();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}
