//! A small DevTools client for the dashboard's headless-Chromium tests
//! (`dashboard.rs`, which says why it is its own), and where their screenshots go.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};

/// `chromium` on PATH, or `None` (after saying why) when the test may skip. On CI
/// (`CI=true`) a missing browser fails the test: `.ci/run` installs it.
pub fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("chromium"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let message = "`chromium` is not on PATH; install Debian's package \
                       (apt-get install chromium), as .ci/run does";
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{message} (CI=true: not skipping)"
        );
        eprintln!("skipping the headless-browser test: {message}");
    }
    found
}

/// With `FAILGATE_UPDATE_SCREENSHOT=1` (and not on CI, which never rewrites it), copies
/// `shot` to `docs/dashboard.png`, the picture the README shows.
pub fn keep_for_the_readme(shot: &Path) {
    let asked = std::env::var("FAILGATE_UPDATE_SCREENSHOT").as_deref() == Ok("1");
    if !asked || std::env::var("CI").as_deref() == Ok("true") {
        return;
    }
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/dashboard.png");
    std::fs::copy(shot, &docs).expect("docs/dashboard.png written");
    eprintln!("README screenshot updated: {}", docs.display());
}

/// Where screenshots go: the target directory.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The browser process and its fresh profile: killed, then the profile removed (the
/// `TempDir` drops after `drop` has run), whatever happens in the test.
pub struct Process {
    child: Child,
    profile: tempfile::TempDir,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless Chromium with one page, driven over the DevTools protocol.
pub struct Browser {
    socket: Socket,
    session: String,
    next_id: u64,
    process: Process,
}

/// How long one DevTools command may take.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(15);

impl Browser {
    pub async fn launch(chromium: &Path) -> Self {
        let profile = tempfile::Builder::new()
            .prefix("failgate-dashboard-")
            .tempdir()
            .expect("a temporary profile directory");
        let log = std::fs::File::create(profile.path().join("chromium.log")).unwrap();
        let child = Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
                "--window-size=1280,800",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("chromium starts");
        let mut process = Process { child, profile };

        // Chromium writes its DevTools port and browser path into the profile.
        let port_file = process.profile.path().join("DevToolsActivePort");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let endpoint = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                let mut lines = text.lines();
                if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                    break format!("ws://127.0.0.1:{port}{path}");
                }
            }
            if let Ok(Some(exit)) = process.child.try_wait() {
                panic!(
                    "chromium exited with {exit} before listening; its log:\n{}",
                    std::fs::read_to_string(process.profile.path().join("chromium.log"))
                        .unwrap_or_default()
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromium did not open its DevTools port within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let (socket, _) = tokio_tungstenite::connect_async(endpoint.as_str())
            .await
            .expect("the DevTools socket connects");
        let mut browser = Browser {
            socket,
            session: String::new(),
            next_id: 0,
            process,
        };
        let target = browser
            .command(
                "Target.createTarget",
                json!({ "url": "about:blank" }),
                false,
            )
            .await;
        let target_id = target["targetId"].as_str().unwrap().to_owned();
        let attached = browser
            .command(
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
                false,
            )
            .await;
        browser.session = attached["sessionId"].as_str().unwrap().to_owned();
        browser
            .command(
                "Emulation.setDeviceMetricsOverride",
                json!({ "width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": false }),
                true,
            )
            .await;
        browser
    }

    /// Sends one command (to the page's session when `page`) and returns its result;
    /// events in between are ignored.
    pub async fn command(&mut self, method: &str, params: Value, page: bool) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if page {
            message["sessionId"] = json!(self.session);
        }
        let exchange = async {
            self.socket
                .send(tokio_tungstenite::tungstenite::Message::text(
                    message.to_string(),
                ))
                .await
                .expect("the DevTools socket takes the command");
            loop {
                let frame = self
                    .socket
                    .next()
                    .await
                    .expect("the DevTools socket stays open")
                    .expect("a DevTools message");
                let Ok(text) = frame.to_text() else { continue };
                let Ok(reply) = serde_json::from_str::<Value>(text) else {
                    continue;
                };
                if reply["id"].as_u64() == Some(id) {
                    return reply;
                }
            }
        };
        let reply = tokio::time::timeout(COMMAND_TIMEOUT, exchange)
            .await
            .unwrap_or_else(|_| panic!("{method}: no answer within {COMMAND_TIMEOUT:?}"));
        assert!(reply.get("error").is_none(), "{method} failed: {reply}");
        reply["result"].clone()
    }

    pub async fn navigate(&mut self, url: &str) {
        self.command("Page.navigate", json!({ "url": url }), true)
            .await;
    }

    /// Evaluates `expression` in the page and returns its value.
    pub async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .command(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
                true,
            )
            .await;
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression} threw: {result}"
        );
        result["result"]["value"].clone()
    }

    /// The badge of `name` as the page shows it: state, colour, computed background.
    pub async fn badge(&mut self, name: &str) -> Option<Badge> {
        let expression = format!(
            "(() => {{ const b = document.getElementById({id}); if (!b) return null;
               return {{ state: b.dataset.state, colour: b.dataset.colour,
                         background: getComputedStyle(b).backgroundColor, text: b.textContent }}; }})()",
            id = json!(format!("badge-{name}"))
        );
        let value = self.eval(&expression).await;
        serde_json::from_value(value).ok()
    }

    /// Polls the badge of `name` until `done` holds, for at most `within`.
    pub async fn wait_badge(
        &mut self,
        name: &str,
        within: Duration,
        done: impl Fn(&Badge) -> bool,
    ) -> Badge {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let badge = self.badge(name).await;
            match badge {
                Some(badge) if done(&badge) => return badge,
                _ if tokio::time::Instant::now() >= deadline => {
                    panic!("badge of {name} after {within:?}: {badge:?}")
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Polls `expression` until `done` accepts its value, for at most `within`.
    pub async fn wait_until(
        &mut self,
        expression: &str,
        within: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let value = self.eval(expression).await;
            if done(&value) {
                return value;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{expression} after {within:?}: {value}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a PNG of the page.
    pub async fn screenshot(&mut self, path: &Path) {
        use base64::Engine as _;
        let shot = self
            .command("Page.captureScreenshot", json!({ "format": "png" }), true)
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .expect("base64 PNG");
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
    }

    pub async fn close(mut self) {
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            self.socket
                .send(tokio_tungstenite::tungstenite::Message::text(
                    json!({ "id": 0, "method": "Browser.close" }).to_string(),
                )),
        )
        .await;
        drop(self.process);
    }
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct Badge {
    pub state: String,
    pub colour: String,
    pub background: String,
    pub text: String,
}

pub const RED: &str = "rgb(207, 34, 46)";
pub const GREEN: &str = "rgb(26, 127, 55)";
