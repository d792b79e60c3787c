//! Slow clients: a body trickled byte by byte is cut off (408), and one
//! address cannot hold more than a few bodies open at once (429), while other
//! addresses are still served.

use crate::helpers::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

async fn connect(app: &TestApp, from: &str) -> TcpStream {
    let port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket
        .connect(format!("127.0.0.1:{port}").parse().unwrap())
        .await
        .unwrap()
}

/// Sends the head of a JSON POST announcing `length` bytes, and `sent` of them.
async fn start_post(
    stream: &mut TcpStream,
    path: &str,
    auth: Option<&str>,
    length: usize,
    sent: &[u8],
) {
    let auth = auth
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n{auth}Content-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(sent).await.unwrap();
    stream.flush().await.unwrap();
}

/// The status line and body of the response (read until the server closes
/// or the declared length has arrived).
async fn response(stream: &mut TcpStream) -> (u16, String) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.unwrap_or(0);
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if body.len() >= length {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&data).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

async fn quick_post(app: &TestApp, from: &str) -> u16 {
    let mut stream = connect(app, from).await;
    let body = br#"{"slug":"x"}"#;
    start_post(
        &mut stream,
        "/api/v1/organisations",
        Some(&app.editor),
        body.len(),
        body,
    )
    .await;
    response(&mut stream).await.0
}

#[tokio::test]
async fn a_body_that_trickles_is_cut_off_with_408() {
    let app = spawn_app_with(|s| s.server.body_timeout_ms = 200).await;
    let mut stream = connect(&app, "127.0.0.1").await;
    start_post(&mut stream, "/newsletter/subscribe", None, 100, b"{\"em").await;
    // The client sends nothing more; the server answers on its own.
    let (status, text) = response(&mut stream).await;
    assert_eq!(status, 408, "{text}");
    assert!(text.contains("application/problem+json"), "{text}");
}

#[tokio::test]
async fn one_address_holds_few_slow_bodies_and_others_are_served() {
    let app = spawn_app_with(|s| {
        s.server.body_timeout_ms = 600_000;
        s.server.bodies_in_flight_per_ip = 3;
        s.server.public_rate_limit_per_minute = 1_000_000;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = connect(&app, "127.0.0.1").await;
        start_post(&mut stream, "/newsletter/subscribe", None, 100, b"{").await;
        held.push(stream);
    }
    // Once the server has taken the three slow bodies, a fourth body from the
    // same address is refused at once.
    let mut refused = false;
    for _ in 0..500 {
        match quick_post(&app, "127.0.0.1").await {
            429 => {
                refused = true;
                break;
            }
            422 => continue,
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(refused, "the fourth body was never refused");
    // Another address is served meanwhile.
    assert_eq!(quick_post(&app, "127.0.0.2").await, 422);
    // When the slow clients go, their slots come back.
    drop(held);
    let mut served = false;
    for _ in 0..500 {
        if quick_post(&app, "127.0.0.1").await == 422 {
            served = true;
            break;
        }
    }
    assert!(served, "slots were not given back");
}
