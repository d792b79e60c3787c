//! A small W3C WebDriver client for the browser tests: Debian's headless
//! Chromium driven through chromedriver, both real processes on loopback.
//! Without them the tests fail with a message naming the packages.

use crate::helpers::TestApp;
use crate::web::PASSWORD;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub const MISSING: &str = "the browser tests need headless Chromium and its driver: install \
     the Debian packages `chromium` and `chromium-driver` (apt-get install -y chromium \
     chromium-driver; .ci/run does it)";

fn find_binary(names: &[&str]) -> Option<String> {
    for name in names {
        for dir in ["/usr/bin", "/usr/local/bin", "/usr/lib/chromium"] {
            let path = format!("{dir}/{name}");
            if std::path::Path::new(&path).exists() {
                return Some(path);
            }
        }
    }
    None
}

pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

#[derive(Debug, Clone)]
pub struct Element(pub String);

impl Browser {
    /// Starts chromedriver and a headless Chromium session.
    pub async fn start() -> Browser {
        let chromium = find_binary(&["chromium", "chromium-browser"]).expect(MISSING);
        let chromedriver = find_binary(&["chromedriver"]).expect(MISSING);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{chromedriver} did not start ({e}): {MISSING}"));
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        // chromedriver answers /status once it listens.
        let mut ready = false;
        for _ in 0..200 {
            if let Ok(res) = http.get(format!("{base}/status")).send().await
                && res.status().is_success()
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ready, "chromedriver did not answer on port {port}");
        let res: Value = http
            .post(format!("{base}/session"))
            .json(&json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage", "--window-size=1280,1000",
                             "--no-first-run", "--disable-extensions"],
                },
            }}}))
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .unwrap();
        let session = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session from chromedriver: {res}"))
            .to_owned();
        Browser {
            driver,
            base,
            session,
            http,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, &url);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res: Value = req.send().await.unwrap().json().await.unwrap();
        res["value"].clone()
    }

    async fn ok(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let value = self.call(method, path, body).await;
        if let Some(err) = value.get("error") {
            panic!("WebDriver {path}: {err} {}", value["message"]);
        }
        value
    }

    pub async fn goto(&self, url: &str) {
        self.ok(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    pub async fn url(&self) -> String {
        self.ok(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn try_find(&self, css: &str) -> Option<Element> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.get(ELEMENT)
            .and_then(|e| e.as_str())
            .map(|e| Element(e.to_owned()))
    }

    /// The element, waiting (for a page being loaded) up to ten seconds.
    pub async fn find(&self, css: &str) -> Element {
        for _ in 0..200 {
            if let Some(e) = self.try_find(css).await {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let url = self.url().await;
        panic!("no element {css} on {url}:\n{}", self.source().await);
    }

    pub async fn click(&self, e: &Element) {
        self.ok(
            reqwest::Method::POST,
            &format!("/element/{}/click", e.0),
            Some(json!({})),
        )
        .await;
    }

    pub async fn click_css(&self, css: &str) {
        let e = self.find(css).await;
        self.click(&e).await;
    }

    pub async fn clear(&self, e: &Element) {
        self.ok(
            reqwest::Method::POST,
            &format!("/element/{}/clear", e.0),
            Some(json!({})),
        )
        .await;
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.clear(&e).await;
        self.ok(
            reqwest::Method::POST,
            &format!("/element/{}/value", e.0),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Chooses the option with this value in a select.
    pub async fn select(&self, css: &str, value: &str) {
        self.click_css(&format!("{css} option[value=\"{value}\"]"))
            .await;
    }

    /// The text of the element `css` finds. An element of a page that a click
    /// has just replaced goes stale: it is found again on the new page.
    pub async fn text(&self, css: &str) -> String {
        for _ in 0..100 {
            let e = self.find(css).await;
            let v = self
                .call(
                    reqwest::Method::GET,
                    &format!("/element/{}/text", e.0),
                    None,
                )
                .await;
            let error = v.get("error").and_then(|e| e.as_str());
            // A page that a click is replacing: the element found is gone
            // (chromedriver says "stale element reference", or, caught in the
            // middle of the swap, "unknown error: … does not belong to the
            // document"); find it again on the new page.
            let gone = error == Some("stale element reference")
                || v["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("does not belong to the document"));
            match error {
                Some(_) if gone => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
                Some(err) => panic!("WebDriver text of {css}: {err} {}", v["message"]),
                None => return v.as_str().unwrap_or("").to_owned(),
            }
        }
        panic!("{css} stayed stale: the page never settled");
    }

    /// Waits until the text of `css` holds `wanted` (after a click that loads
    /// a new page, the old page may still be the one answering for a moment).
    pub async fn wait_text(&self, css: &str, wanted: &str) -> String {
        let mut last = String::new();
        for _ in 0..100 {
            last = self.text(css).await;
            if last.contains(wanted) {
                return last;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{css} never read {wanted:?}; it reads {last:?}");
    }

    pub async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    pub async fn script(&self, script: &str, args: Value) -> Value {
        self.ok(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    pub async fn script_async(&self, script: &str, args: Value) -> Value {
        self.ok(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Presses a key (WebDriver key code, e.g. "\u{E004}" for Tab).
    pub async fn key(&self, key: &str) {
        self.ok(
            reqwest::Method::POST,
            "/actions",
            Some(
                json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
                {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]}]}),
            ),
        )
        .await;
    }

    /// Types text into whatever has the focus.
    pub async fn keys(&self, text: &str) {
        let mut actions = Vec::new();
        for ch in text.chars() {
            actions.push(json!({"type": "keyDown", "value": ch.to_string()}));
            actions.push(json!({"type": "keyUp", "value": ch.to_string()}));
        }
        self.ok(
            reqwest::Method::POST,
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        )
        .await;
    }

    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let data = self.ok(reqwest::Method::GET, "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap())
            .unwrap()
    }

    /// Waits until the page's URL contains `part`.
    pub async fn wait_for_url(&self, part: &str) {
        for _ in 0..200 {
            if self.url().await.contains(part) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the browser never reached {part}: it is at {}",
            self.url().await
        );
    }

    /// Runs axe-core (WCAG 2.0/2.1/2.2 A and AA rules) on the current page and
    /// returns its violations.
    pub async fn axe_violations(&self) -> Vec<Value> {
        let source = axe_source();
        self.script(&source, json!([])).await;
        let result = self
            .script_async(
                "const done = arguments[arguments.length - 1];\
                 axe.run(document, {runOnly: {type: 'tag', values: \
                   ['wcag2a','wcag2aa','wcag21a','wcag21aa','wcag22a','wcag22aa']}, resultTypes: ['violations']})\
                   .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, \
                     nodes: v.nodes.map(n => n.html + ' :: ' + n.failureSummary)}))))\
                   .catch(e => done([{id: 'axe-error', help: String(e)}]));",
                json!([]),
            )
            .await;
        result.as_array().cloned().unwrap_or_default()
    }
}

/// axe-core from the test tools folder (`.ci/run` installs it with npm).
fn axe_source() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/tools/axe/node_modules/axe-core/axe.min.js"
    );
    std::fs::read_to_string(path).unwrap_or_else(|_| {
        panic!(
            "{path} is missing: the accessibility tests need axe-core \
             (cd tests/tools/axe && npm ci; .ci/run does it)"
        )
    })
}

impl Drop for Browser {
    fn drop(&mut self) {
        let url = format!("{}/session/{}", self.base, self.session);
        // Ends the browser, then the driver (the process this test started).
        let _ = std::thread::spawn(move || {
            let _ = reqwest::blocking_delete(&url);
        })
        .join();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

mod reqwest {
    pub use ::reqwest::*;
    /// DELETE without a runtime (Drop is synchronous).
    pub fn blocking_delete(url: &str) -> std::io::Result<()> {
        use std::io::{Read, Write};
        let rest = url.strip_prefix("http://").unwrap_or(url);
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let mut s = std::net::TcpStream::connect(host)?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
        write!(
            s,
            "DELETE /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        Ok(())
    }
}

/// Signs `email` in (password `web::PASSWORD`) through the sign-in page in
/// `lang`, and waits for the agenda link of the signed-in navigation.
pub async fn sign_in(b: &Browser, app: &TestApp, email: &str, lang: &str) {
    b.goto(&app.url(&format!("/app/sign-in?lang={lang}"))).await;
    b.type_into("#email", email).await;
    b.type_into("#password", PASSWORD).await;
    b.click_css("form[action='/app/sign-in'] button[type=submit]")
        .await;
    b.find("nav[aria-label] a[href='/app/agenda']").await;
}

/// Fails naming `what` and the page's URL if axe finds any WCAG 2.2 A/AA
/// violation on the current page.
pub async fn assert_accessible(b: &Browser, what: &str) {
    let violations = b.axe_violations().await;
    assert!(
        violations.is_empty(),
        "axe found WCAG 2.2 A/AA violations on {what} ({}):\n{}",
        b.url().await,
        serde_json::to_string_pretty(&violations).unwrap()
    );
}
