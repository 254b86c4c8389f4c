//! What a permit remembers of its admission: a leaf, so that admission, recording and
//! the permits can all use it.

/// How a permit's outcome is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum TicketKind {
    /// Closed or count-only: the outcome goes to the counters.
    Counted,
    /// A half-open probe: the outcome moves the state.
    Probe,
    /// Disabled: nothing is counted.
    Untracked,
    /// Already reported: dropping the permit does nothing.
    Recorded,
}

/// What a permit remembers: the generation it was issued in and how its outcome
/// counts (packed in one word, so a ticket is two words and moves cheaply), and when
/// the call started (when calls are timed).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    /// `generation << 2 | kind`.
    tagged: u64,
    pub(crate) started: u64,
}

impl Ticket {
    #[inline(always)]
    pub(crate) fn new(generation: u64, started: u64, kind: TicketKind) -> Self {
        Ticket {
            tagged: generation << 2 | kind as u64,
            started,
        }
    }

    #[inline(always)]
    pub(crate) fn generation(&self) -> u64 {
        self.tagged >> 2
    }

    #[inline(always)]
    pub(crate) fn kind(&self) -> TicketKind {
        match self.tagged & 3 {
            0 => TicketKind::Counted,
            1 => TicketKind::Probe,
            2 => TicketKind::Untracked,
            _ => TicketKind::Recorded,
        }
    }

    #[inline(always)]
    pub(crate) fn is_recorded(&self) -> bool {
        self.tagged & 3 == 3
    }

    #[inline(always)]
    pub(crate) fn mark_recorded(&mut self) {
        self.tagged |= 3;
    }
}
