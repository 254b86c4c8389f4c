//! The one Lua script every round trip runs: it adds an instance's counts to the shared
//! window, makes any transition that is due (once, fleet-wide, with a new generation),
//! hands out half-open probe permits, and answers with the shared state.
//!
//! Keys, for namespace `ns` and breaker `name`:
//! - `failgate:{ns}:{name}:state`, a hash: `state` (closed, open, half_open), `gen`,
//!   `until` (end of the open wait, in the server's milliseconds), `entered`, `taken`
//!   (probe permits handed out), `ok` (probe successes), `epoch` (the server's time in
//!   microseconds when the state was created);
//! - `failgate:{ns}:{name}:window`, a hash of buckets: `c<n>` calls and `f<n>` failures of
//!   bucket `n` (the server's time in milliseconds divided by the bucket's span);
//! - `failgate:{ns}:{name}:batch:<instance>`, the last batch one instance sent: `"<batch
//!   id> <epoch> <gen> <permits granted>"`, kept three windows;
//! - `failgate:{ns}:{name}:events`, the pub/sub channel, carrying `"<gen> <state> <ms
//!   left open> <epoch>"` on every transition.
//!
//! The state and window expire after the configured time without writes. Time is the
//! Redis server's (`TIME`), so instances' clocks need not agree.
//!
//! # Lost state, lost answers, refused commands
//! - **Epoch.** A missing state hash is created afresh (closed, generation 0, an empty
//!   window) with a new epoch, and every answer carries the epoch. A flush that names
//!   another epoch comes from an instance that mirrors a state Redis lost (FLUSHALL, an
//!   eviction, an expiry, a failover to an empty replica): its counts are taken as a
//!   resynchronisation's (added to the window if it is closed), and the instance adopts
//!   the new state whatever its generation.
//! - **Batch ids.** Each flush carries a batch id, new for every batch and the same when a
//!   batch whose answer never arrived is sent again. A batch whose id is the instance's
//!   last one changes nothing (no counts, probe results, releases or requests) and is
//!   answered with the state now and the permits it was granted the first time, if they
//!   still belong to the current generation (else none).
//! - **PUBLISH last, caught.** Every write comes before the PUBLISH, which is the only
//!   command a correctly set up server can refuse once the script has begun writing (a
//!   user without channel permissions); its error is caught and returned in the answer
//!   instead of failing the script after its writes. (A server out of memory under
//!   `noeviction` refuses a script at its first write, before anything is written; a
//!   key of the wrong type or a key permission missing fails every run alike.)

use redis::{FromRedisValue, RedisResult, Script, Value};

/// The script's source (public for the crate's tests, which run it directly).
#[doc(hidden)]
pub const SYNC_LUA: &str = r#"
local st, win, seen_key = KEYS[1], KEYS[2], KEYS[3]
local gen_arg = tonumber(ARGV[1])
local calls, fails = tonumber(ARGV[2]), tonumber(ARGV[3])
local p_ok, p_fail, p_rel = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local want = tonumber(ARGV[7])
local rate, min_calls = tonumber(ARGV[8]), tonumber(ARGV[9])
local window_ms, buckets = tonumber(ARGV[10]), tonumber(ARGV[11])
local open_ms, permits, ho_timeout = tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])
local ttl, channel = tonumber(ARGV[15]), ARGV[16]
local epoch_arg, seq, seen_ttl = ARGV[17], ARGV[18], tonumber(ARGV[19])

-- Reads first. Epochs and batch ids stay strings: Lua's numbers would round them.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local s = redis.call('HMGET', st, 'state', 'gen', 'until', 'entered', 'taken', 'ok', 'epoch')
local state = s[1] or 'closed'
local gen = tonumber(s[2] or '0')
local untl = tonumber(s[3] or '0')
local entered = tonumber(s[4] or tostring(now))
local taken = tonumber(s[5] or '0')
local ok = tonumber(s[6] or '0')
local epoch = s[7]
local bucket_ms = math.floor(window_ms / buckets)
local changed = false

-- No state: first use, or the state was lost (FLUSHALL, eviction, expiry, a failover
-- to an empty replica). A new epoch tells every instance that mirrors the old one.
if not s[1] then
  epoch = nil
  redis.call('DEL', win)
end
if not epoch then epoch = t[1] .. string.format('%06d', tonumber(t[2])) end
-- An instance that mirrors a lost state resynchronises: its counts join the window.
if epoch_arg ~= '0' and epoch_arg ~= epoch then gen_arg = -1 end

-- A batch sent again (its answer was lost or late) counts nothing more; its permits
-- are answered again while they still belong to the current generation.
local rec = (seq ~= '0') and redis.call('GET', seen_key)
local seen = nil
if rec then
  local r_seq, r_epoch, r_gen, r_granted = string.match(rec, '^(%S+) (%S+) (%S+) (%S+)$')
  if r_seq == seq then
    calls, fails, p_ok, p_fail, p_rel, want = 0, 0, 0, 0, 0, 0
    seen = {epoch = r_epoch, gen = tonumber(r_gen), granted = tonumber(r_granted)}
  end
end

local function enter(new_state)
  state = new_state
  gen = gen + 1
  entered = now
  taken = 0
  ok = 0
  if new_state == 'open' then untl = now + open_ms end
  redis.call('DEL', win)
  changed = true
end

-- Transitions that time makes due: the half-open timeout, and the end of the open wait
-- (only when some instance wants probes: the wait ends lazily, as in a local breaker).
if state == 'half_open' and now - entered >= ho_timeout then enter('open') end
if state == 'open' and now >= untl and want > 0 then enter('half_open') end

-- The instance's counts, unless they belong to another generation.
local discarded = 0
local current = (gen_arg == gen) or (gen_arg < 0 and state == 'closed')
if current and state == 'closed' then
  if calls > 0 then
    local b = math.floor(now / bucket_ms)
    redis.call('HINCRBY', win, 'c' .. b, calls)
    if fails > 0 then redis.call('HINCRBY', win, 'f' .. b, fails) end
  end
elseif current and state == 'half_open' then
  taken = math.max(taken - p_rel, 0)
  if p_fail > 0 then
    enter('open')
  elseif p_ok > 0 then
    ok = ok + p_ok
    if ok >= permits then enter('closed') end
  end
else
  discarded = calls + p_ok + p_fail
end

-- The window's sums (expired buckets dropped), and a trip if they call for it.
local wc, wf = 0, 0
if state == 'closed' then
  local oldest = math.floor(now / bucket_ms) - buckets + 1
  local all = redis.call('HGETALL', win)
  for i = 1, #all, 2 do
    local k, n = all[i], tonumber(all[i + 1])
    if tonumber(string.sub(k, 2)) < oldest then
      redis.call('HDEL', win, k)
    elseif string.sub(k, 1, 1) == 'c' then
      wc = wc + n
    else
      wf = wf + n
    end
  end
  if wc > 0 and wc >= min_calls and wf >= rate * wc then
    enter('open')
    wc, wf = 0, 0
  end
end

-- Probe permits: the fleet never holds more than `permits` of one generation.
local granted = 0
if seen then
  if state == 'half_open' and seen.epoch == epoch and seen.gen == gen then
    granted = seen.granted
  end
elseif state == 'half_open' and want > 0 then
  granted = math.max(math.min(want, permits - taken), 0)
  taken = taken + granted
end

redis.call('HSET', st, 'state', state, 'gen', gen, 'until', untl, 'entered', entered,
  'taken', taken, 'ok', ok, 'epoch', epoch)
redis.call('PEXPIRE', st, ttl)
if redis.call('EXISTS', win) == 1 then redis.call('PEXPIRE', win, ttl) end
if seq ~= '0' then
  if not seen then rec = seq .. ' ' .. epoch .. ' ' .. gen .. ' ' .. granted end
  redis.call('SET', seen_key, rec, 'PX', seen_ttl)
end
local left = math.max(untl - now, 0)
if state ~= 'open' then left = 0 end
-- Last, and caught: a refused PUBLISH (a user without channel permissions) must not
-- turn the answer into an error after the writes above.
local published = ''
if changed then
  local r = redis.pcall('PUBLISH', channel, gen .. ' ' .. state .. ' ' .. left .. ' ' .. epoch)
  if type(r) == 'table' and r.err then published = r.err end
end
return {state, gen, left, wc, wf, granted, discarded, epoch, published}
"#;

/// The script, hashed once (redis-rs sends `EVALSHA` and falls back to `EVAL`).
pub(crate) fn sync_script() -> Script {
    Script::new(SYNC_LUA)
}

/// The shared state's kinds, as the mirror stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SharedState {
    Closed,
    Open,
    HalfOpen,
}

impl SharedState {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "closed" => Some(SharedState::Closed),
            "open" => Some(SharedState::Open),
            "half_open" => Some(SharedState::HalfOpen),
            _ => None,
        }
    }
}

/// What one round trip sends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Flush {
    /// The batch's id (0: none): new for every batch, the same when one is sent again.
    pub(crate) batch: u64,
    /// The epoch of the state the instance mirrors (0: none known yet).
    pub(crate) epoch: u64,
    /// The generation the counts belong to; `None` to add them to whatever closed
    /// window is current (resynchronising after a fallback).
    pub(crate) generation: Option<u64>,
    pub(crate) calls: u64,
    pub(crate) failures: u64,
    pub(crate) probe_successes: u64,
    pub(crate) probe_failures: u64,
    pub(crate) probe_releases: u64,
    pub(crate) want_probes: u64,
}

/// What one round trip answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) state: SharedState,
    pub(crate) generation: u64,
    /// Milliseconds left of the open wait (0 unless open).
    pub(crate) open_left_ms: u64,
    pub(crate) window_calls: u64,
    pub(crate) window_failures: u64,
    pub(crate) granted: u64,
    pub(crate) discarded: u64,
    /// The shared state's epoch: a new one means the state was lost and recreated.
    pub(crate) epoch: u64,
    /// Why the transition's PUBLISH was refused (`None`: published, or nothing to say).
    pub(crate) publish_error: Option<String>,
}

impl FromRedisValue for Reply {
    fn from_redis_value(v: Value) -> Result<Self, redis::ParsingError> {
        #[allow(clippy::type_complexity)]
        let (
            state,
            generation,
            open_left_ms,
            window_calls,
            window_failures,
            granted,
            discarded,
            epoch,
            published,
        ): (String, u64, u64, u64, u64, u64, u64, u64, String) =
            FromRedisValue::from_redis_value(v)?;
        let state = SharedState::parse(&state)
            .ok_or_else(|| redis::ParsingError::from(format!("unknown state {state:?}")))?;
        Ok(Reply {
            state,
            generation,
            open_left_ms,
            window_calls,
            window_failures,
            granted,
            discarded,
            epoch,
            publish_error: (!published.is_empty()).then_some(published),
        })
    }
}

/// A transition as pub/sub announces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Announcement {
    pub(crate) generation: u64,
    pub(crate) state: SharedState,
    pub(crate) open_left_ms: u64,
    pub(crate) epoch: u64,
}

impl Announcement {
    /// Parses `"<gen> <state> <ms left> <epoch>"`; `None` for anything else.
    pub(crate) fn parse(payload: &str) -> Option<Self> {
        let mut parts = payload.split(' ');
        let generation = parts.next()?.parse().ok()?;
        let state = SharedState::parse(parts.next()?)?;
        let open_left_ms = parts.next()?.parse().ok()?;
        let epoch = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some(Announcement {
            generation,
            state,
            open_left_ms,
            epoch,
        })
    }
}

/// The settings the script needs besides the counts, formatted once.
#[derive(Debug, Clone)]
pub(crate) struct ScriptArgs {
    pub(crate) state_key: String,
    pub(crate) window_key: String,
    /// This instance's batch key.
    pub(crate) batch_key: String,
    pub(crate) channel: String,
    pub(crate) rate: f64,
    pub(crate) minimum_calls: u64,
    pub(crate) window_ms: u64,
    pub(crate) buckets: u32,
    pub(crate) open_ms: u64,
    pub(crate) permits: u32,
    pub(crate) half_open_timeout_ms: u64,
    pub(crate) ttl_ms: u64,
    /// How long Redis remembers this instance's last batch id.
    pub(crate) batch_ttl_ms: u64,
}

impl ScriptArgs {
    /// Runs the script once on `con`.
    pub(crate) async fn invoke<C>(
        &self,
        script: &Script,
        con: &mut C,
        flush: &Flush,
    ) -> RedisResult<Reply>
    where
        C: redis::aio::ConnectionLike + Send,
    {
        let generation = flush.generation.map_or(-1, |g| g as i64);
        script
            .key(&self.state_key)
            .key(&self.window_key)
            .key(&self.batch_key)
            .arg(generation)
            .arg(flush.calls)
            .arg(flush.failures)
            .arg(flush.probe_successes)
            .arg(flush.probe_failures)
            .arg(flush.probe_releases)
            .arg(flush.want_probes)
            .arg(self.rate)
            .arg(self.minimum_calls)
            .arg(self.window_ms)
            .arg(self.buckets)
            .arg(self.open_ms)
            .arg(self.permits)
            .arg(self.half_open_timeout_ms)
            .arg(self.ttl_ms)
            .arg(&self.channel)
            .arg(flush.epoch)
            .arg(flush.batch)
            .arg(self.batch_ttl_ms)
            .invoke_async(con)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_parse_and_refuse_junk() {
        assert_eq!(
            Announcement::parse("7 open 1500 1733000000123456"),
            Some(Announcement {
                generation: 7,
                state: SharedState::Open,
                open_left_ms: 1500,
                epoch: 1_733_000_000_123_456,
            })
        );
        assert_eq!(
            Announcement::parse("8 half_open 0 1").map(|a| a.state),
            Some(SharedState::HalfOpen)
        );
        for junk in [
            "",
            "7",
            "7 open",
            "7 open 1",
            "x open 1 1",
            "7 ajar 1 1",
            "7 open 1 x",
            "7 open 1 1 extra",
            "-1 open 1 1",
        ] {
            assert_eq!(Announcement::parse(junk), None, "{junk:?}");
        }
    }
}
