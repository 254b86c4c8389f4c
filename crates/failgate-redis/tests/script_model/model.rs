//! The reference model: the shared state as the script's documentation says it
//! evolves, one flush at a time, with the server's time as the test read it just before
//! the flush.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum St {
    Closed,
    Open,
    HalfOpen,
    ForcedOpen,
    Disabled,
    CountOnly,
}

impl St {
    pub fn name(self) -> &'static str {
        match self {
            St::Closed => "closed",
            St::Open => "open",
            St::HalfOpen => "half_open",
            St::ForcedOpen => "forced_open",
            St::Disabled => "disabled",
            St::CountOnly => "count_only",
        }
    }

    /// The states whose window counts.
    fn counts(self) -> bool {
        matches!(self, St::Closed | St::CountOnly)
    }
}

/// An operator's order, as the script's docs list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Open for this many ms (or until a longer hint).
    Open(u64),
    HalfOpen,
    Close,
    Reset,
    ForcedOpen,
    Disabled,
    CountOnly,
}

impl Order {
    /// The `order` argument.
    pub fn arg(order: Option<Order>) -> String {
        match order {
            None => "none".into(),
            Some(Order::Open(ms)) => format!("open:{ms}"),
            Some(Order::HalfOpen) => "half_open".into(),
            Some(Order::Close) => "close".into(),
            Some(Order::Reset) => "reset".into(),
            Some(Order::ForcedOpen) => "forced_open".into(),
            Some(Order::Disabled) => "disabled".into(),
            Some(Order::CountOnly) => "count_only".into(),
        }
    }
}

/// The script's policy for every case.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub rate: f64,
    pub minimum_calls: u64,
    pub permits: u64,
    /// The half-open rule's failure rate over the probes; `None`: every probe succeeds.
    pub probe_rate: Option<f64>,
    /// The state a missing shared state is created in.
    pub initial: St,
}

/// Which generation a flush claims.
#[derive(Debug, Clone, Copy)]
pub enum Claim {
    /// The one the model holds now.
    Current,
    /// One this many generations older (a late batch); where there is none that old,
    /// one as many newer (an instance that outlived a Redis restart, which lost the
    /// shared state).
    Older(u64),
    /// None: a resynchronisation after a fallback.
    Resync,
    /// The one after the model's: an instance that obeyed its own order at once (only
    /// sent with an order; without one it is writes Redis lost).
    Provisional,
}

#[derive(Debug, Clone, Copy)]
pub struct Flush {
    pub claim: Claim,
    pub calls: u64,
    pub failures: u64,
    pub probe_ok: u64,
    pub probe_fail: u64,
    pub release: u64,
    pub want: u64,
    /// The state and window are deleted before this step.
    pub lose: bool,
    /// This step sends the previous step's batch again, unchanged, with its id.
    pub resend: bool,
    /// The dependency's "retry after", in ms from now (0: none).
    pub hint: u64,
    /// The operator's order the batch carries.
    pub order: Option<Order>,
}

/// A batch as sent: the generation claimed, the epoch named (by its number in the
/// model; `None` before the first answer), its id and its counts.
#[derive(Debug, Clone, Copy)]
pub struct Sent {
    pub claimed: i64,
    pub epoch: Option<u32>,
    pub batch: u64,
    pub flush: Flush,
}

/// What the script answers: state, generation, ms left open, window calls, window
/// failures, permits granted, counts discarded, epoch, PUBLISH error, whether it
/// published (not compared: it tells pub/sub apart from the PUBLISH check).
pub type Reply = (String, u64, u64, u64, u64, u64, u64, String, String, u8);

/// The shared state as the script should keep it.
#[derive(Debug)]
pub struct Model {
    policy: Policy,
    /// No state in Redis: the next flush creates one, with a new epoch.
    pub missing: bool,
    /// The epoch, numbered by creation in the model.
    epoch: u32,
    state: St,
    gen: u64,
    taken: u64,
    ok: u64,
    /// Probe failures of this generation (the failure-rate rule).
    bad: u64,
    calls: u64,
    failures: u64,
    /// Until when the dependency asked not to be called (server ms; 0: never), and the
    /// end of the open wait.
    hint: u64,
    until: u64,
    /// The instance's last batch: id, epoch, generation and permits of its answer.
    last_batch: Option<(u64, u32, u64, u64)>,
}

impl Model {
    pub fn new(policy: Policy) -> Self {
        Model {
            policy,
            missing: true,
            epoch: 0,
            state: policy.initial,
            gen: 0,
            taken: 0,
            ok: 0,
            bad: 0,
            calls: 0,
            failures: 0,
            hint: 0,
            until: 0,
            last_batch: None,
        }
    }

    /// Enters `state` at `now`: an opening lasts `wait` (the test's open wait is 0 ms;
    /// an order's is its own) and at least until the hint; closing forgets the hint.
    fn enter(&mut self, state: St, now: u64, wait: u64) {
        match state {
            St::Open => self.until = (now + wait).max(self.hint),
            St::Closed => self.hint = 0,
            _ => {}
        }
        self.state = state;
        self.gen += 1;
        self.taken = 0;
        self.ok = 0;
        self.bad = 0;
        self.calls = 0;
        self.failures = 0;
    }

    /// The failure-rate rule, as the script's docs state it: the batch's probe results
    /// join the generation's; the failures reaching `rate` of all the permits reopen,
    /// else a rate that stays below `rate` even if every probe not yet succeeded fails
    /// closes.
    fn rate_rule(&mut self, rate: f64, ok: u64, bad: u64, now: u64) {
        self.ok += ok;
        self.bad += bad;
        let permits = self.policy.permits as f64;
        if self.bad as f64 / permits >= rate {
            self.enter(St::Open, now, 0);
        } else if self.policy.permits.saturating_sub(self.ok) as f64 / permits < rate {
            self.enter(St::Closed, now, 0);
        }
    }

    /// The generation a flush sends (`-1` for a resync).
    pub fn claimed(&self, claim: Claim) -> i64 {
        match claim {
            Claim::Current => self.gen as i64,
            Claim::Older(k) if self.gen >= k => (self.gen - k) as i64,
            Claim::Older(k) => (self.gen + k) as i64,
            Claim::Resync => -1,
            Claim::Provisional => self.gen as i64 + 1,
        }
    }

    /// The answer to `sent` at `now` (server ms), with the epoch as the model numbers it.
    pub fn apply(&mut self, sent: &Sent, now: u64) -> (Reply, u32) {
        if self.missing {
            *self = Model {
                missing: false,
                epoch: self.epoch + 1,
                last_batch: self.last_batch,
                ..Model::new(self.policy)
            };
        }
        let seen = self.last_batch.filter(|b| b.0 == sent.batch);
        let mut f = sent.flush;
        if seen.is_some() {
            (
                f.calls,
                f.failures,
                f.probe_ok,
                f.probe_fail,
                f.release,
                f.want,
                f.hint,
            ) = (0, 0, 0, 0, 0, 0, 0);
            f.order = None;
        }
        // A batch naming a lost state's epoch is a resynchronisation.
        let stale = sent.epoch.is_some_and(|e| e != self.epoch);
        // One naming this epoch but a generation it never reached saw writes Redis lost:
        // the state takes a new epoch, and the batch is a resynchronisation.
        // (A batch with an order may name the generation its order makes.)
        let ahead = self.gen as i64 + i64::from(sent.flush.order.is_some());
        let rolled_back = !stale && sent.epoch.is_some() && sent.claimed > ahead;
        if rolled_back {
            self.epoch += 1;
        }
        let claimed = if stale || rolled_back {
            -1
        } else {
            sent.claimed
        };
        // A "retry after" holds whatever the generation claimed; an open state that
        // receives it stays open until then.
        if f.hint > 0 {
            self.hint = self.hint.max(now + f.hint);
            if self.state == St::Open {
                self.until = self.until.max(self.hint);
            }
        }
        // The order, a transition from any state, before the counts.
        match f.order {
            None => {}
            Some(Order::Open(ms)) => self.enter(St::Open, now, ms),
            Some(Order::HalfOpen) => self.enter(St::HalfOpen, now, 0),
            Some(Order::Close | Order::Reset) => self.enter(St::Closed, now, 0),
            Some(Order::ForcedOpen) => self.enter(St::ForcedOpen, now, 0),
            Some(Order::Disabled) => self.enter(St::Disabled, now, 0),
            Some(Order::CountOnly) => self.enter(St::CountOnly, now, 0),
        }
        // The wait (0 ms, or until a hint) ends when someone wants permits.
        if self.state == St::Open && f.want > 0 && now >= self.until {
            self.enter(St::HalfOpen, now, 0);
        }
        let current = claimed == self.gen as i64 || (claimed < 0 && self.state.counts());
        let mut discarded = 0;
        match self.state {
            St::Closed | St::CountOnly if current => {
                self.calls += f.calls;
                self.failures += f.failures;
            }
            St::HalfOpen if current => {
                self.taken = self.taken.saturating_sub(f.release);
                if let Some(rate) = self.policy.probe_rate {
                    self.rate_rule(rate, f.probe_ok, f.probe_fail, now);
                } else if f.probe_fail > 0 {
                    self.enter(St::Open, now, 0);
                } else if f.probe_ok > 0 {
                    self.ok += f.probe_ok;
                    if self.ok >= self.policy.permits {
                        self.enter(St::Closed, now, 0);
                    }
                }
            }
            _ => discarded = f.calls + f.probe_ok + f.probe_fail,
        }
        let (mut wc, mut wf) = (0, 0);
        if self.state.counts() {
            (wc, wf) = (self.calls, self.failures);
            // Counting only never trips.
            if self.state == St::Closed
                && wc > 0
                && wc >= self.policy.minimum_calls
                && wf as f64 >= self.policy.rate * wc as f64
            {
                self.enter(St::Open, now, 0);
                (wc, wf) = (0, 0);
            }
        }
        let mut granted = 0;
        match seen {
            Some((_, epoch, gen, first)) => {
                if self.state == St::HalfOpen && epoch == self.epoch && gen == self.gen {
                    granted = first;
                }
            }
            None => {
                if self.state == St::HalfOpen && f.want > 0 {
                    granted = f.want.min(self.policy.permits.saturating_sub(self.taken));
                    self.taken += granted;
                }
                self.last_batch = Some((sent.batch, self.epoch, self.gen, granted));
            }
        }
        let left = match self.state {
            St::Open => self.until.saturating_sub(now),
            _ => 0,
        };
        let reply = (
            self.state.name().to_owned(),
            self.gen,
            left,
            wc,
            wf,
            granted,
            discarded,
            String::new(), // compared through the epoch map
            String::new(),
            0,
        );
        (reply, self.epoch)
    }
}
