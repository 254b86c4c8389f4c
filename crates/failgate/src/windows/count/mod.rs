//! A count window: the last n outcomes, as a ring of bits.
//!
//! Every recorded outcome gets a position, and owns the bit at `position % n` in the
//! failure bitmap (and in the slow bitmap, when slow calls are tracked). The bits are
//! the truth: counts are popcounts, so no counter can drift, and the ring never holds
//! more than n outcomes. A success that overwrites a success writes nothing to the
//! ring.
//!
//! # Positions, handed out in chunks
//! A single shared "next position" counter would be one cache line that every call of
//! every thread writes: with two threads on one breaker, each call would wait for the
//! line to come back from the other core. So positions are handed out from the shared
//! head in chunks of `chunk` (a power of two), and each thread takes the positions of
//! its chunk one by one from its own stripe's cursor, a line of its own (see
//! [`stripe`](super::stripe)). The shared head is written once per chunk. A cursor
//! holds its chunk's next slot (the position already reduced modulo n) and how many
//! are left, so the common call divides nothing.
//!
//! What this keeps of the ring's semantics:
//! - With one thread, its chunks are consecutive, so the positions are too: the
//!   window is exactly the last n outcomes.
//! - Under concurrency every position is still used at most once and chunks are taken
//!   in order, so the window is the last n positions. Only the positions a thread has
//!   claimed and not yet used (fewer than `chunk` per stripe, and `chunk` is at most
//!   n / (4 · stripes)) still show the outcome from one turn of the ring earlier:
//!   older outcomes, never invented ones.
//! - The number of calls is the number of slots written since the last reset, kept as
//!   an occupancy bitmap while the window fills, so a claimed but unused position is
//!   never counted as a call.
//!
//! A window too small for chunks of two (fewer than 8 · stripes outcomes) hands out
//! positions one by one from the head, as an unstriped ring does.

use super::divisor::Divisor;
use super::stripe;
use crate::loom::{AtomicU64, CachePadded, Ordering::Relaxed};
use crate::vocabulary::Counts;

/// The largest chunk: the head is written at most once per this many calls of a thread.
const MAX_CHUNK: u64 = 64;

/// A stripe's cursor holds the next slot of its chunk above how many slots of the chunk
/// are left (at most `MAX_CHUNK - 1` once the first is taken) in the low bits.
const LEFT_BITS: u32 = 7;
const LEFT: u64 = (1 << LEFT_BITS) - 1;

/// Where each bitmap lives in a group of words (one group per 64 slots): a slot's
/// failure and occupancy bits share a cache line.
const FAILURES: usize = 0;
const OCCUPIED: usize = 1;
const SLOW: usize = 2;

#[derive(Debug)]
pub(crate) struct CountWindow {
    size: u64,
    ring: Divisor,
    /// Positions per chunk, minus one (0: no chunks, every position from the head).
    chunk_mask: u64,
    /// Words per group of 64 slots: 2 (failures, occupancy), or 3 with slow calls.
    stride: usize,
    /// Slots written since the last reset, up to `size`: once full, no call looks at
    /// occupancy again.
    filled: AtomicU64,
    /// The bitmaps, interleaved: group g holds words `g * stride + FAILURES` etc.
    bits: Box<[AtomicU64]>,
    /// `lines[0]` is the head, the first position not yet handed out; `lines[1 + s]` is
    /// stripe s's cursor: its chunk's next slot, and how many are left (see [`LEFT`]).
    lines: Box<[CachePadded<AtomicU64>]>,
}

impl CountWindow {
    pub(crate) fn new(size: u32, track_slow: bool) -> Self {
        Self::with_stripes(size, track_slow, stripe::count())
    }

    pub(crate) fn with_stripes(size: u32, track_slow: bool, stripes: usize) -> Self {
        let size = u64::from(size.max(1));
        let chunk = (size / (4 * stripes as u64))
            .checked_ilog2()
            .map_or(1, |log| 1u64 << log)
            .min(MAX_CHUNK);
        let stride = if track_slow { 3 } else { 2 };
        let words = size.div_ceil(64) as usize * stride;
        let lines = if chunk > 1 { 1 + stripes } else { 1 };
        CountWindow {
            size,
            ring: Divisor::new(size),
            chunk_mask: chunk - 1,
            stride,
            filled: AtomicU64::new(0),
            bits: (0..words).map(|_| AtomicU64::new(0)).collect(),
            lines: (0..lines).map(|_| CachePadded::default()).collect(),
        }
    }

    #[inline(always)]
    pub(crate) fn record(&self, failure: bool, slow: bool, minimum: u64) -> Option<Counts> {
        // Loads go before the locked instruction, which no later load can pass.
        let filling = self.filled.load(Relaxed) < self.size;
        let (slot, seen) = self.claim();
        let group = (slot / 64) as usize * self.stride;
        let bit = 1u64 << (slot % 64);
        let failures = &self.bits[group + FAILURES];
        let seen = seen.unwrap_or_else(|| failures.load(Relaxed));
        set_bit(failures, seen, bit, failure);
        if self.stride > SLOW {
            let word = &self.bits[group + SLOW];
            set_bit(word, word.load(Relaxed), bit, slow);
        }
        // A success can only trip the breaker by bringing the window to its minimum.
        let reached = filling && self.occupy(&self.bits[group + OCCUPIED], bit, minimum);
        (failure || slow || reached).then(|| self.counts())
    }

    /// The slot for this outcome: the next one of the thread's chunk. When the slot is
    /// known before it is claimed (the common case), its failure word is read first,
    /// and returned: a load after the claim's locked instruction would wait for it.
    #[inline(always)]
    fn claim(&self) -> (u64, Option<u64>) {
        if self.chunk_mask == 0 {
            let position = self.lines[0].fetch_add(1, Relaxed);
            return (self.ring.div_rem(position).1, None);
        }
        let cursor = &self.lines[1 + stripe::index(self.lines.len() - 1)];
        let w = cursor.load(Relaxed);
        if w & LEFT != 0 {
            let slot = w >> LEFT_BITS;
            let seen = self.bits[(slot / 64) as usize * self.stride + FAILURES].load(Relaxed);
            if cursor
                .compare_exchange(w, self.advance(w), Relaxed, Relaxed)
                .is_ok()
            {
                return (slot, Some(seen));
            }
        }
        (self.claim_slow(cursor), None)
    }

    /// The cursor after handing out its next slot: the following slot of the ring, one
    /// fewer left. No division: the cursor holds slots, not positions.
    #[inline(always)]
    fn advance(&self, w: u64) -> u64 {
        let slot = w >> LEFT_BITS;
        (self.after(slot) << LEFT_BITS) | ((w & LEFT) - 1)
    }

    #[inline(always)]
    fn after(&self, slot: u64) -> u64 {
        if slot + 1 == self.size {
            0
        } else {
            slot + 1
        }
    }

    /// The stripe's chunk is used up (or another thread of the stripe raced us).
    #[inline(never)]
    fn claim_slow(&self, cursor: &AtomicU64) -> u64 {
        let mut w = cursor.load(Relaxed);
        loop {
            if w & LEFT == 0 {
                let chunk = self.chunk_mask + 1;
                let start = self.lines[0].fetch_add(chunk, Relaxed);
                let slot = self.ring.div_rem(start).1;
                // A plain store: the chunk is this thread's alone, so whatever it
                // replaces (a chunk another thread of the stripe installed meanwhile)
                // only goes unused, its slots keeping their older outcomes; no slot is
                // ever handed out twice.
                put(cursor, (self.after(slot) << LEFT_BITS) | (chunk - 1));
                return slot;
            }
            match cursor.compare_exchange_weak(w, self.advance(w), Relaxed, Relaxed) {
                Ok(_) => return w >> LEFT_BITS,
                Err(actual) => w = actual,
            }
        }
    }

    /// Marks a slot written while the window fills. Returns true if this brought the
    /// window to exactly `minimum` calls (each slot fills once, so exactly one call
    /// sees that).
    #[inline(never)]
    fn occupy(&self, word: &AtomicU64, bit: u64, minimum: u64) -> bool {
        if word.load(Relaxed) & bit != 0 || word.fetch_or(bit, Relaxed) & bit != 0 {
            return false;
        }
        self.filled.fetch_add(1, Relaxed) + 1 == minimum
    }

    pub(crate) fn counts(&self) -> Counts {
        let full = self.filled.load(Relaxed) >= self.size;
        let ones =
            |w: &AtomicU64, occupied: u64| u64::from((w.load(Relaxed) & occupied).count_ones());
        let mut c = Counts::default();
        for group in self.bits.chunks_exact(self.stride) {
            let occupied = if full {
                u64::MAX
            } else {
                group[OCCUPIED].load(Relaxed)
            };
            c.calls += u64::from(occupied.count_ones());
            c.failures += ones(&group[FAILURES], occupied);
            if let Some(slow) = group.get(SLOW) {
                c.slow += ones(slow, occupied);
            }
        }
        if full {
            c.calls = self.size;
        } else if c.calls >= self.size {
            // A stale outcome racing a reset can leave `filled` one short; the bits
            // are the truth.
            self.filled.fetch_max(self.size, Relaxed);
        }
        c.calls = c.calls.min(self.size);
        c.failures = c.failures.min(c.calls);
        c.slow = c.slow.min(c.calls);
        c
    }

    /// Slow failures in the window: the slots whose failure and slow bits are both set
    /// (0 when slow calls are not tracked).
    pub(crate) fn slow_failures(&self) -> u64 {
        if self.stride <= SLOW {
            return 0;
        }
        let full = self.filled.load(Relaxed) >= self.size;
        self.bits
            .chunks_exact(self.stride)
            .map(|group| {
                let occupied = if full {
                    u64::MAX
                } else {
                    group[OCCUPIED].load(Relaxed)
                };
                let both = group[FAILURES].load(Relaxed) & group[SLOW].load(Relaxed);
                u64::from((both & occupied).count_ones())
            })
            .sum()
    }

    /// Empties the window. Called while a transition is being published, when no
    /// current-generation call can record; an outcome from an earlier generation that
    /// raced past its staleness check may still land here (one slot, overwritten in
    /// turn). Positions are not reset: which slot holds which outcome does not matter,
    /// only that each slot holds one.
    pub(crate) fn reset(&self) {
        for w in self.bits.iter() {
            put(w, 0);
        }
        put(&self.filled, 0);
    }
}

/// Stores `value` in a word that other threads read-modify-write. Under the model
/// checker this is a swap: loom lets a plain store land between the read and the write
/// of another thread's read-modify-write (tokio-rs/loom#254), which the memory model
/// forbids and no CPU does.
#[inline]
fn put(word: &AtomicU64, value: u64) {
    #[cfg(failgate_loom)]
    word.swap(value, Relaxed);
    #[cfg(not(failgate_loom))]
    word.store(value, Relaxed);
}

/// Sets or clears `bit` of `word`, last seen holding `seen`, writing only if it changes.
#[inline]
fn set_bit(word: &AtomicU64, seen: u64, bit: u64, on: bool) {
    let is_on = seen & bit != 0;
    if is_on != on {
        if on {
            word.fetch_or(bit, Relaxed);
        } else {
            word.fetch_and(!bit, Relaxed);
        }
    }
}

#[cfg(all(test, not(failgate_loom)))]
mod tests;
