-- One call syncs one breaker or many. Each breaker has 3 keys and ARGS_PER arguments,
-- in order; the answer is one reply per breaker. A breaker whose part fails (a key of
-- the wrong type, say) answers {'error', why} and the others go on. A call with fewer
-- arguments than ARGS_PER (19 to 23) is the single-breaker form: one flat reply.
local ARGS_PER = 24

local function sync(k, a)
local st, win, seen_key = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
local gen_arg = tonumber(ARGV[a + 1])
local calls, fails = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
local p_ok, p_fail, p_rel = tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5]), tonumber(ARGV[a + 6])
local want = tonumber(ARGV[a + 7])
local rate, min_calls = tonumber(ARGV[a + 8]), tonumber(ARGV[a + 9])
local window_ms, buckets = tonumber(ARGV[a + 10]), tonumber(ARGV[a + 11])
local open_ms, permits, ho_timeout = tonumber(ARGV[a + 12]), tonumber(ARGV[a + 13]),
  tonumber(ARGV[a + 14])
local ttl, channel = tonumber(ARGV[a + 15]), ARGV[a + 16]
local epoch_arg, seq, seen_ttl = ARGV[a + 17], ARGV[a + 18], tonumber(ARGV[a + 19])
local retry_ms = tonumber(ARGV[a + 20] or '0')
-- Whether to check that this user may PUBLISH on the channel (an empty message, which
-- listeners ignore), as a new connection does.
local check = ARGV[a + 21] == '1'
-- The half-open rule: the probes' failure rate at which the breaker reopens, judged
-- over all `permits` probes of one generation; -1 (or absent): every probe succeeds.
local probe_rate = tonumber(ARGV[a + 23] or '-1') or -1
-- An operator's order (see script.rs: open:<ms>, half_open, close, reset, forced_open,
-- disabled, count_only), and the state a missing shared state is created in.
local order = ARGV[a + 22] or 'none'
if order == '' then order = 'none' end
local initial = ARGV[a + 24] or 'closed'
if initial ~= 'forced_open' and initial ~= 'disabled' and initial ~= 'count_only' then
  initial = 'closed'
end

-- Reads first. Epochs and batch ids stay strings: Lua's numbers would round them.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local s = redis.call('HMGET', st, 'state', 'gen', 'until', 'entered', 'taken', 'ok', 'epoch',
  'hint', 'bad')
local state = s[1] or initial
local gen = tonumber(s[2] or '0')
local untl = tonumber(s[3] or '0')
local entered = tonumber(s[4] or tostring(now))
local taken = tonumber(s[5] or '0')
local ok = tonumber(s[6] or '0')
local epoch = s[7]
local hint = tonumber(s[8] or '0')
local bad = tonumber(s[9] or '0')
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
-- An instance that knows a generation newer than the state's, of the same epoch, saw
-- writes that Redis has lost (a failover to a replica that lagged behind): the state
-- takes a new epoch, so every instance adopts it as a lost state, and this batch
-- resynchronises. Otherwise its counts, of a generation Redis never reaches, would be
-- discarded for ever.
-- (A batch that carries an order names the generation its order creates: the
-- instance obeyed it at once, provisionally.)
local ordered = (order ~= 'none') and 1 or 0
if epoch_arg == epoch and gen_arg > gen + ordered then
  epoch = t[1] .. string.format('%06d', tonumber(t[2]))
  gen_arg = -1
end

-- A batch sent again (its answer was lost or late) counts nothing more; its permits
-- are answered again while they still belong to the current generation.
local rec = (seq ~= '0') and redis.call('GET', seen_key)
local seen = nil
if rec then
  local r_seq, r_epoch, r_gen, r_granted = string.match(rec, '^(%S+) (%S+) (%S+) (%S+)$')
  if r_seq == seq then
    calls, fails, p_ok, p_fail, p_rel, want, retry_ms = 0, 0, 0, 0, 0, 0, 0
    order = 'none'
    seen = {epoch = r_epoch, gen = tonumber(r_gen), granted = tonumber(r_granted)}
  end
end

local function enter(new_state, wait_ms)
  state = new_state
  gen = gen + 1
  entered = now
  taken = 0
  ok = 0
  bad = 0
  -- An opening lasts at least until the dependency's "retry after"; closing forgets it.
  if new_state == 'open' then untl = math.max(now + (wait_ms or open_ms), hint) end
  if new_state == 'closed' then hint = 0 end
  redis.call('DEL', win)
  changed = true
end

-- The dependency asked not to be called for `retry_ms` from now: whatever the batch's
-- generation, it holds fleet-wide until then. Taking the later of two is idempotent.
-- An open state that receives it stays open until then, and says so to every instance.
local stretched = false
if retry_ms > 0 then
  hint = math.max(hint, now + retry_ms)
  if state == 'open' and hint > untl then
    untl = hint
    stretched = true
  end
end

-- The operator's order, before the batch's counts: a transition like any other (a new
-- generation, written and announced), from whatever state the breaker is in.
if order ~= 'none' then
  local wait = string.match(order, '^open:(%d+)$')
  if wait then
    enter('open', tonumber(wait))
  elseif order == 'close' or order == 'reset' then
    enter('closed')
  elseif order == 'half_open' or order == 'forced_open' or order == 'disabled'
    or order == 'count_only' then
    enter(order)
  end
end

-- Transitions that time makes due: the half-open timeout, and the end of the open wait
-- (only when some instance wants probes: the wait ends lazily, as in a local breaker).
if state == 'half_open' and now - entered >= ho_timeout then enter('open') end
if state == 'open' and now >= untl and want > 0 then enter('half_open') end

-- The instance's counts, unless they belong to another generation.
local discarded = 0
local current = (gen_arg == gen) or (gen_arg < 0 and (state == 'closed' or state == 'count_only'))
if current and (state == 'closed' or state == 'count_only') then
  if calls > 0 then
    local b = math.floor(now / bucket_ms)
    redis.call('HINCRBY', win, 'c' .. b, calls)
    if fails > 0 then redis.call('HINCRBY', win, 'f' .. b, fails) end
  end
elseif current and state == 'half_open' then
  taken = math.max(taken - p_rel, 0)
  if probe_rate >= 0 then
    -- The rate over all `permits` probes, decided once certain: the failures alone
    -- reach it, or it stays below it even if every probe not yet succeeded fails.
    ok = ok + p_ok
    bad = bad + p_fail
    if bad / permits >= probe_rate then
      enter('open')
    elseif math.max(permits - ok, 0) / permits < probe_rate then
      enter('closed')
    end
  elseif p_fail > 0 then
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
if state == 'closed' or state == 'count_only' then
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
  if state == 'closed' and wc > 0 and wc >= min_calls and wf >= rate * wc then
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
  'taken', taken, 'ok', ok, 'epoch', epoch, 'hint', hint, 'bad', bad)
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
local tried = 0
if changed or stretched then
  tried = 1
  local r = redis.pcall('PUBLISH', channel, gen .. ' ' .. state .. ' ' .. left .. ' ' .. epoch)
  if type(r) == 'table' and r.err then published = r.err end
elseif check then
  tried = 1
  local r = redis.pcall('PUBLISH', channel, '')
  if type(r) == 'table' and r.err then published = r.err end
end
return {state, gen, left, wc, wf, granted, discarded, epoch, published, tried}
end

if #ARGV % ARGS_PER ~= 0 then
  local r = sync(0, 0)
  return {r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9]}
end
local replies = {}
for i = 0, #ARGV / ARGS_PER - 1 do
  local ok, r = pcall(sync, 3 * i, ARGS_PER * i)
  if not ok then
    if type(r) == 'table' then r = r.err or 'error' end
    r = {'error', tostring(r)}
  end
  replies[i + 1] = r
end
return replies
