//! A real HTTP server on loopback standing in for a webhook receiver, a
//! Mastodon instance or a Bluesky PDS: it records every request and answers
//! with what the test's function says.

use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
#[allow(dead_code)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Answer only after this long (a client with a shorter timeout gives up).
    pub delay: Option<Duration>,
}

#[allow(dead_code)]
impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
            delay: None,
        }
    }

    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: String::new(),
            delay: None,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = Some(delay);
        self
    }
}

type Answer = dyn Fn(&Request) -> Reply + Send + Sync;

pub struct Receiver {
    pub url: String,
    pub port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
    handle: actix_web::dev::ServerHandle,
}

impl Receiver {
    pub fn start(answer: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Receiver {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let answer: Arc<Answer> = Arc::new(answer);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let recorded = requests.clone();
        let server = actix_web::HttpServer::new(move || {
            let recorded = recorded.clone();
            let answer = answer.clone();
            // Images up to 16 MiB come in (actix's default is 256 KiB).
            actix_web::App::new()
                .app_data(actix_web::web::PayloadConfig::new(16 * 1024 * 1024))
                .default_service(actix_web::web::to(
                    move |req: actix_web::HttpRequest, body: actix_web::web::Bytes| {
                        let recorded = recorded.clone();
                        let answer = answer.clone();
                        async move {
                            let request = Request {
                                method: req.method().to_string(),
                                path: req.path().to_owned(),
                                query: req.query_string().to_owned(),
                                headers: req
                                    .headers()
                                    .iter()
                                    .map(|(n, v)| {
                                        (n.to_string(), v.to_str().unwrap_or("").to_owned())
                                    })
                                    .collect(),
                                body: body.to_vec(),
                            };
                            recorded.lock().unwrap().push(request.clone());
                            let reply = answer(&request);
                            if let Some(delay) = reply.delay {
                                tokio::time::sleep(delay).await;
                            }
                            let mut res = actix_web::HttpResponse::build(
                                actix_web::http::StatusCode::from_u16(reply.status).unwrap(),
                            );
                            for (n, v) in &reply.headers {
                                res.insert_header((n.as_str(), v.as_str()));
                            }
                            res.body(reply.body)
                        }
                    },
                ))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver {
            url: format!("http://127.0.0.1:{port}"),
            port,
            requests,
            handle,
        }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// Requests to this path.
    pub fn to(&self, path: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        tokio::spawn(async move { handle.stop(false).await });
    }
}
