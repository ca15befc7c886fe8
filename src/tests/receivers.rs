//! Local stand-ins for the services alerts go to: `Receiver`, an HTTP endpoint that records
//! every request and answers as it is told (Slack's `ok`, Discord's 204, Teams' empty 202, a
//! 429 with `Retry-After`, a 410…), and `Smtp`, a real SMTP server (aiosmtpd from PyPI) that
//! keeps each message it receives.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request a receiver got.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Seen {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What a receiver answers.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    pub fn new(status: u16, body: &str) -> Self {
        Self { status, headers: Vec::new(), body: body.to_owned() }
    }
    pub fn with(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }
}

#[derive(Default)]
struct Script {
    seen: Vec<Seen>,
    next: VecDeque<Reply>,
}

/// An HTTP receiver on a local port.
pub struct Receiver {
    pub url: String,
    pub port: u16,
    script: Arc<Mutex<Script>>,
    usual: Reply,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Receiver {
    /// Starts answering `usual` to every request (after any replies queued with `then`).
    pub async fn start(usual: Reply) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut r =
            Self { url: format!("http://127.0.0.1:{port}/hook"), port, script: Arc::default(), usual, server: None };
        r.listen(listener);
        r
    }

    /// A receiver whose port is reserved but that does not answer yet (it is "down").
    pub async fn down(usual: Reply) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        Self { url: format!("http://127.0.0.1:{port}/hook"), port, script: Arc::default(), usual, server: None }
    }

    /// Starts answering on the receiver's port.
    pub async fn up(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.listen(listener);
    }

    fn listen(&mut self, listener: tokio::net::TcpListener) {
        let (script, usual) = (self.script.clone(), self.usual.clone());
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
            let (script, usual) = (script.clone(), usual.clone());
            async move {
                let reply = {
                    let mut s = script.lock().unwrap();
                    s.seen.push(Seen { path: uri.to_string(), headers, body, at: Instant::now() });
                    s.next.pop_front().unwrap_or(usual)
                };
                let mut response = axum::response::Response::new(axum::body::Body::from(reply.body));
                *response.status_mut() = StatusCode::from_u16(reply.status).unwrap();
                for (k, v) in reply.headers {
                    response.headers_mut().insert(k, v.parse().unwrap());
                }
                response
            }
        });
        self.server = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
    }

    /// Answers these first, in order.
    pub fn then(&self, replies: impl IntoIterator<Item = Reply>) {
        self.script.lock().unwrap().next.extend(replies);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.script.lock().unwrap().seen.clone()
    }

    /// Waits until at least `n` requests arrived (or `wait` passed); answers them all.
    pub async fn wait_for(&self, n: usize, wait: Duration) -> Vec<Seen> {
        let until = Instant::now() + wait;
        loop {
            let seen = self.seen();
            if seen.len() >= n || Instant::now() >= until {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(s) = &self.server {
            s.abort();
        }
    }
}

/// One email the SMTP server received, as raw RFC 5322 text.
#[derive(Clone, Debug)]
pub struct Mail(pub String);

impl Mail {
    /// A top-level header's value (unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.0.split("\n\n").next().unwrap_or_default().replace("\r\n", "\n");
        let mut value: Option<String> = None;
        for line in head.split('\n') {
            if let Some(v) = &mut value {
                if line.starts_with([' ', '\t']) {
                    v.push_str(line.trim_start());
                    continue;
                }
                return value;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case(name)
            {
                value = Some(v.trim().to_owned());
            }
        }
        value
    }

    /// The text of the part with this content type, decoded from quoted-printable or base64.
    pub fn part(&self, content_type: &str) -> Option<String> {
        let text = self.0.replace("\r\n", "\n");
        let start = text.find(&format!("Content-Type: {content_type}"))?;
        let rest = &text[start..];
        let (head, body) = rest.split_once("\n\n")?;
        let body = body.split("\n--").next().unwrap_or_default();
        if head.contains("Content-Transfer-Encoding: base64") {
            use base64::Engine;
            let joined: String = body.split_whitespace().collect();
            return Some(
                String::from_utf8_lossy(&base64::engine::general_purpose::STANDARD.decode(joined).ok()?).into(),
            );
        }
        if head.contains("Content-Transfer-Encoding: quoted-printable") {
            return Some(quoted_printable(body));
        }
        Some(body.to_owned())
    }
}

fn quoted_printable(s: &str) -> String {
    let joined = s.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && let Some(b) = std::str::from_utf8(bytes.get(i + 1..i + 3).unwrap_or_default())
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// aiosmtpd on a local port, keeping messages in a maildir.
pub struct Smtp {
    pub port: u16,
    dir: std::path::PathBuf,
    child: tokio::process::Child,
}

impl Smtp {
    pub async fn start() -> Self {
        let python = std::env::var("FAULTLINE_SDK_PYTHON").unwrap_or_else(|_| "python3".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("faultline-mail-{}", uuid::Uuid::new_v4().simple()));
        let child = tokio::process::Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&dir)
            .kill_on_drop(true)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("aiosmtpd (pip install aiosmtpd into FAULTLINE_SDK_PYTHON's environment; `make test` does)");
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "aiosmtpd did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { port, dir, child }
    }

    /// `FAULTLINE_SMTP_URL` for this server.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
    }

    /// The messages received so far.
    pub fn mails(&self) -> Vec<Mail> {
        let mut files: Vec<_> = ["new", "cur"]
            .iter()
            .flat_map(|d| std::fs::read_dir(self.dir.join(d)).into_iter().flatten().flatten())
            .map(|e| e.path())
            .collect();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files.iter().filter_map(|p| std::fs::read_to_string(p).ok()).map(Mail).collect()
    }

    /// Waits until at least `n` messages arrived (or `wait` passed).
    pub async fn wait_for(&self, n: usize, wait: Duration) -> Vec<Mail> {
        let until = Instant::now() + wait;
        loop {
            let mails = self.mails();
            if mails.len() >= n || Instant::now() >= until {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
