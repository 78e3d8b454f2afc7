package ratelimit

// The Lua scripts run bucket.go's arithmetic inside Redis, one script per
// operation and one Redis key per bucket set. The key holds the set as 14
// little-endian float64s (struct.pack '<d'), in this order:
//
//	1 time of the last refill (ms)   2 blocked until (ms)
//	3..5   rpm:  limit, learned limit, level (units of 1/60000 token)
//	6..8   tpm   9..11 itpm   12..14 otpm
//
// A packed string rather than a hash because it is what makes the
// scripts cheap: one GET and one SET PX (which also sets the TTL) instead
// of HMGET, HSET, PEXPIRE and 14 string conversions. A value of another
// length or type is replaced by a new, full set, so a change of layout
// needs no migration. Every number stays an integer below 2^53, which float64
// holds exactly, so the results equal Memory's.
//
// ARGV[1] is one packed string of float64s too: first the time in ms —
// 0 in production, where the script reads Redis's own clock (TIME) so
// all replicas agree; tests pass their clock instead (Redis.Now) — then
// the operation's arguments.

// luaLib is the prelude every script starts with: bucket.go in Lua.
const luaLib = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local UNIT, MAXEL, SET = 60000, 120000, '<dddddddddddddd'
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
  local l, L = f[3*d], f[3*d+1]
  if L > 0 and L < l then return L end
  return l
end

local function rescale(f, d, lim, learned)
  local used = eff(f, d) * UNIT - f[3*d+2]
  f[3*d], f[3*d+1] = lim, learned
  local c = eff(f, d) * UNIT
  f[3*d+2] = min(max(c - used, -c), c)
end

-- sync applies the configured limits lim[o+1..o+4].
local function sync(f, lim, o)
  for d = 1, 4 do
    local l = lim[o+d]
    if l ~= f[3*d] then
      if l == 0 then f[3*d], f[3*d+1], f[3*d+2] = 0, 0, 0
      elseif f[3*d] == 0 then f[3*d], f[3*d+1], f[3*d+2] = l, 0, l * UNIT
      else rescale(f, d, l, f[3*d+1]) end
    end
  end
end

local function advance(f, now)
  local el = now - f[1]
  if el <= 0 then f[1] = now return end
  el = min(el, MAXEL)
  for d = 1, 4 do
    if f[3*d] > 0 then
      local e = eff(f, d)
      f[3*d+2] = min(f[3*d+2] + el * e, e * UNIT)
    end
  end
  f[1] = now
end

-- load returns the key's set brought to now and to the limits lim[o+1..o+4]
-- (new and full if absent or unreadable: another layout, another type).
-- With keep, an existing set keeps its limits.
local function load(key, now, lim, o, keep)
  local raw = redis.pcall('GET', key)
  local f
  if type(raw) == 'string' and #raw == 112 then
    f = {struct.unpack(SET, raw)}
    advance(f, now)
    if keep then return f end
  else
    f = {now, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
  end
  sync(f, lim, o)
  return f
end

-- save writes f, to expire a minute after it is full and unblocked.
local function save(key, f, now)
  local ttl = max(f[2] - now, 0)
  for d = 1, 4 do
    if f[3*d] > 0 then
      local e = eff(f, d)
      ttl = max(ttl, cdiv(e * UNIT - f[3*d+2], e))
    end
  end
  redis.call('SET', key, struct.pack(SET, unpack(f, 1, 14)), 'PX', ttl + 60000)
end
`

// luaReserve: limits (4), cost (4: requests, tokens, input, output).
// Returns {1, 0} granted, {0, wait ms} refused, or {-1, dim, limit, cost}
// when the cost exceeds a capacity (dim counts from 1).
const luaReserve = luaLib + `
local key = KEYS[1]
local now, a = args(8)
local f = load(key, now, a, 1, false)
local res = {1, 0}
for d = 1, 4 do
  if f[3*d] > 0 and a[5+d] > eff(f, d) then res = {-1, d, eff(f, d), a[5+d]} break end
end
if res[1] == 1 then
  local w = max(f[2] - now, 0)
  for d = 1, 4 do
    local need = a[5+d] * UNIT
    if f[3*d] > 0 and f[3*d+2] < need then w = max(w, cdiv(need - f[3*d+2], eff(f, d))) end
  end
  if w > 0 then
    res = {0, w}
  else
    for d = 1, 4 do
      if f[3*d] > 0 then f[3*d+2] = f[3*d+2] - a[5+d] * UNIT end
    end
  end
end
save(key, f, now)
return res
`

// luaSettle: reserved limits (4), delta (4). A missing key is recreated
// full from the limits; the configured limits are not synced.
const luaSettle = luaLib + `
local key = KEYS[1]
local now, a = args(8)
local f = load(key, now, a, 1, true)
for d = 1, 4 do
  if a[1+d] > 0 and f[3*d] > 0 then
    local e = eff(f, d)
    local x = min(max(a[5+d], -2 * e), 2 * e)
    f[3*d+2] = min(max(f[3*d+2] - x * UNIT, -e * UNIT), e * UNIT)
  end
end
save(key, f, now)
return {1}
`

// luaLearn: limits (4), reported limits (4), remaining (4).
const luaLearn = luaLib + `
local key = KEYS[1]
local now, a = args(12)
local f = load(key, now, a, 1, false)
for d = 1, 4 do
  if f[3*d] > 0 then
    local l = a[5+d]
    if l > 0 then
      local learned = 0
      if l < f[3*d] then learned = l end
      if learned ~= f[3*d+1] then rescale(f, d, f[3*d], learned) end
    end
    local r = a[9+d]
    if r >= 0 and r < eff(f, d) then f[3*d+2] = min(f[3*d+2], r * UNIT) end
  end
end
save(key, f, now)
return {1}
`

// luaBlock: limits (4), block ms.
const luaBlock = luaLib + `
local key = KEYS[1]
local now, a = args(5)
local f = load(key, now, a, 1, false)
for d = 1, 4 do
  if f[3*d] > 0 then f[3*d+2] = min(f[3*d+2], 0) end
end
if a[6] > 0 then f[2] = max(f[2], now + a[6]) end
save(key, f, now)
return {1}
`

// luaState: limits (4). Writes nothing. Returns per dimension {limit,
// available, reset ms}, then blocked-for ms.
const luaState = luaLib + `
local now, a = args(4)
local f = load(KEYS[1], now, a, 1, false)
local res = {}
for d = 1, 4 do
  res[3*d-2], res[3*d-1], res[3*d] = 0, 0, 0
  if f[3*d] > 0 then
    local e = eff(f, d)
    res[3*d-2], res[3*d-1], res[3*d] = e, fdiv(f[3*d+2], UNIT), cdiv(e * UNIT - f[3*d+2], e)
  end
end
res[13] = max(f[2] - now, 0)
return res
`
