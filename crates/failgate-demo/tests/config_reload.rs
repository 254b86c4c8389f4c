//! `watch --config FILE` reloads the file when it changes and on SIGHUP; a bad file
//! changes nothing. Real time (the file watcher and the signal are the OS's), every
//! wait bounded.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use common::process::Running;
use common::snapshot as api_snapshot;
use failgate_demo::dashboard::{Config, Watch, WatchSnapshot};

const WAIT: Duration = Duration::from_secs(10);

fn settings_of(snapshot: &WatchSnapshot, lane: &str) -> Option<u32> {
    snapshot
        .breakers
        .iter()
        .find(|b| b.name == lane)?
        .settings
        .consecutive_failures
}

/// Writes `text` to `path` as editors save: a temporary file renamed over it.
fn save(path: &Path, text: &str) {
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Polls the dashboard's JSON until `done` holds, for at most [`WAIT`].
async fn wait_for(base: &str, what: &str, done: impl Fn(&WatchSnapshot) -> bool) -> WatchSnapshot {
    common::wait_for(base, what, WAIT, done).await
}

async fn watch(path: &Path) -> Watch {
    Watch::spawn(Config {
        config_file: Some(path.to_path_buf()),
        rate: 5.0,
        ..Config::ephemeral()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_file_shows_its_new_settings_in_the_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("breakers.toml");
    std::fs::write(&path, "[breakers.checkout]\nconsecutive_failures = 3\n").unwrap();
    let watch = watch(&path).await;
    let base = watch.url();
    let first = api_snapshot(&base).await;
    assert_eq!(settings_of(&first, "checkout"), Some(3));
    assert_eq!(
        settings_of(&first, "search"),
        None,
        "search keeps its own rate policy"
    );
    let search = watch.registry().get("search").unwrap();
    let checkout = watch.registry().get("checkout").unwrap();

    save(
        &path,
        "[breakers.checkout]\nconsecutive_failures = 7\nopen_for = \"3s\"\n",
    );
    let after = wait_for(&base, "the new threshold", |s| {
        settings_of(s, "checkout") == Some(7)
    })
    .await;
    let view = after
        .breakers
        .iter()
        .find(|b| b.name == "checkout")
        .unwrap();
    assert_eq!(
        view.settings.open_for.map(|d| d.0),
        Some(Duration::from_secs(3))
    );
    let reloads = after
        .reloads
        .expect("a watch with --config reports its reloads");
    assert!(reloads.applied >= 1 && reloads.refused == 0, "{reloads:?}");
    assert!(
        reloads
            .last_change
            .as_deref()
            .unwrap_or("")
            .contains("rebuilt checkout"),
        "{reloads:?}"
    );
    assert!(!watch
        .registry()
        .get("checkout")
        .unwrap()
        .same_breaker(&checkout));
    assert!(watch
        .registry()
        .get("search")
        .unwrap()
        .same_breaker(&search));
    watch.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_file_changes_nothing_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("breakers.toml");
    std::fs::write(&path, "[breakers.checkout]\nconsecutive_failures = 3\n").unwrap();
    let watch = watch(&path).await;
    let base = watch.url();
    let checkout = watch.registry().get("checkout").unwrap();

    // A good change to checkout, and a bad value for search: all or nothing.
    save(
        &path,
        "[breakers.checkout]\nconsecutive_failures = 9\n\n[breakers.search]\nfailure_rate = 1.5\n",
    );
    let after = wait_for(&base, "the refusal", |s| {
        s.reloads.as_ref().is_some_and(|r| r.refused >= 1)
    })
    .await;
    let reloads = after.reloads.clone().unwrap();
    let error = reloads.last_error.unwrap();
    assert!(error.contains("breakers.search.failure_rate"), "{error}");
    assert!(error.contains(&path.display().to_string()), "{error}");
    assert_eq!(settings_of(&after, "checkout"), Some(3));
    assert!(watch
        .registry()
        .get("checkout")
        .unwrap()
        .same_breaker(&checkout));

    // A file naming a breaker that is no lane is refused too.
    save(&path, "[breakers.shipping]\nconsecutive_failures = 2\n");
    let after = wait_for(&base, "the second refusal", |s| {
        s.reloads.as_ref().is_some_and(|r| r.refused >= 2)
    })
    .await;
    let error = after.reloads.clone().unwrap().last_error.unwrap();
    assert!(error.contains("breakers.shipping: no such lane"), "{error}");
    assert_eq!(settings_of(&after, "checkout"), Some(3));
    watch.shutdown().await.unwrap();
}

/// `failgate-demo watch --config FILE` on 127.0.0.1:0, at 5 calls a second.
fn watch_binary(config: &Path) -> Running {
    Running::demo(&[
        "watch".as_ref(),
        "--addr".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--rate".as_ref(),
        "5".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
    ])
}

fn get_snapshot(addr: &str) -> WatchSnapshot {
    let mut stream = TcpStream::connect(addr).expect("the dashboard accepts");
    write!(
        stream,
        "GET /api/snapshot HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let body = answer.split_once("\r\n\r\n").expect("a body").1;
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[test]
fn sighup_reloads_a_file_the_watcher_cannot_see_change() {
    // The binary is given a symlink; the file behind it lives elsewhere, so editing
    // that file makes no event where the watcher looks: only SIGHUP can reload it.
    let dir = tempfile::tempdir().unwrap();
    let real_dir = dir.path().join("real");
    let link_dir = dir.path().join("link");
    std::fs::create_dir_all(&real_dir).unwrap();
    std::fs::create_dir_all(&link_dir).unwrap();
    let real = real_dir.join("breakers.toml");
    let link = link_dir.join("breakers.toml");
    std::fs::write(&real, "[breakers.checkout]\nconsecutive_failures = 3\n").unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();

    let mut child = watch_binary(&link);
    let addr = child.dashboard_addr(WAIT);
    let pid = child.pid();
    let mut next_line =
        |what: &str, pred: &dyn Fn(&str) -> bool| child.line_where(what, WAIT, pred);
    assert_eq!(settings_of(&get_snapshot(&addr), "checkout"), Some(3));
    let hangup = || rustix::process::kill_process(pid, rustix::process::Signal::HUP).unwrap();

    std::fs::write(&real, "[breakers.checkout]\nfailure_rate = 2.0\n").unwrap();
    hangup();
    // The reload is the signal's: its line comes first.
    next_line("taking the signal", &|l| l.contains("SIGHUP"));
    let refused = next_line("refusing the bad file", &|l| l.contains("not reloaded"));
    assert!(
        refused.contains("breakers.checkout.failure_rate"),
        "{refused}"
    );
    assert!(refused.contains("WARN"), "{refused}");
    assert_eq!(settings_of(&get_snapshot(&addr), "checkout"), Some(3));

    std::fs::write(&real, "[breakers.checkout]\nconsecutive_failures = 8\n").unwrap();
    hangup();
    next_line("taking the second signal", &|l| l.contains("SIGHUP"));
    let reloaded = next_line("with the reload", &|l| l.contains("configuration reloaded"));
    assert!(reloaded.contains("rebuilt checkout"), "{reloaded}");
    assert_eq!(settings_of(&get_snapshot(&addr), "checkout"), Some(8));
}

/// An operator opens a lane from the dashboard; then the file changes that lane's
/// settings. The reload rebuilds its breaker, which starts closed (Registry::reload's
/// documented behaviour): the dashboard shows the new settings, the closed state,
/// and why, not the order the old breaker took.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reason_line_after_a_reload_is_the_rebuilt_breakers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("breakers.toml");
    std::fs::write(&path, "[breakers.checkout]\nconsecutive_failures = 3\n").unwrap();
    let mut child = watch_binary(&path);
    let base = format!("http://{}", child.dashboard_addr(WAIT));
    let (status, body) =
        common::post(&format!("{base}/control/open_for?breaker=checkout&wait=5m")).await;
    assert_eq!(status, 200, "{body}");
    let opened = wait_for(&base, "the operator's order", |s| {
        common::breaker(s, "checkout").state == "open"
    })
    .await;
    assert_eq!(
        common::breaker(&opened, "checkout").reason.as_deref(),
        Some("opened by an operator for 5m")
    );

    save(&path, "[breakers.checkout]\nconsecutive_failures = 7\n");
    let after = wait_for(&base, "the new threshold", |s| {
        settings_of(s, "checkout") == Some(7)
    })
    .await;
    let view = common::breaker(&after, "checkout");
    assert_eq!(
        view.state, "closed",
        "a rebuilt breaker starts closed: {view:?}"
    );
    assert_eq!(
        view.reason.as_deref(),
        Some("rebuilt by a reload of its settings (was open)"),
        "{view:?}"
    );
    let untouched = common::breaker(&after, "search");
    assert!(
        !untouched.reason.as_deref().unwrap_or("").contains("reload"),
        "{untouched:?}"
    );
    drop(child);
}
