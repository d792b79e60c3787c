//! An in-process SMTP server for integration tests: real TCP on 127.0.0.1,
//! enough RFC 5321 for lettre (EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA with
//! dot-unstuffing, RSET, NOOP, QUIT), a record of every accepted message, and
//! faults injected at runtime: scripted replies to the greeting, to MAIL, per
//! recipient at RCPT, DATA or after the content, disconnects, stalls, going
//! down and coming back on the same port, latency. A scripted 421 closes the
//! connection after its reply, as RFC 5321 §3.8 says a server does. No TLS.
//!
//! Every test binary compiles this file but each uses a subset of it.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Matches any recipient in `on_rcpt` / `on_data`.
pub const ANY: &str = "*";

/// What the server does instead of its normal reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Reply with this code and text, e.g. `451 4.7.1 try later`.
    Code(u16, String),
    /// Close the connection without replying.
    Disconnect,
    /// Never reply; keep the connection open until the client gives up.
    Stall,
}

impl Reply {
    pub fn code(code: u16, text: &str) -> Self {
        Self::Code(code, text.to_owned())
    }
}

impl From<&str> for Reply {
    /// `"550 5.1.1 no such user"` → `Reply::Code(550, "5.1.1 no such user")`.
    fn from(line: &str) -> Self {
        let (code, text) = line.split_once(' ').unwrap_or((line, ""));
        Self::Code(
            code.parse().expect("reply starts with a code"),
            text.to_owned(),
        )
    }
}

/// A queue of replies used one per attempt, then `then` forever (`None`:
/// behave normally).
#[derive(Debug, Clone)]
pub struct Script {
    steps: VecDeque<Reply>,
    then: Option<Reply>,
}

impl Script {
    /// `reply` for the first `n` attempts, then normal behaviour.
    pub fn first(n: usize, reply: impl Into<Reply>) -> Self {
        let reply = reply.into();
        Self {
            steps: std::iter::repeat_n(reply, n).collect(),
            then: None,
        }
    }

    pub fn always(reply: impl Into<Reply>) -> Self {
        Self {
            steps: VecDeque::new(),
            then: Some(reply.into()),
        }
    }

    pub fn sequence(replies: impl IntoIterator<Item = Reply>) -> Self {
        Self {
            steps: replies.into_iter().collect(),
            then: None,
        }
    }

    fn next(&mut self) -> Option<Reply> {
        self.steps.pop_front().or_else(|| self.then.clone())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// Arrival order among accepted messages, from 0.
    pub index: usize,
    /// Which connection (from 0) carried it.
    pub connection: usize,
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The message exactly as received, dot-unstuffed, CRLF line ends,
    /// without the terminating `.` line.
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub connection: usize,
    /// The full line without CRLF (AUTH arguments are masked).
    pub line: String,
    /// More input had already arrived behind it: the client did not wait
    /// for this command's reply (RFC 2920 pipelining).
    pub pipelined: bool,
}

impl Command {
    pub fn verb(&self) -> String {
        self.line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase()
    }
}

#[derive(Default)]
struct State {
    accepted: Vec<ReceivedMessage>,
    unacknowledged: Vec<ReceivedMessage>,
    greeting_script: Option<Script>,
    mail_script: Option<Script>,
    rcpt_scripts: HashMap<String, Script>,
    data_command_scripts: HashMap<String, Script>,
    data_scripts: HashMap<String, Script>,
    /// Close the connection right after the n-th accepted message from now.
    drop_after_accepted: Option<usize>,
    connections: usize,
    commands: Vec<Command>,
    latency: Duration,
    auth: Option<(String, String)>,
    no_smtputf8: bool,
    no_pipelining: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Bumped to make every open connection close at once.
    epoch: watch::Sender<u64>,
    /// How many messages were accepted: a latch for tests whose messages are
    /// sent in the background (sign-in links).
    accepted_count: watch::Sender<usize>,
    next_connection: AtomicUsize,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct TestSmtpServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    listener: Mutex<Option<JoinHandle<()>>>,
}

impl TestSmtpServer {
    pub async fn start() -> Self {
        let listener = bind("127.0.0.1:0".parse().unwrap()).expect("bind test SMTP server");
        let addr = listener.local_addr().unwrap();
        let server = Self {
            addr,
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                epoch: watch::channel(0).0,
                accepted_count: watch::channel(0).0,
                next_connection: AtomicUsize::new(0),
            }),
            listener: Mutex::new(None),
        };
        server.serve(listener);
        server
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Accepted messages, in arrival order.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        self.shared.state().accepted.clone()
    }

    /// Waits until `n` messages have been accepted (a latch, not a timer: the
    /// timeout only turns a hang into a failure).
    pub async fn wait_for_messages(&self, n: usize) -> Vec<ReceivedMessage> {
        let mut count = self.shared.accepted_count.subscribe();
        tokio::time::timeout(Duration::from_secs(30), count.wait_for(|c| *c >= n))
            .await
            .expect("messages did not arrive")
            .expect("server gone");
        self.messages()
    }

    /// Messages received completely but never acknowledged (the connection
    /// was dropped or stalled instead of replying): the "outcome unknown"
    /// case as the server saw it.
    pub fn unacknowledged(&self) -> Vec<ReceivedMessage> {
        self.shared.state().unacknowledged.clone()
    }

    /// Scripted replies to `RCPT TO:<recipient>` (or `ANY`).
    pub fn on_rcpt(&self, recipient: &str, script: Script) {
        self.shared
            .state()
            .rcpt_scripts
            .insert(recipient.to_ascii_lowercase(), script);
    }

    /// Scripted replies instead of the greeting, one per new connection.
    pub fn on_greeting(&self, script: Script) {
        self.shared.state().greeting_script = Some(script);
    }

    /// Scripted replies to `MAIL FROM`, one per transaction.
    pub fn on_mail(&self, script: Script) {
        self.shared.state().mail_script = Some(script);
    }

    /// Scripted replies to the `DATA` command of a transaction that includes
    /// `recipient` (or `ANY`).
    pub fn on_data_command(&self, recipient: &str, script: Script) {
        self.shared
            .state()
            .data_command_scripts
            .insert(recipient.to_ascii_lowercase(), script);
    }

    /// Scripted replies after the DATA content of a transaction that
    /// includes `recipient` (or `ANY`).
    pub fn on_data(&self, recipient: &str, script: Script) {
        self.shared
            .state()
            .data_scripts
            .insert(recipient.to_ascii_lowercase(), script);
    }

    /// After `n` more accepted messages, close that connection right after
    /// the 250 reply (once).
    pub fn drop_after_accepted(&self, n: usize) {
        self.shared.state().drop_after_accepted = Some(n);
    }

    /// Delay before every reply, greeting included.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.state().latency = latency;
    }

    /// Advertise AUTH PLAIN and refuse MAIL until authenticated.
    pub fn require_auth(&self, username: &str, password: &str) {
        self.shared.state().auth = Some((username.to_owned(), password.to_owned()));
    }

    pub fn advertise_smtputf8(&self, on: bool) {
        self.shared.state().no_smtputf8 = !on;
    }

    pub fn advertise_pipelining(&self, on: bool) {
        self.shared.state().no_pipelining = !on;
    }

    /// Stop listening (new connections are refused) and close every open
    /// connection, like a relay being restarted.
    pub async fn go_down(&self) {
        let task = self.listener.lock().unwrap().take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
        self.shared.epoch.send_modify(|epoch| *epoch += 1);
    }

    /// Listen again on the same port.
    pub async fn come_back(&self) {
        let listener = bind(self.addr).expect("rebind the same port");
        self.serve(listener);
    }

    pub fn connection_count(&self) -> usize {
        self.shared.state().connections
    }

    pub fn commands(&self) -> Vec<Command> {
        self.shared.state().commands.clone()
    }

    pub fn command_count(&self, verb: &str) -> usize {
        self.shared
            .state()
            .commands
            .iter()
            .filter(|c| c.verb().eq_ignore_ascii_case(verb))
            .count()
    }

    fn serve(&self, listener: TcpListener) {
        let shared = self.shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let connection = shared.next_connection.fetch_add(1, Ordering::SeqCst);
                shared.state().connections += 1;
                let shared = shared.clone();
                let mut epoch = shared.epoch.subscribe();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = session(&shared, stream, connection) => {}
                        _ = epoch.changed() => {}
                    }
                });
            }
        });
        *self.listener.lock().unwrap() = Some(task);
    }
}

impl Drop for TestSmtpServer {
    fn drop(&mut self) {
        if let Some(task) = self.listener.lock().unwrap().take() {
            task.abort();
        }
        self.shared.epoch.send_modify(|epoch| *epoch += 1);
    }
}

/// SO_REUSEADDR so `come_back` can rebind while old connections linger in
/// TIME_WAIT.
fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(64)
}

#[derive(Default)]
struct Transaction {
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
}

enum Flow {
    Continue,
    Close,
}

async fn session(shared: &Shared, stream: TcpStream, connection: usize) {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let _ = run_session(shared, &mut read, &mut write, connection).await;
}

async fn run_session(
    shared: &Shared,
    read: &mut BufReader<impl AsyncRead + Unpin>,
    write: &mut (impl AsyncWrite + Unpin),
    connection: usize,
) -> std::io::Result<()> {
    let greeting = shared
        .state()
        .greeting_script
        .as_mut()
        .and_then(Script::next);
    match greeting {
        None => reply(shared, write, "220 pregon-test ESMTP ready").await?,
        Some(scripted) => {
            if let Flow::Close = scripted_reply(shared, write, scripted).await? {
                write.shutdown().await.ok();
                return Ok(());
            }
        }
    }
    let mut transaction = Transaction::default();
    let mut authenticated = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line)
            .trim_end_matches(['\r', '\n'])
            .to_owned();
        let verb = text
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let logged = if verb == "AUTH" {
            "AUTH ***".to_owned()
        } else {
            text.clone()
        };
        shared.state().commands.push(Command {
            connection,
            line: logged,
            pipelined: !read.buffer().is_empty(),
        });
        let argument = text.get(verb.len()..).unwrap_or("").trim();
        let flow = match verb.as_str() {
            "EHLO" => {
                let (auth, utf8, pipelining) = {
                    let state = shared.state();
                    (
                        state.auth.is_some(),
                        !state.no_smtputf8,
                        !state.no_pipelining,
                    )
                };
                let mut lines = vec![format!("pregon-test greets {argument}")];
                if pipelining {
                    lines.push("PIPELINING".to_owned());
                }
                lines.push("8BITMIME".to_owned());
                if utf8 {
                    lines.push("SMTPUTF8".to_owned());
                }
                if auth {
                    lines.push("AUTH PLAIN".to_owned());
                }
                lines.push("ENHANCEDSTATUSCODES".to_owned());
                let last = lines.len() - 1;
                let text: Vec<String> = lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| format!("250{}{l}", if i == last { ' ' } else { '-' }))
                    .collect();
                reply(shared, write, &text.join("\r\n")).await?;
                transaction = Transaction::default();
                Flow::Continue
            }
            "HELO" => {
                transaction = Transaction::default();
                reply(shared, write, "250 pregon-test").await?;
                Flow::Continue
            }
            "AUTH" => {
                let expected = shared.state().auth.clone();
                let mut parts = argument.split_whitespace();
                let mechanism = parts.next().unwrap_or("").to_ascii_uppercase();
                let initial = parts.next().map(str::to_owned);
                if mechanism != "PLAIN" {
                    reply(shared, write, "504 5.5.4 only PLAIN is supported").await?;
                } else {
                    let response = match initial {
                        Some(response) => response,
                        None => {
                            reply(shared, write, "334 ").await?;
                            let mut answer = Vec::new();
                            read.read_until(b'\n', &mut answer).await?;
                            String::from_utf8_lossy(&answer).trim().to_owned()
                        }
                    };
                    let ok = match (expected, base64_decode(&response)) {
                        (Some((user, password)), Some(decoded)) => {
                            let fields: Vec<&[u8]> = decoded.split(|b| *b == 0).collect();
                            fields.len() == 3
                                && fields[1] == user.as_bytes()
                                && fields[2] == password.as_bytes()
                        }
                        _ => false,
                    };
                    authenticated = ok;
                    let text = if ok {
                        "235 2.7.0 Authentication successful"
                    } else {
                        "535 5.7.8 Authentication credentials invalid"
                    };
                    reply(shared, write, text).await?;
                }
                Flow::Continue
            }
            "MAIL" => {
                let needs_auth = shared.state().auth.is_some() && !authenticated;
                match path_argument(argument, "FROM:") {
                    _ if needs_auth => {
                        reply(shared, write, "530 5.7.0 Authentication required").await?;
                        Flow::Continue
                    }
                    Some(from) => {
                        let scripted = shared.state().mail_script.as_mut().and_then(Script::next);
                        match scripted {
                            Some(scripted) => scripted_reply(shared, write, scripted).await?,
                            None => {
                                transaction = Transaction {
                                    mail_from: Some(from),
                                    rcpt_to: Vec::new(),
                                };
                                reply(shared, write, "250 2.1.0 Ok").await?;
                                Flow::Continue
                            }
                        }
                    }
                    None => {
                        reply(shared, write, "501 5.5.4 Syntax: MAIL FROM:<address>").await?;
                        Flow::Continue
                    }
                }
            }
            "RCPT" => match path_argument(argument, "TO:") {
                _ if transaction.mail_from.is_none() => {
                    reply(shared, write, "503 5.5.1 Error: need MAIL command").await?;
                    Flow::Continue
                }
                None => {
                    reply(shared, write, "501 5.5.4 Syntax: RCPT TO:<address>").await?;
                    Flow::Continue
                }
                Some(to) => {
                    let scripted = scripted(&mut shared.state().rcpt_scripts, [&to]);
                    match scripted {
                        None => {
                            transaction.rcpt_to.push(to);
                            reply(shared, write, "250 2.1.5 Ok").await?;
                            Flow::Continue
                        }
                        Some(scripted) => scripted_reply(shared, write, scripted).await?,
                    }
                }
            },
            "DATA" => {
                let scripted_data = scripted(
                    &mut shared.state().data_command_scripts,
                    &transaction.rcpt_to,
                );
                if transaction.rcpt_to.is_empty() {
                    reply(shared, write, "554 5.5.1 Error: no valid recipients").await?;
                    Flow::Continue
                } else if let Some(scripted) = scripted_data {
                    scripted_reply(shared, write, scripted).await?
                } else {
                    reply(shared, write, "354 End data with <CR><LF>.<CR><LF>").await?;
                    let Some(data) = read_data(read).await? else {
                        return Ok(());
                    };
                    let transaction = std::mem::take(&mut transaction);
                    receive(shared, write, connection, transaction, data).await?
                }
            }
            "RSET" => {
                transaction = Transaction::default();
                reply(shared, write, "250 2.0.0 Ok").await?;
                Flow::Continue
            }
            "NOOP" => {
                reply(shared, write, "250 2.0.0 Ok").await?;
                Flow::Continue
            }
            "QUIT" => {
                reply(shared, write, "221 2.0.0 Bye").await?;
                Flow::Close
            }
            "STARTTLS" => {
                reply(shared, write, "454 4.7.0 TLS not available").await?;
                Flow::Continue
            }
            _ => {
                reply(shared, write, "502 5.5.2 Error: command not recognized").await?;
                Flow::Continue
            }
        };
        if let Flow::Close = flow {
            write.shutdown().await.ok();
            return Ok(());
        }
    }
}

async fn receive(
    shared: &Shared,
    write: &mut (impl AsyncWrite + Unpin),
    connection: usize,
    transaction: Transaction,
    data: Vec<u8>,
) -> std::io::Result<Flow> {
    let scripted = scripted(&mut shared.state().data_scripts, &transaction.rcpt_to);
    let mut message = ReceivedMessage {
        index: 0,
        connection,
        mail_from: transaction.mail_from.unwrap_or_default(),
        rcpt_to: transaction.rcpt_to,
        data,
    };
    match scripted {
        Some(code @ Reply::Code(..)) => scripted_reply(shared, write, code).await,
        Some(Reply::Disconnect) => {
            shared.state().unacknowledged.push(message);
            Ok(Flow::Close)
        }
        Some(Reply::Stall) => {
            shared.state().unacknowledged.push(message);
            Ok(stall().await)
        }
        None => {
            let (index, close) = {
                let mut state = shared.state();
                message.index = state.accepted.len();
                let index = message.index;
                state.accepted.push(message);
                shared.accepted_count.send_replace(index + 1);
                let close = match state.drop_after_accepted.as_mut() {
                    Some(remaining) => {
                        *remaining = remaining.saturating_sub(1);
                        *remaining == 0
                    }
                    None => false,
                };
                if close {
                    state.drop_after_accepted = None;
                }
                (index, close)
            };
            reply(shared, write, &format!("250 2.0.0 Ok: queued as {index}")).await?;
            Ok(if close { Flow::Close } else { Flow::Continue })
        }
    }
}

/// A scripted reply: a code (421 then closes, as a server shutting the
/// channel does), a disconnect, or a stall.
async fn scripted_reply(
    shared: &Shared,
    write: &mut (impl AsyncWrite + Unpin),
    scripted: Reply,
) -> std::io::Result<Flow> {
    match scripted {
        Reply::Code(code, text) => {
            reply(shared, write, &format!("{code} {text}")).await?;
            Ok(if code == 421 {
                Flow::Close
            } else {
                Flow::Continue
            })
        }
        Reply::Disconnect => Ok(Flow::Close),
        Reply::Stall => Ok(stall().await),
    }
}

/// The first script among `recipients` (then `ANY`) that has a reply.
fn scripted<'a>(
    scripts: &mut HashMap<String, Script>,
    recipients: impl IntoIterator<Item = &'a String>,
) -> Option<Reply> {
    for recipient in recipients {
        if let Some(script) = scripts.get_mut(&recipient.to_ascii_lowercase())
            && let Some(reply) = script.next()
        {
            return Some(reply);
        }
    }
    scripts.get_mut(ANY).and_then(Script::next)
}

async fn stall() -> Flow {
    std::future::pending::<()>().await;
    Flow::Close
}

async fn reply(
    shared: &Shared,
    write: &mut (impl AsyncWrite + Unpin),
    text: &str,
) -> std::io::Result<()> {
    let latency = shared.state().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    // One write per reply: split writes would meet Nagle + delayed ACK and
    // cost 40 ms each.
    write.write_all(format!("{text}\r\n").as_bytes()).await?;
    write.flush().await
}

/// `FROM:<a@b> SIZE=1` → `a@b` (also accepts a space after the colon).
fn path_argument(argument: &str, keyword: &str) -> Option<String> {
    let head = argument.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = argument[keyword.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let end = rest.find('>')?;
    Some(rest[..end].to_owned())
}

/// Reads DATA content up to the lone `.` line, undoing dot-stuffing
/// (RFC 5321 §4.5.2). `None` if the client went away first.
async fn read_data(read: &mut (impl AsyncBufRead + Unpin)) -> std::io::Result<Option<Vec<u8>>> {
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return Ok(None);
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(Some(data));
        }
        let unstuffed = if line.first() == Some(&b'.') {
            &line[1..]
        } else {
            &line[..]
        };
        data.extend_from_slice(unstuffed);
    }
}

fn base64_decode(input: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let input = input.trim().trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    for chunk in input.chunks(4) {
        let mut acc = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            acc |= value(*c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64() {
        assert_eq!(base64_decode("AHVzZXIAcGFzcw==").unwrap(), b"\0user\0pass");
        assert_eq!(base64_decode("YQ").unwrap(), b"a");
        assert!(base64_decode("!!").is_none());
    }

    #[test]
    fn paths() {
        assert_eq!(
            path_argument("FROM:<a@b> BODY=8BITMIME", "FROM:"),
            Some("a@b".into())
        );
        assert_eq!(path_argument("to: <c@d>", "TO:"), Some("c@d".into()));
        assert_eq!(path_argument("FROM:<>", "FROM:"), Some(String::new()));
        assert_eq!(path_argument("TO:c@d", "TO:"), None);
    }
}
