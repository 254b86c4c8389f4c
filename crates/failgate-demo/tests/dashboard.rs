//! `failgate-demo watch`: the control endpoints and /metrics over real HTTP, the
//! scripted schedules under paused tokio time, the binary, and the page in real
//! headless Chromium (driven over the DevTools protocol).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use failgate::State;
use failgate_demo::dashboard::{self, Config, Target, Watch, WatchSnapshot};
use failgate_demo::service::{self, ErrorBody, Stats};
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("the HTTP client builds")
}

async fn start() -> Watch {
    Watch::spawn(Config {
        seed: Some(7),
        ..Config::ephemeral()
    })
    .await
    .expect("the watch starts on port 0")
}

/// A control call as the page sends it: JSON, so not a request another site can make.
async fn post(url: &str) -> (u16, Value) {
    let response = client()
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body("{}")
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    let body = response.json().await.expect("a JSON body");
    (status, body)
}

async fn snapshot(base: &str) -> WatchSnapshot {
    client()
        .get(format!("{base}/api/snapshot"))
        .send()
        .await
        .expect("the server answers")
        .json()
        .await
        .expect("a snapshot")
}

fn breaker<'a>(s: &'a WatchSnapshot, name: &str) -> &'a dashboard::BreakerView {
    s.breakers
        .iter()
        .find(|b| b.name == name)
        .unwrap_or_else(|| panic!("no breaker {name} in {s:?}"))
}

fn assert_error(status: u16, body: &Value, expected: u16, parameter: Option<&str>) {
    assert_eq!(status, expected, "{body}");
    let error: ErrorBody = serde_json::from_value(body.clone()).expect("an ErrorBody");
    assert_eq!(error.status, expected);
    assert_eq!(error.parameter.as_deref(), parameter, "{body}");
    assert!(!error.message.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_endpoints_refuse_bad_input_with_json_400_and_404() {
    let watch = start().await;
    let base = watch.url();
    for action in ["force_open", "reset", "ratio"] {
        let (status, body) = post(&format!("{base}/control/{action}")).await;
        assert_error(status, &body, 400, Some("breaker"));
        let (status, body) = post(&format!("{base}/control/{action}?breaker=")).await;
        assert_error(status, &body, 400, Some("breaker"));
        let (status, body) = post(&format!("{base}/control/{action}?breaker=nope&ratio=0.5")).await;
        assert_error(status, &body, 404, Some("breaker"));
        assert!(
            body["message"].as_str().unwrap().contains("checkout"),
            "the 404 lists the known breakers: {body}"
        );
    }
    for bad in ["1.5", "-0.1", "nan", "abc", "", "inf"] {
        let (status, body) = post(&format!(
            "{base}/control/ratio?breaker=checkout&ratio={bad}"
        ))
        .await;
        assert_error(status, &body, 400, Some("ratio"));
    }
    let (status, body) = post(&format!("{base}/control/ratio?breaker=checkout")).await;
    assert_error(status, &body, 400, Some("ratio"));
    // A query string that is not one.
    let (status, body) = post(&format!("{base}/control/reset?breaker=a&breaker=b")).await;
    assert_eq!(status, 400, "{body}");
    // The refused requests changed nothing.
    let s = watch.snapshot();
    assert!(s.breakers.iter().all(|b| !b.pinned), "{s:?}");
    assert!(s.breakers.iter().all(|b| b.state != "forced_open"), "{s:?}");
    // Controls are POST only; other paths are JSON 404s.
    let response = client()
        .get(format!("{base}/control/reset?breaker=checkout"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    let body: Value = response.json().await.unwrap();
    assert_error(405, &body, 405, None);
    let response = client().get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
    watch.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_endpoints_force_open_reset_and_pin_ratios() {
    let watch = start().await;
    let base = watch.url();
    let search = watch.registry().get("search").expect("a search breaker");

    let (status, body) = post(&format!("{base}/control/force_open?breaker=search")).await;
    assert_eq!((status, body["state"].as_str()), (200, Some("forced_open")));
    assert_eq!(search.state(), State::ForcedOpen);

    let (status, body) = post(&format!("{base}/control/reset?breaker=search")).await;
    assert_eq!((status, body["state"].as_str()), (200, Some("closed")));
    assert_eq!(search.state(), State::Closed);

    let (status, body) = post(&format!("{base}/control/ratio?breaker=search&ratio=0.9")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["ratio"].as_f64(), body["pinned"].as_bool()),
        (Some(0.9), Some(true))
    );
    let s = snapshot(&base).await;
    assert!(breaker(&s, "search").pinned);
    assert!(!breaker(&s, "checkout").pinned, "only the named lane");

    let (status, body) = post(&format!("{base}/control/ratio?breaker=search&ratio=auto")).await;
    assert_eq!((status, body["pinned"].as_bool()), (200, Some(false)));
    watch.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_endpoint_serves_prometheus_text_for_every_breaker() {
    let watch = start().await;
    let response = client()
        .get(format!("{}/metrics", watch.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = response.text().await.unwrap();
    for name in ["checkout", "search", "payments"] {
        for series in [
            format!("failgate_calls_total{{breaker=\"{name}\",outcome=\"success\"}}"),
            format!("failgate_calls_total{{breaker=\"{name}\",outcome=\"rejected\"}}"),
            format!("failgate_transitions_total{{breaker=\"{name}\",to=\"open\"}}"),
            format!("failgate_state{{breaker=\"{name}\"}}"),
            format!("failgate_window_calls{{breaker=\"{name}\"}}"),
        ] {
            assert!(text.contains(&series), "no {series} in:\n{text}");
        }
    }
    // checkout trips on consecutive failures and keeps no window: its failure rate is
    // never known, so its gauge never appears (never a made-up value).
    assert!(
        !text.contains("failgate_failure_rate{breaker=\"checkout\""),
        "{text}"
    );
    watch.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_history_and_event_stream_are_served() {
    let watch = start().await;
    let base = watch.url();
    let page = client()
        .get(format!("{base}/dashboard"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert_eq!(html, dashboard::PAGE);
    assert!(html.contains("new EventSource(\"/events\")"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing fetched from elsewhere"
    );

    let history: dashboard::History = client()
        .get(format!("{base}/api/history"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(history.names, ["checkout", "search", "payments"]);
    assert!(!history.samples.is_empty(), "sampled at start");
    assert!(history.samples.iter().all(|s| s.points.len() == 3));

    // The stream's first event is the latest snapshot, at once.
    let mut events = client().get(format!("{base}/events")).send().await.unwrap();
    assert!(events.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), events.chunk())
            .await
            .expect("an event within 5 s")
            .unwrap()
            .expect("the stream is open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let data = text
        .lines()
        .find_map(|l| l.strip_prefix("data:"))
        .unwrap_or_else(|| panic!("no data line in {text:?}"));
    assert!(text.starts_with("event: snapshot\n"), "{text:?}");
    let first: WatchSnapshot = serde_json::from_str(data.trim()).unwrap();
    assert_eq!(first.breakers.len(), 3);
    drop(events);

    // Shutting down ends open streams rather than waiting on them.
    let _open = client().get(format!("{base}/events")).send().await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), watch.shutdown())
        .await
        .expect("shutdown does not wait on an open event stream")
        .expect("clean shutdown");
}

/// The scripted schedules, under paused tokio time with the flaky service's router
/// called in-process: over a minute and a bit, every breaker trips and closes again on
/// its own; each lane stays within its rate; refused calls never reach the service.
#[tokio::test(start_paused = true)]
async fn schedules_trip_and_heal_every_breaker_within_a_minute() {
    let stats = Arc::new(Stats::default());
    let router = service::router(&service::Config::ephemeral(), 7, Arc::clone(&stats));
    let watch = Watch::spawn(Config {
        target: Some(Target::Router(router)),
        ..Config::ephemeral()
    })
    .await
    .unwrap();
    let run = Duration::from_secs(65);
    tokio::time::sleep(run).await;

    let metrics = watch.render_metrics();
    let value = |series: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in:\n{metrics}"))
    };
    let s = watch.snapshot();
    let mut sent = 0;
    for b in &s.breakers {
        let name = &b.name;
        let opened = value(&format!(
            "failgate_transitions_total{{breaker=\"{name}\",to=\"open\"}}"
        ));
        let closed = value(&format!(
            "failgate_transitions_total{{breaker=\"{name}\",to=\"closed\"}}"
        ));
        assert!(
            opened >= 1.0 && closed >= 1.0,
            "{name}: opened {opened}, closed {closed}"
        );
        // The Prometheus counters agree with the lane's own.
        let success = value(&format!(
            "failgate_calls_total{{breaker=\"{name}\",outcome=\"success\"}}"
        ));
        let rejected = value(&format!(
            "failgate_calls_total{{breaker=\"{name}\",outcome=\"rejected\"}}"
        ));
        assert_eq!(
            (success, rejected),
            (b.succeeded as f64, b.rejected as f64),
            "{name}"
        );
        assert!(b.rejected > 0, "{name}: refused nothing while open");
        let calls = b.succeeded + b.failed + b.rejected;
        let bound = (dashboard::DEFAULT_RATE * run.as_secs_f64()) as u64 + 1;
        assert!(
            calls <= bound,
            "{name}: {calls} calls in {run:?}, above {bound}"
        );
        assert!(
            calls >= bound * 9 / 10,
            "{name}: only {calls} calls in {run:?}"
        );
        sent += b.succeeded + b.failed;
    }
    // The rate gauges of windowed breakers are known by now; checkout has no window.
    assert!(metrics.contains("failgate_failure_rate{breaker=\"search\"}"));
    assert!(metrics.contains("failgate_failure_rate{breaker=\"payments\"}"));
    assert!(!metrics.contains("failgate_failure_rate{breaker=\"checkout\"}"));
    // The history saw the openings too, and keeps its bound.
    let history = watch.history();
    assert!(history.samples.len() <= dashboard::DEFAULT_HISTORY);
    for (i, name) in history.names.iter().enumerate() {
        assert!(
            history.samples.iter().any(|s| s.points[i].state == "open"),
            "{name} never sampled open"
        );
    }
    watch.shutdown().await.unwrap();
    assert_eq!(
        stats.snapshot().random,
        sent,
        "the service saw exactly the calls the breakers let through"
    );
}

// ---------------------------------------------------------------------------------------
// The binary.
// ---------------------------------------------------------------------------------------

const BIN: &str = env!("CARGO_BIN_EXE_failgate-demo");

#[test]
fn watch_refuses_a_rate_above_50() {
    let output = Command::new(BIN)
        .args(["watch", "--rate", "51"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--rate") && stderr.contains("at most 50"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_binary_prints_its_urls_serves_and_stops_on_sigterm() {
    use std::io::{BufRead as _, BufReader};
    let mut child = Command::new(BIN)
        .args(["watch", "--addr", "127.0.0.1:0", "--seed", "3"])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = KillOnDrop(Some(child.id()));
    // Read every line, to the end: a closed pipe would make the watch's next print
    // fail (and the watch exit).
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let next_line = || {
        lines
            .recv_timeout(Duration::from_secs(20))
            .expect("a line within 20 s")
    };
    let line = next_line();
    let url = line
        .strip_prefix("dashboard on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let base = url.strip_suffix("/dashboard").unwrap();
    assert_eq!(next_line(), format!("metrics on {base}/metrics"));
    let traffic = next_line();
    assert!(
        traffic.starts_with("traffic to http://127.0.0.1:"),
        "the in-process service on loopback: {traffic:?}"
    );
    assert!(!base.ends_with(":0"), "{base}");
    let s = snapshot(base).await;
    assert_eq!(s.breakers.len(), 3);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let exit = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::task::spawn_blocking(move || child.wait()),
    )
    .await
    .expect("exits within 20 s of SIGTERM")
    .unwrap()
    .unwrap();
    drop(guard);
    assert!(exit.success(), "watch exited with {exit}");
}

struct KillOnDrop(Option<u32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Headless Chromium.
// ---------------------------------------------------------------------------------------

/// `chromium` on PATH, or `None` (after saying why) when the test may skip. On CI
/// (`CI=true`) a missing browser fails the test: `.ci/run` installs it.
fn chromium() -> Option<PathBuf> {
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

/// Where screenshots go: the target directory.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The browser process and its fresh profile: killed and removed on drop, whatever
/// happens in the test.
struct Process {
    child: Child,
    profile: PathBuf,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// A headless Chromium with one page, driven over the DevTools protocol.
struct Browser {
    socket: Socket,
    session: String,
    next_id: u64,
    process: Process,
}

/// How long one DevTools command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(15);

impl Browser {
    async fn launch(chromium: &Path) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let profile =
            std::env::temp_dir().join(format!("failgate-dashboard-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&profile).unwrap();
        let log = std::fs::File::create(profile.join("chromium.log")).unwrap();
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
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("chromium starts");
        let mut process = Process { child, profile };

        // Chromium writes its DevTools port and browser path into the profile.
        let port_file = process.profile.join("DevToolsActivePort");
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
                    std::fs::read_to_string(process.profile.join("chromium.log"))
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
    async fn command(&mut self, method: &str, params: Value, page: bool) -> Value {
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

    async fn navigate(&mut self, url: &str) {
        self.command("Page.navigate", json!({ "url": url }), true)
            .await;
    }

    /// Evaluates `expression` in the page and returns its value.
    async fn eval(&mut self, expression: &str) -> Value {
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
    async fn badge(&mut self, name: &str) -> Option<Badge> {
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
    async fn wait_badge(
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
    async fn wait_until(
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
    async fn screenshot(&mut self, path: &Path) {
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

    async fn close(mut self) {
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
struct Badge {
    state: String,
    colour: String,
    background: String,
    text: String,
}

const RED: &str = "rgb(207, 34, 46)";
const GREEN: &str = "rgb(26, 127, 55)";

/// Polls the watch's own JSON until `name` is in a state `done` accepts.
async fn wait_state(
    base: &str,
    name: &str,
    within: Duration,
    done: impl Fn(&dashboard::BreakerView) -> bool,
) -> dashboard::BreakerView {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let s = snapshot(base).await;
        let b = breaker(&s, name).clone();
        if done(&b) {
            return b;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} after {within:?}: {b:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The page in real headless Chromium: a breaker driven open shows a red badge; healed,
/// the same page turns it green through the event stream, without a reload; the
/// page's buttons force a breaker open and reset it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_shows_red_when_open_and_green_when_healed() {
    let Some(chromium) = chromium() else { return };
    let watch = start().await;
    let base = watch.url();
    // The other lanes stay healthy whatever the time (payments' schedule fails from
    // 5 s on), so their green badges do not depend on how fast this machine is.
    for name in ["search", "payments"] {
        let (status, body) = post(&format!("{base}/control/ratio?breaker={name}&ratio=0")).await;
        assert_eq!(status, 200, "{body}");
    }
    // The browser starts first, so its start-up does not eat into the open wait.
    let mut browser = Browser::launch(&chromium).await;

    let (status, body) = post(&format!("{base}/control/ratio?breaker=checkout&ratio=1")).await;
    assert_eq!(status, 200, "{body}");
    // A fresh opening (checkout stays open 4 s), so the page sees it open, not probing.
    wait_state(&base, "checkout", Duration::from_secs(10), |b| {
        b.state == "open" && b.retry_after_ms.is_some_and(|ms| ms >= 2_500)
    })
    .await;
    browser.navigate(&format!("{base}/dashboard")).await;
    let badge = browser
        .wait_badge("checkout", Duration::from_secs(10), |b| {
            b.state != "unknown"
        })
        .await;
    assert_eq!(
        (
            badge.state.as_str(),
            badge.colour.as_str(),
            badge.background.as_str()
        ),
        ("open", "red", RED),
        "{badge:?}"
    );
    assert_eq!(badge.text, "open");
    // The others are healthy, and green.
    for name in ["search", "payments"] {
        let other = browser
            .wait_badge(name, Duration::from_secs(5), |b| b.state != "unknown")
            .await;
        assert_eq!(
            (other.colour.as_str(), other.background.as_str()),
            ("green", GREEN),
            "{name}: {other:?}"
        );
    }
    // Let the event stream bring a second of samples (the charts draw them), then keep
    // a picture for people to look at.
    let loaded = browser.eval("uptime").await.as_u64().unwrap_or(0);
    browser
        .wait_until("uptime", Duration::from_secs(5), |v| {
            v.as_u64().is_some_and(|t| t >= loaded + 1_000)
        })
        .await;
    browser
        .screenshot(&target_dir().join("dashboard.png"))
        .await;

    let (status, body) = post(&format!("{base}/control/ratio?breaker=checkout&ratio=0")).await;
    assert_eq!(status, 200, "{body}");
    wait_state(&base, "checkout", Duration::from_secs(15), |b| {
        b.state == "closed"
    })
    .await;
    // The same page, no reload: the event stream turns the badge green.
    let badge = browser
        .wait_badge("checkout", Duration::from_secs(5), |b| b.state == "closed")
        .await;
    assert_eq!(
        (badge.colour.as_str(), badge.background.as_str()),
        ("green", GREEN),
        "{badge:?}"
    );
    assert_eq!(
        browser
            .eval("document.getElementById('conn').dataset.live")
            .await,
        json!("true"),
        "the page says it is live"
    );
    browser
        .screenshot(&target_dir().join("dashboard-healed.png"))
        .await;

    // The page's buttons: force open, then reset, the search breaker.
    browser
        .eval("document.querySelector('#card-search button[data-action=\"force_open\"]').click()")
        .await;
    wait_state(&base, "search", Duration::from_secs(5), |b| {
        b.state == "forced_open"
    })
    .await;
    browser
        .wait_until(
            "document.getElementById('message-search').textContent",
            Duration::from_secs(5),
            |v| v == "force open: now forced open",
        )
        .await;
    let badge = browser
        .wait_badge("search", Duration::from_secs(5), |b| {
            b.state == "forced_open"
        })
        .await;
    assert_eq!(
        (badge.colour.as_str(), badge.background.as_str()),
        ("red", RED),
        "{badge:?}"
    );
    browser
        .eval("document.querySelector('#card-search button[data-action=\"reset\"]').click()")
        .await;
    wait_state(&base, "search", Duration::from_secs(5), |b| {
        b.state == "closed"
    })
    .await;
    browser
        .wait_badge("search", Duration::from_secs(5), |b| {
            b.state == "closed" && b.colour == "green"
        })
        .await;

    browser.close().await;
    watch.shutdown().await.expect("clean shutdown");
}

/// The page of a token-protected dashboard: without the token its buttons are refused
/// and say why; opened from the URL `watch` prints (`/dashboard#token=...`) they work,
/// and the token leaves the address bar.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_sends_the_control_token_from_the_url_fragment() {
    let Some(chromium) = chromium() else { return };
    let watch = Watch::spawn(Config {
        seed: Some(7),
        control_token: Some("page-t0ken".parse().unwrap()),
        ..Config::ephemeral()
    })
    .await
    .expect("the watch starts on port 0");
    let base = watch.url();
    let mut browser = Browser::launch(&chromium).await;
    let force_open =
        "document.querySelector('#card-search button[data-action=\"force_open\"]').click()";
    let message = "document.getElementById('message-search').textContent";

    browser.navigate(&format!("{base}/dashboard")).await;
    browser
        .wait_badge("search", Duration::from_secs(10), |b| b.state != "unknown")
        .await;
    browser.eval(force_open).await;
    browser
        .wait_until(message, Duration::from_secs(5), |v| {
            v.as_str().is_some_and(|t| t.contains("need its token"))
        })
        .await;
    assert_ne!(
        breaker(&snapshot(&base).await, "search").state,
        "forced_open"
    );

    browser
        .navigate(&format!("{base}/dashboard#token=page-t0ken"))
        .await;
    browser
        .wait_until(
            "sessionStorage.getItem('failgate-control-token')",
            Duration::from_secs(5),
            |v| v == "page-t0ken",
        )
        .await;
    assert_eq!(browser.eval("location.hash").await, json!(""));
    browser.eval(force_open).await;
    wait_state(&base, "search", Duration::from_secs(5), |b| {
        b.state == "forced_open"
    })
    .await;

    browser.close().await;
    watch.shutdown().await.expect("clean shutdown");
}
