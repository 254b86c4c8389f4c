//! `watch --config FILE` live: the lanes' settings from the file, reloaded on SIGHUP
//! and whenever the file changes.
//!
//! The registry is built from one [`RegistryConfig`] that says every lane's settings
//! in full (its defaults are empty): a lane the file names takes the file's settings
//! for it (over the file's defaults), the others keep their own. A reload rebuilds
//! that configuration from the file and hands it to [`Registry::reload`]: a lane
//! whose settings did not change keeps its breaker, state and all; a changed one gets
//! a new breaker, which the lane's traffic uses from its next call on (it asks the
//! registry for its breaker at each call), and the lane's "why:" line says it was
//! rebuilt, and in which state the breaker it replaced was. A file that cannot be read, parsed or
//! checked, or that names no lane, is logged at WARN and changes nothing.
//!
//! The file is watched through its directory (`notify`), so that a file replaced by a
//! rename, as editors save, is still seen; events are debounced for [`DEBOUNCE`].
//!
//! [`Registry::reload`]: failgate::Registry::reload

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use failgate::config_file::RegistryConfig;
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::{mpsc, watch};

use super::cli::lanes_from;
use super::config::WatchError;
use super::lanes::Lane;
use super::state::Shared;
use super::views::ReloadView;

/// How long events on the file are gathered into one reload: an editor's save is
/// several events (write, rename, metadata).
pub const DEBOUNCE: Duration = Duration::from_millis(200);

/// The file a watch reloads, and the lanes' own settings it applies over.
#[derive(Debug)]
pub(super) struct Source {
    pub(super) path: PathBuf,
    pub(super) lanes: Vec<Lane>,
}

/// The registry's configuration: every lane's settings in full, from `file` for the
/// lanes it names, else the lane's own. A lane the file does not have is an error.
pub(super) fn effective(
    lanes: &[Lane],
    file: Option<&RegistryConfig>,
) -> Result<(RegistryConfig, Vec<Lane>), WatchError> {
    let lanes = match file {
        Some(file) => lanes_from(lanes.to_vec(), file)?,
        None => lanes.to_vec(),
    };
    let mut config = RegistryConfig::default();
    for lane in &lanes {
        config
            .breakers
            .insert(lane.name.clone(), lane.settings.clone());
    }
    Ok((config, lanes))
}

/// Reads the file: an unreadable or invalid one is a [`WatchError`] naming it.
pub(super) fn read(path: &Path) -> Result<RegistryConfig, WatchError> {
    RegistryConfig::from_path(path).map_err(|e| WatchError::Invalid {
        field: "config",
        reason: format!("{}: {e}", path.display()),
    })
}

impl Shared {
    /// Reloads the watched file (none: nothing to do). Logs what changed, or why the
    /// file was refused, and keeps the outcome for the dashboard.
    pub(super) fn reload(&self) {
        let Some(source) = &self.source else { return };
        let outcome = read(&source.path).and_then(|file| {
            let (config, lanes) = effective(&source.lanes, Some(&file))?;
            let report =
                metrics::with_local_recorder(&self.recorder, || self.registry.reload(&config))
                    .map_err(|e| WatchError::Invalid {
                        field: "config",
                        reason: format!("{}: {e}", source.path.display()),
                    })?;
            for lane in &lanes {
                if let Some(state) = self.lane(&lane.name) {
                    state.set_policy(&lane.policy);
                }
            }
            Ok(report)
        });
        let mut view = self.reloads.lock().unwrap_or_else(|p| p.into_inner());
        match outcome {
            Ok(report) => {
                tracing::info!(file = %source.path.display(), "configuration reloaded: {report}");
                view.applied += 1;
                view.last_change = Some(report.to_string());
                view.last_error = None;
            }
            Err(e) => {
                tracing::warn!("configuration not reloaded, nothing changed: {e}");
                view.refused += 1;
                view.last_error = Some(e.to_string());
            }
        }
    }

    /// What the reloads did so far, for the snapshot.
    pub(super) fn reload_view(&self) -> Option<ReloadView> {
        self.source.as_ref()?;
        Some(
            self.reloads
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }
}

/// What reloads a watch's file: its watcher and the SIGHUP handler, both set up
/// before the watch announces itself, so that no change and no signal is missed.
pub(super) struct Reloader {
    shared: Arc<Shared>,
    changed: mpsc::UnboundedReceiver<()>,
    /// Kept alive for the loop: dropping the watcher stops the events.
    _watcher: Option<notify::RecommendedWatcher>,
    hangup: Hangup,
}

impl Reloader {
    /// Watches the file of `shared` (none: `None`) and catches SIGHUP. Needs a tokio
    /// runtime.
    pub(super) fn start(shared: &Arc<Shared>) -> Option<Self> {
        let source = shared.source.as_ref()?;
        let (tx, changed) = mpsc::unbounded_channel();
        let watcher = file_watcher(&source.path, tx)
            .map_err(|e| {
                tracing::warn!(
                    file = %source.path.display(),
                    "not watching the file for changes (SIGHUP still reloads it): {e}"
                );
            })
            .ok();
        Some(Self {
            shared: Arc::clone(shared),
            changed,
            _watcher: watcher,
            hangup: hangup(),
        })
    }

    /// Reloads the file on SIGHUP and when it changes, until `stop` changes.
    pub(super) async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let (shared, changed, hangup) = (&self.shared, &mut self.changed, &mut self.hangup);
        reload_loop(shared, changed, hangup, &mut stop).await;
    }
}

async fn reload_loop(
    shared: &Shared,
    changed: &mut mpsc::UnboundedReceiver<()>,
    hangup: &mut Hangup,
    stop: &mut watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            Some(()) = recv_hangup(hangup) => {
                tracing::info!("SIGHUP: reloading the configuration");
            }
            Some(()) = changed.recv() => {
                tokio::time::sleep(DEBOUNCE).await;
                while changed.try_recv().is_ok() {}
            }
        }
        shared.reload();
    }
}

/// A watcher of the file's directory that sends `()` for each event on the file.
fn file_watcher(
    path: &Path,
    tx: mpsc::UnboundedSender<()>,
) -> notify::Result<notify::RecommendedWatcher> {
    let name = path.file_name().map(|n| n.to_owned());
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        let about_file = event.paths.iter().any(|p| p.file_name() == name.as_deref());
        if about_file && !matches!(event.kind, EventKind::Access(_)) {
            let _ = tx.send(());
        }
    })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    Ok(watcher)
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = Option<()>;

#[cfg(unix)]
fn hangup() -> Hangup {
    use tokio::signal::unix::{signal, SignalKind};
    signal(SignalKind::hangup())
        .map_err(|e| tracing::warn!("SIGHUP will not reload the configuration: {e}"))
        .ok()
}

#[cfg(not(unix))]
fn hangup() -> Hangup {
    None
}

/// The next SIGHUP; never, without a handler.
async fn recv_hangup(hangup: &mut Hangup) -> Option<()> {
    #[cfg(unix)]
    if let Some(signal) = hangup {
        return signal.recv().await;
    }
    let _ = hangup;
    std::future::pending().await
}
