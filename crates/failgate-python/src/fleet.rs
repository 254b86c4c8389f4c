//! The fleet breaker's process-side plumbing: a tokio runtime owned by this module, and
//! breakers that are rebuilt, runtime and connections both, in a forked child.
//!
//! A child made by `fork()` has none of its parent's threads: a runtime inherited from
//! the parent would never run the sync task again, and its connections are the parent's
//! sockets. So `failgate/__init__.py` registers [`_after_fork`] with
//! `os.register_at_fork`, which moves the fork epoch on; every fleet breaker then builds
//! itself anew on a new runtime at its next use. The parent's runtime and breakers are
//! leaked in the child, not dropped: dropping a runtime joins threads that do not exist.

use failgate_redis::{FleetBreaker, FleetBuilder, FleetConfigError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

static FORK_EPOCH: AtomicU64 = AtomicU64::new(0);
static RUNTIME: Mutex<Option<(u64, tokio::runtime::Runtime)>> = Mutex::new(None);

/// Called in a forked child (through `os.register_at_fork(after_in_child=...)`).
#[pyo3::pyfunction]
pub(crate) fn _after_fork() {
    FORK_EPOCH.fetch_add(1, Ordering::AcqRel);
}

/// This process's runtime for fleet clients: one worker thread is plenty for a sync
/// loop per breaker, which spends its time waiting on Redis.
fn runtime(epoch: u64) -> std::io::Result<tokio::runtime::Handle> {
    let mut slot = RUNTIME.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((made_in, rt)) = slot.as_ref() {
        if *made_in == epoch {
            return Ok(rt.handle().clone());
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("failgate-fleet")
        .enable_all()
        .build()?;
    let handle = rt.handle().clone();
    if let Some(inherited) = slot.replace((epoch, rt)) {
        std::mem::forget(inherited);
    }
    Ok(handle)
}

/// A fleet breaker that knows how to rebuild itself after a fork.
pub(crate) struct Fleet {
    template: FleetBuilder,
    name: String,
    namespace: String,
    current: RwLock<(u64, Arc<FleetBreaker>)>,
}

impl Fleet {
    pub(crate) fn build(template: FleetBuilder) -> Result<Fleet, FleetConfigError> {
        let epoch = FORK_EPOCH.load(Ordering::Acquire);
        let breaker = Self::make(&template, epoch)?;
        Ok(Fleet {
            name: breaker.name().to_owned(),
            namespace: breaker.namespace().to_owned(),
            template,
            current: RwLock::new((epoch, Arc::new(breaker))),
        })
    }

    fn make(template: &FleetBuilder, epoch: u64) -> Result<FleetBreaker, FleetConfigError> {
        let handle = runtime(epoch).map_err(|e| FleetConfigError::Invalid {
            field: "runtime",
            value: e.to_string(),
            problem: "the tokio runtime for the fleet client could not start",
        })?;
        template.clone().runtime(handle).build()
    }

    /// The breaker of this process (built anew on the first use after a fork).
    pub(crate) fn current(&self) -> Arc<FleetBreaker> {
        let epoch = FORK_EPOCH.load(Ordering::Acquire);
        {
            let cur = self.current.read().unwrap_or_else(PoisonError::into_inner);
            if cur.0 == epoch {
                return cur.1.clone();
            }
        }
        let mut cur = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if cur.0 != epoch {
            // The template was valid when first built: only the runtime can fail here,
            // and then the inherited breaker (deciding locally) is better than none.
            if let Ok(fresh) = Self::make(&self.template, epoch) {
                let inherited = std::mem::replace(&mut *cur, (epoch, Arc::new(fresh)));
                std::mem::forget(inherited);
            }
        }
        cur.1.clone()
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn namespace(&self) -> &str {
        &self.namespace
    }
}
