package ratelimit

// The Lua scripts run bucket.go's arithmetic inside Redis, one script per
// operation and one Redis key per bucket set. The key holds the set as 18
// little-endian float64s (struct.pack '<d'), in this order:
//
//	1 time of the last refill (ms)   2 blocked until (ms)
//	3..6   rpm:  limit, learned limit, level, window (ms; 0: bucket)
//	7..10  tpm   11..14 itpm   15..18 otpm
//
// (level as in bucket.go: units of 1/60000 token for a bucket, whole
// tokens used in the current window for a fixed window.)
//
// A packed string rather than a hash because it is what makes the
// scripts cheap: one GET and one SET PX (which also sets the TTL) instead
// of HMGET, HSET, PEXPIRE and 18 string conversions. A value of another
// length or type (such as the 14-number layout before windows) is
// replaced by a new, full set, so a change of layout needs no migration.
// Every number stays an integer below 2^53, which float64 holds exactly,
// so the results equal Memory's.
//
// ARGV[1] is one packed string of float64s too: first the time in ms —
// 0 in production, where the script reads Redis's own clock (TIME) so
// all replicas agree; tests pass their clock instead (Redis.Now) — then
// the operation's arguments, which start with the 4 limits and the 4
// windows (ms).

// luaLib is the prelude every script starts with: bucket.go in Lua.
// Dimension d's fields are f[4*d-1] limit, f[4*d] learned, f[4*d+1]
// level, f[4*d+2] window.
const luaLib = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local UNIT, MAXEL, MINUTE, SET = 60000, 120000, 60000, '<dddddddddddddddddd'
local min, max, floor = math.min, math.max, math.floor

local function fdiv(a, b)
  local q = floor(a / b)
  if q * b > a then q = q - 1 elseif (q + 1) * b <= a then q = q + 1 end
  return q
end
local function cdiv(a, b) return -fdiv(-a, b) end

-- args returns the time and the n numbers after it in ARGV[1].
local function args(n)
  local a = {struct.unpack('<' .. string.rep('d', n + 1), ARGV[1])}
  local now = a[1]
  if now <= 0 then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + floor(tonumber(t[2]) / 1000)
  end
  return now, a
end

local function eff(f, d)
  local l, L = f[4*d-1], f[4*d]
  if L > 0 and L < l then return L end
  return l
end

-- allow is the allowance of a window of w ms for a per-minute limit l.
local function allow(l, w) return max(1, fdiv(l * w, MINUTE)) end

-- quota is a bucket's capacity or a window's allowance.
local function quota(f, d)
  if f[4*d+2] > 0 then return allow(eff(f, d), f[4*d+2]) end
  return eff(f, d)
end

-- winleft is the time from now to the end of its window of w ms.
local function winleft(now, w) return w - (now - fdiv(now, w) * w) end

local function rescale(f, d, lim, learned, w)
  local V, oldw, used = 4*d+1, f[4*d+2], 0
  if oldw == 0 then used = eff(f, d) * UNIT - f[V] end
  f[4*d-1], f[4*d], f[4*d+2] = lim, learned, w
  if w == 0 then
    local c = eff(f, d) * UNIT
    if oldw > 0 then used = min(f[V], 2 * eff(f, d)) * UNIT end
    f[V] = min(max(c - used, -c), c)
  elseif oldw == 0 then
    f[V] = min(max(cdiv(used, UNIT), 0), 2 * quota(f, d))
  else
    f[V] = min(max(f[V], 0), 2 * quota(f, d))
  end
end

-- sync applies the configured limits a[o+1..o+4] and windows a[o+5..o+8].
local function sync(f, a, o)
  for d = 1, 4 do
    local l, w = a[o+d], a[o+4+d]
    if l == 0 then w = 0 end
    if l ~= f[4*d-1] or w ~= f[4*d+2] then
      if l == 0 then f[4*d-1], f[4*d], f[4*d+1], f[4*d+2] = 0, 0, 0, 0
      elseif f[4*d-1] == 0 then
        f[4*d-1], f[4*d], f[4*d+1], f[4*d+2] = l, 0, 0, w
        if w == 0 then f[4*d+1] = l * UNIT end
      else rescale(f, d, l, f[4*d], w) end
    end
  end
end

local function advance(f, now)
  local el = now - f[1]
  if el <= 0 then f[1] = now return end
  el = min(el, MAXEL)
  for d = 1, 4 do
    local w = f[4*d+2]
    if f[4*d-1] == 0 then
    elseif w > 0 then
      if fdiv(now, w) * w > f[1] then f[4*d+1] = 0 end
    else
      local e = eff(f, d)
      f[4*d+1] = min(f[4*d+1] + el * e, e * UNIT)
    end
  end
  f[1] = now
end

-- load returns the key's set brought to now and to the limits and windows
-- a[o+1..o+8] (new and full if absent or unreadable: another layout,
-- another type). With keep, an existing set keeps its limits.
local function load(key, now, a, o, keep)
  local raw = redis.pcall('GET', key)
  local f
  if type(raw) == 'string' and #raw == 144 then
    f = {struct.unpack(SET, raw)}
    advance(f, now)
    if keep then return f end
  else
    f = {now, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
  end
  sync(f, a, o)
  return f
end

-- save writes f, to expire a minute after its buckets are full, its
-- windows unused and it is unblocked, and returns it packed.
local function save(key, f, now)
  local ttl = max(f[2] - now, 0)
  for d = 1, 4 do
    local w = f[4*d+2]
    if f[4*d-1] == 0 then
    elseif w > 0 then
      if f[4*d+1] > 0 then ttl = max(ttl, winleft(now, w)) end
    else
      local e = eff(f, d)
      ttl = max(ttl, cdiv(e * UNIT - f[4*d+1], e))
    end
  end
  local packed = struct.pack(SET, unpack(f, 1, 18))
  redis.call('SET', key, packed, 'PX', ttl + 60000)
  return packed
end
`

// luaReserve: limits (4), windows (4), cost (4: requests, tokens, input,
// output). Returns {1, 0, now} granted (now: the time the windows were
// counted at), {0, wait ms} refused, or {-1, dim, limit, cost, window}
// when the cost exceeds a capacity or allowance (dim counts from 1),
// padded with zeros to 5 numbers and followed by the set as the script
// saved it, packed (its time of last refill is now), for Resilient's
// local shares: one string costs less to send and parse than 18 numbers.
const luaReserve = luaLib + `
local key = KEYS[1]
local now, a = args(12)
local f = load(key, now, a, 1, false)
local res = {1, 0, now}
for d = 1, 4 do
  if f[4*d-1] > 0 and a[9+d] > quota(f, d) then res = {-1, d, quota(f, d), a[9+d], f[4*d+2]} break end
end
if res[1] == 1 then
  local wt = max(f[2] - now, 0)
  for d = 1, 4 do
    local c, v, w = a[9+d], f[4*d+1], f[4*d+2]
    if f[4*d-1] == 0 then
    elseif w > 0 then
      if v + c > allow(eff(f, d), w) then wt = max(wt, winleft(now, w)) end
    elseif v < c * UNIT then
      wt = max(wt, cdiv(c * UNIT - v, eff(f, d)))
    end
  end
  if wt > 0 then
    res = {0, wt}
  else
    for d = 1, 4 do
      if f[4*d-1] == 0 then
      elseif f[4*d+2] > 0 then f[4*d+1] = f[4*d+1] + a[9+d]
      else f[4*d+1] = f[4*d+1] - a[9+d] * UNIT end
    end
  end
end
local packed = save(key, f, now)
for i = #res + 1, 5 do res[i] = 0 end
res[6] = packed
return res
`

// luaSettle: reserved limits (4), reserved windows (4), reservation time,
// delta (4). A missing key is recreated full from the limits; the
// configured limits are not synced. A window is corrected only if the
// reservation's window is the current one.
const luaSettle = luaLib + `
local key = KEYS[1]
local now, a = args(13)
local f = load(key, now, a, 1, true)
for d = 1, 4 do
  local w = f[4*d+2]
  if a[1+d] > 0 and f[4*d-1] > 0 and a[5+d] == w then
    local x = a[10+d]
    if w > 0 then
      if fdiv(a[10], w) == fdiv(f[1], w) then
        local c = allow(eff(f, d), w)
        x = min(max(x, -2 * c), 2 * c)
        f[4*d+1] = min(max(f[4*d+1] + x, 0), 2 * c)
      end
    else
      local e = eff(f, d)
      x = min(max(x, -2 * e), 2 * e)
      f[4*d+1] = min(max(f[4*d+1] - x * UNIT, -e * UNIT), e * UNIT)
    end
  end
end
save(key, f, now)
return {1}
`

// luaLearn: limits (4), windows (4), reported limits (4), remaining (4).
const luaLearn = luaLib + `
local key = KEYS[1]
local now, a = args(16)
local f = load(key, now, a, 1, false)
for d = 1, 4 do
  if f[4*d-1] > 0 then
    local l, w = a[9+d], f[4*d+2]
    if l > 0 then
      local learned = 0
      if w > 0 then
        if allow(l, w) < allow(f[4*d-1], w) then learned = l end
      elseif l < f[4*d-1] then learned = l end
      if learned ~= f[4*d] then rescale(f, d, f[4*d-1], learned, w) end
    end
    local r = a[13+d]
    if r < 0 then
    elseif w > 0 then
      local c = allow(eff(f, d), w)
      if r < c then f[4*d+1] = max(f[4*d+1], c - r) end
    elseif r < eff(f, d) then
      f[4*d+1] = min(f[4*d+1], r * UNIT)
    end
  end
end
save(key, f, now)
return {1}
`

// luaBlock: limits (4), windows (4), block ms.
const luaBlock = luaLib + `
local key = KEYS[1]
local now, a = args(9)
local f = load(key, now, a, 1, false)
for d = 1, 4 do
  if f[4*d-1] == 0 then
  elseif f[4*d+2] > 0 then f[4*d+1] = max(f[4*d+1], allow(eff(f, d), f[4*d+2]))
  else f[4*d+1] = min(f[4*d+1], 0) end
end
if a[10] > 0 then f[2] = max(f[2], now + a[10]) end
save(key, f, now)
return {1}
`

// luaState: limits (4), windows (4). Writes nothing. Returns per
// dimension {limit, available, reset ms}, then blocked-for ms.
const luaState = luaLib + `
local now, a = args(8)
local f = load(KEYS[1], now, a, 1, false)
local res = {}
for d = 1, 4 do
  res[3*d-2], res[3*d-1], res[3*d] = 0, 0, 0
  local e, v, w = eff(f, d), f[4*d+1], f[4*d+2]
  if f[4*d-1] == 0 then
  elseif w > 0 then
    local c = allow(e, w)
    res[3*d-2], res[3*d-1], res[3*d] = c, c - v, winleft(now, w)
  else
    res[3*d-2], res[3*d-1], res[3*d] = e, fdiv(v, UNIT), cdiv(e * UNIT - v, e)
  end
end
res[13] = max(f[2] - now, 0)
return res
`

// luaSeed: limits (4), windows (4), learned limits (4), levels (4, as in
// the layout), blocked-for ms. Creates the key's set from them, refilled
// at now, unless the key holds a readable set: it never overwrites state
// another replica seeded or built. Returns {1} written, {0} left alone.
const luaSeed = luaLib + `
local key = KEYS[1]
local now, a = args(17)
local raw = redis.pcall('GET', key)
if type(raw) == 'string' and #raw == 144 then return {0} end
local f = {now, 0}
for d = 1, 4 do
  f[4*d-1], f[4*d], f[4*d+1], f[4*d+2] = a[1+d], a[9+d], a[13+d], a[5+d]
end
if a[18] > 0 then f[2] = now + a[18] end
save(key, f, now)
return {1}
`
