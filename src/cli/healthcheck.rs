//! `pregon healthcheck`: the container's HEALTHCHECK, with no shell or curl in
//! the image. Exit 0 when `GET /readyz` answers 200.

use crate::config::Settings;
use anyhow::{Context as _, bail};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

pub fn run(settings: &Settings, url: Option<String>) -> anyhow::Result<()> {
    let base = url.unwrap_or_else(|| {
        let bind = settings
            .server
            .bind
            .replace("0.0.0.0", "127.0.0.1")
            .replace("[::]", "[::1]");
        format!("http://{bind}")
    });
    let url = url::Url::parse(&base).with_context(|| format!("{base} is not a URL"))?;
    if url.scheme() != "http" {
        bail!("only http:// URLs can be checked (the service behind its proxy speaks HTTP)");
    }
    let host = url.host_str().context("the URL has no host")?;
    let port = url.port_or_known_default().unwrap_or(80);
    let timeout = Duration::from_secs(3);
    let addr = (host, port)
        .to_socket_addrs()?
        .next()
        .with_context(|| format!("{host} does not resolve"))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let path = format!("{}/readyz", url.path().trim_end_matches('/'));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let status_line = String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned();
    if status_line.split_whitespace().nth(1) == Some("200") {
        println!("ready");
        Ok(())
    } else {
        bail!("not ready: {status_line}")
    }
}
