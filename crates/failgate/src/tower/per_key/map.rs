//! [`BreakerMap`]: the bounded map behind per-key breakers, and its sweep. The rules
//! it keeps are in the [module docs](super).

use super::template::Template;
use crate::clock::duration_to_nanos;
use crate::contract::Breaker;
use crate::{Builder, ConfigError, State};
use std::fmt;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How many slots one new key may examine for an eviction: what bounds its cost.
pub(super) const SWEEP_STEPS: usize = 16;

/// A key's breaker, its second-chance bit, and when it was last seen used.
struct Entry<B> {
    breaker: B,
    used: AtomicBool,
    /// When the sweep last found `used` set (or when the entry was made): the last
    /// call was no later than this, so `now - seen_at` never overstates how long the
    /// key has been idle.
    seen_at: AtomicU64,
}

impl<B> Entry<B> {
    /// Marks the entry used, writing only if it was not already marked.
    #[inline]
    fn touch(&self) {
        if !self.used.load(Ordering::Relaxed) {
            self.used.store(true, Ordering::Relaxed);
        }
    }
}

/// The keys in slot order, and the sweep's hand. Behind a lock that only a new key
/// (and [`BreakerMap::evict_idle`]) takes.
struct Ring<K> {
    slots: Vec<Option<K>>,
    vacant: Vec<usize>,
    hand: usize,
}

struct Shared<K, T: Template> {
    template: T,
    map: papaya::HashMap<K, Entry<T::Breaker>>,
    ring: Mutex<Ring<K>>,
    max_keys: usize,
    /// Nanoseconds of idleness after which a closed breaker's failures no longer keep it from eviction.
    forget_after: AtomicU64,
    untracked: AtomicU64,
}

/// A bounded map from key to breaker, each built from a [`Template`]: the local
/// [`Builder`] by default, or a fleet-wide breaker's builder. Cheap to clone: clones
/// share the map.
pub struct BreakerMap<K, T: Template = Builder> {
    shared: Arc<Shared<K, T>>,
}

impl<K, T: Template> Clone for BreakerMap<K, T> {
    fn clone(&self) -> Self {
        BreakerMap {
            shared: self.shared.clone(),
        }
    }
}

impl<K: fmt::Debug + Hash + Eq, T: Template> fmt::Debug for BreakerMap<K, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerMap")
            .field("keys", &self.shared.map.len())
            .field("max_keys", &self.shared.max_keys)
            .field("untracked", &self.shared.untracked.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<K, T> BreakerMap<K, T>
where
    K: Hash + Eq + Clone + fmt::Display + Send + Sync + 'static,
    T: Template,
{
    /// A map whose breakers are built from `template` (the local builder names each
    /// `"{template name}:{key}"`), holding at most `max_keys` of them (at least 1).
    ///
    /// The template is checked here, once: a bad value is its error. Failures of an
    /// idle key stop protecting it from eviction after the template's first open
    /// wait or its time window's span, whichever is longer (see
    /// [`evict_failing_after`](Self::evict_failing_after)).
    pub fn new(mut template: T, max_keys: usize) -> Result<Self, T::Error> {
        if max_keys == 0 {
            let e = ConfigError::new("max_keys", max_keys, "must be at least 1");
            return Err(e.into());
        }
        let forget_after = duration_to_nanos(template.check()?);
        Ok(BreakerMap {
            shared: Arc::new(Shared {
                template,
                map: papaya::HashMap::new(),
                ring: Mutex::new(Ring {
                    slots: Vec::new(),
                    vacant: Vec::new(),
                    hand: 0,
                }),
                max_keys,
                forget_after: AtomicU64::new(forget_after),
                untracked: AtomicU64::new(0),
            }),
        })
    }

    /// Lets a full map evict a closed breaker that has failures (or slow calls) in
    /// its counts once its key has had no call for `idle`: until then, those failures
    /// protect it from eviction (see the [module docs](super)). The breaker itself
    /// keeps its counts; this is about the map's room, not the breaker's policy
    /// ([`Builder::forget_failures_after`](crate::Builder::forget_failures_after)
    /// is that). Applies to every clone of the map.
    pub fn evict_failing_after(self, idle: Duration) -> Self {
        let nanos = duration_to_nanos(idle);
        self.shared.forget_after.store(nanos, Ordering::Relaxed);
        self
    }

    /// The former name of [`evict_failing_after`](Self::evict_failing_after), which
    /// it calls: it read as
    /// [`Builder::forget_failures_after`](crate::Builder::forget_failures_after),
    /// which means something else (a breaker's consecutive count forgetting old
    /// failures).
    #[deprecated(
        since = "0.1.0",
        note = "renamed `evict_failing_after`: the map's eviction of idle failing keys, \
                not `Builder::forget_failures_after`"
    )]
    pub fn forget_failures_after(self, idle: Duration) -> Self {
        self.evict_failing_after(idle)
    }

    /// The breaker for `key`: its own, made if it is new. When the map is full of
    /// breakers it may not evict, a new key gets an untracked breaker of its own (see
    /// the [module docs](super)). Existing keys are found without a lock or an
    /// allocation.
    pub fn get(&self, key: &K) -> T::Breaker {
        match self.find(key) {
            Some(breaker) => breaker,
            None => self
                .insert(key.clone())
                .unwrap_or_else(|untracked| untracked),
        }
    }

    /// The breaker for `key`, or `None` if the key is new and the map is full of
    /// breakers it may not evict: for callers that would rather refuse such a key than
    /// guard it with an untracked breaker.
    pub fn try_get(&self, key: &K) -> Option<T::Breaker> {
        self.find(key).or_else(|| self.insert(key.clone()).ok())
    }

    /// The breaker of `key` if the map has one, marked used.
    #[inline]
    fn find(&self, key: &K) -> Option<T::Breaker> {
        let map = self.shared.map.pin();
        let entry = map.get(key)?;
        entry.touch();
        Some(entry.breaker.clone())
    }

    /// Applies `f` to the breaker of `key` without cloning it.
    #[inline]
    pub(super) fn with<R>(&self, key: K, f: impl FnOnce(&T::Breaker) -> R) -> R {
        let map = self.shared.map.pin();
        if let Some(entry) = map.get(&key) {
            entry.touch();
            return f(&entry.breaker);
        }
        drop(map);
        match self.insert(key) {
            Ok(breaker) | Err(breaker) => f(&breaker),
        }
    }

    /// Makes `key`'s breaker and finds it a slot: `Err` with an untracked breaker if
    /// no slot may be freed.
    #[cold]
    fn insert(&self, key: K) -> Result<T::Breaker, T::Breaker> {
        let shared = &*self.shared;
        let breaker = shared.template.build_for(&key.to_string());
        let mut ring = shared.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let map = shared.map.pin();
        if let Some(entry) = map.get(&key) {
            entry.touch(); // made by another thread meanwhile
            return Ok(entry.breaker.clone());
        }
        let now = shared.template.now();
        let slot = match ring.vacant.pop() {
            Some(slot) => Some(slot),
            None if ring.slots.len() < shared.max_keys => {
                ring.slots.push(None);
                Some(ring.slots.len() - 1)
            }
            None => shared.sweep(&mut ring, SWEEP_STEPS, now),
        };
        let Some(slot) = slot else {
            shared.untracked.fetch_add(1, Ordering::Relaxed);
            return Err(breaker);
        };
        let entry = Entry {
            breaker: breaker.clone(),
            used: AtomicBool::new(true),
            seen_at: AtomicU64::new(now),
        };
        map.insert(key.clone(), entry);
        ring.slots[slot] = Some(key);
        Ok(breaker)
    }

    /// One full turn of the sweep: evicts every breaker the rules allow (see the
    /// [module docs](super)) and clears the used mark of the others. New keys sweep a
    /// few slots on their own when the map is full; call this to free idle keys
    /// sooner. Returns how many keys were evicted.
    pub fn evict_idle(&self) -> usize {
        let shared = &*self.shared;
        let mut ring = shared.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let now = shared.template.now();
        let guard = shared.map.guard();
        let mut evicted = 0;
        for _ in 0..ring.slots.len() {
            if let Some(slot) = shared.step(&mut ring, &guard, now) {
                ring.vacant.push(slot);
                evicted += 1;
            }
        }
        evicted
    }

    /// How many keys have a breaker.
    pub fn len(&self) -> usize {
        self.shared.map.len()
    }

    /// True if no key has a breaker yet.
    pub fn is_empty(&self) -> bool {
        self.shared.map.is_empty()
    }

    /// The most keys the map holds.
    pub fn max_keys(&self) -> usize {
        self.shared.max_keys
    }

    /// How many times a new key found the map full of breakers it may not evict, and
    /// so got an untracked breaker ([`get`](Self::get)) or `None`
    /// ([`try_get`](Self::try_get)). Anything but zero means the map is too small
    /// for its keys, or someone is filling it.
    pub fn untracked(&self) -> u64 {
        self.shared.untracked.load(Ordering::Relaxed)
    }

    /// Every key with its breaker's current state.
    pub fn states(&self) -> Vec<(K, State)> {
        self.shared
            .map
            .pin()
            .iter()
            .map(|(k, e)| (k.clone(), e.breaker.state()))
            .collect()
    }

    /// Every key with its breaker. A breaker held outside the map is never evicted:
    /// drop these handles when done.
    pub fn breakers(&self) -> Vec<(K, T::Breaker)> {
        self.shared
            .map
            .pin()
            .iter()
            .map(|(k, e)| (k.clone(), e.breaker.clone()))
            .collect()
    }
}

impl<K: Hash + Eq, T: Template> Shared<K, T> {
    /// Moves the hand over at most `steps` slots (never more than one turn) and
    /// returns the first slot it frees, if any.
    fn sweep(&self, ring: &mut Ring<K>, steps: usize, now: u64) -> Option<usize> {
        let guard = self.map.guard();
        (0..steps.min(ring.slots.len())).find_map(|_| self.step(ring, &guard, now))
    }

    /// Moves the hand over one slot, and frees it if its entry may be evicted.
    fn step(&self, ring: &mut Ring<K>, guard: &papaya::LocalGuard<'_>, now: u64) -> Option<usize> {
        let slot = ring.hand % ring.slots.len();
        ring.hand = (slot + 1) % ring.slots.len();
        let key = ring.slots[slot].as_ref()?; // vacant: already on the free list
        let free = match self.map.get(key, guard) {
            Some(entry) => self.evictable(entry, now),
            None => true,
        };
        if free {
            self.map.remove(key, guard);
            ring.slots[slot] = None;
        }
        free.then_some(slot)
    }

    /// Whether the rules of the module docs allow evicting `entry`; clears its used
    /// mark (its second chance) on the way.
    fn evictable(&self, entry: &Entry<T::Breaker>, now: u64) -> bool {
        if entry.used.swap(false, Ordering::Relaxed) {
            entry.seen_at.store(now, Ordering::Relaxed);
            return false;
        }
        if T::handles(&entry.breaker) > 1 {
            return false; // a call in flight, or a handle someone kept
        }
        let Some(failing) = T::closed_failing(&entry.breaker) else {
            return false; // open, half-open, or set by hand
        };
        let idle = now.saturating_sub(entry.seen_at.load(Ordering::Relaxed));
        !failing || idle >= self.forget_after.load(Ordering::Relaxed)
    }
}
