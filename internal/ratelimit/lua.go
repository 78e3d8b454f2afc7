package ratelimit

// The Lua scripts run bucket.go's arithmetic inside Redis, one script per
// operation, one key (a hash) per bucket set:
//
//	t  time of the last refill (ms)     b  blocked until (ms)
//	rl rL rv  rpm: limit, learned limit, level (units of 1/60000 token)
//	tl tL tv  tpm   il iL iv  itpm   ol oL ov  otpm
//
// Every script takes ARGV[1] = now: 0 in production, where the script
// reads Redis's own clock (TIME) so all replicas agree; tests pass the
// time in ms instead (Redis.Now). Every number stays an integer below
// 2^53, which Lua's float64 holds exactly and Redis writes exactly (%.17g
// up to 7.0, shortest round-trip form from 7.2).

// luaLib is the prelude every script starts with: bucket.go in Lua.
const luaLib = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local UNIT = 60000
local MAXEL = 120000
local FIELDS = {'t','b','rl','rL','rv','tl','tL','tv','il','iL','iv','ol','oL','ov'}

local function clamp(x, lo, hi) return math.min(math.max(x, lo), hi) end
local function fdiv(a, b)
  local q = math.floor(a / b)
  if q * b > a then q = q - 1 elseif (q + 1) * b <= a then q = q + 1 end
  return q
end
local function cdiv(a, b) return -fdiv(-a, b) end

local function now_ms(arg)
  local n = tonumber(arg)
  if n > 0 then return n end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function vec(first)
  return {tonumber(ARGV[first]), tonumber(ARGV[first+1]), tonumber(ARGV[first+2]), tonumber(ARGV[first+3])}
end

local function eff(s, d)
  local l, L = s.lim[d], s.learned[d]
  if L > 0 and L < l then return L end
  return l
end

local function rescale(s, d, lim, learned)
  local used = eff(s, d) * UNIT - s.level[d]
  s.lim[d], s.learned[d] = lim, learned
  local c = eff(s, d) * UNIT
  s.level[d] = clamp(c - used, -c, c)
end

local function sync(s, lim)
  for d = 1, 4 do
    local l = lim[d]
    if l ~= s.lim[d] then
      if l == 0 then s.lim[d], s.learned[d], s.level[d] = 0, 0, 0
      elseif s.lim[d] == 0 then s.lim[d], s.learned[d], s.level[d] = l, 0, l * UNIT
      else rescale(s, d, l, s.learned[d]) end
    end
  end
end

local function advance(s, now)
  local el = now - s.last
  if el <= 0 then s.last = now return end
  el = math.min(el, MAXEL)
  for d = 1, 4 do
    if s.lim[d] > 0 then
      local e = eff(s, d)
      s.level[d] = math.min(s.level[d] + el * e, e * UNIT)
    end
  end
  s.last = now
end

-- load returns the key's set brought to now and lim (new and full if absent),
-- and the stored fields, for save.
local function load(key, lim, now, keep)
  local v = redis.call('HMGET', key, unpack(FIELDS))
  local s = {last = now, blocked = 0, lim = {0,0,0,0}, learned = {0,0,0,0}, level = {0,0,0,0}}
  if v[1] then
    s.last, s.blocked = tonumber(v[1]), tonumber(v[2]) or 0
    for d = 1, 4 do
      s.lim[d] = tonumber(v[3*d]) or 0
      s.learned[d] = tonumber(v[3*d+1]) or 0
      s.level[d] = tonumber(v[3*d+2]) or 0
    end
    advance(s, now)
    if keep then return s, v end
  end
  sync(s, lim)
  return s, v
end

-- save writes the fields of s that differ from the stored ones v (a
-- missing field is 0), and lets the key expire a minute after it is
-- full and unblocked.
local function save(key, s, v, now)
  local cur, ttl = {s.last, s.blocked}, math.max(s.blocked - now, 0)
  for d = 1, 4 do
    cur[3*d], cur[3*d+1], cur[3*d+2] = s.lim[d], s.learned[d], s.level[d]
    if s.lim[d] > 0 then
      local e = eff(s, d)
      ttl = math.max(ttl, cdiv(e * UNIT - s.level[d], e))
    end
  end
  local args, n = {}, 0
  for i = 1, 14 do
    local old = tonumber(v[i]) or 0
    if old ~= cur[i] or (i == 1 and not v[1]) then
      args[n+1], args[n+2], n = FIELDS[i], cur[i], n + 2
    end
  end
  if n > 0 then redis.call('HSET', key, unpack(args)) end
  redis.call('PEXPIRE', key, ttl + 60000)
end
`

// luaReserve: ARGV now, limits (4), cost (4: requests, tokens, input,
// output). Returns {1, 0} granted, {0, wait ms} refused, or {-1, dim,
// limit, cost} when the cost exceeds a capacity (dim counts from 1).
const luaReserve = luaLib + `
local key, now = KEYS[1], now_ms(ARGV[1])
local lim, cost = vec(2), vec(6)
local s, v = load(key, lim, now, false)
local res = {1, 0}
for d = 1, 4 do
  if s.lim[d] > 0 and cost[d] > eff(s, d) then res = {-1, d, eff(s, d), cost[d]} break end
end
if res[1] == 1 then
  local w = math.max(s.blocked - now, 0)
  for d = 1, 4 do
    local need = cost[d] * UNIT
    if s.lim[d] > 0 and s.level[d] < need then w = math.max(w, cdiv(need - s.level[d], eff(s, d))) end
  end
  if w > 0 then
    res = {0, w}
  else
    for d = 1, 4 do
      if s.lim[d] > 0 then s.level[d] = s.level[d] - cost[d] * UNIT end
    end
  end
end
save(key, s, v, now)
return res
`

// luaSettle: ARGV now, reserved limits (4), delta (4). A missing key is
// recreated full from the limits; the configured limits are not synced.
const luaSettle = luaLib + `
local key, now = KEYS[1], now_ms(ARGV[1])
local lim, delta = vec(2), vec(6)
local s, v = load(key, lim, now, true)
for d = 1, 4 do
  if lim[d] > 0 and s.lim[d] > 0 then
    local e = eff(s, d)
    local x = clamp(delta[d], -2 * e, 2 * e)
    s.level[d] = clamp(s.level[d] - x * UNIT, -e * UNIT, e * UNIT)
  end
end
save(key, s, v, now)
return {1}
`

// luaLearn: ARGV now, limits (4), reported limits (4), remaining (4).
const luaLearn = luaLib + `
local key, now = KEYS[1], now_ms(ARGV[1])
local s, v = load(key, vec(2), now, false)
local reported, remaining = vec(6), vec(10)
for d = 1, 4 do
  if s.lim[d] > 0 then
    local l = reported[d]
    if l > 0 then
      local learned = 0
      if l < s.lim[d] then learned = l end
      if learned ~= s.learned[d] then rescale(s, d, s.lim[d], learned) end
    end
    local r = remaining[d]
    if r >= 0 and r < eff(s, d) then s.level[d] = math.min(s.level[d], r * UNIT) end
  end
end
save(key, s, v, now)
return {1}
`

// luaBlock: ARGV now, limits (4), block ms.
const luaBlock = luaLib + `
local key, now = KEYS[1], now_ms(ARGV[1])
local s, v = load(key, vec(2), now, false)
local d = tonumber(ARGV[6])
for i = 1, 4 do
  if s.lim[i] > 0 then s.level[i] = math.min(s.level[i], 0) end
end
if d > 0 then s.blocked = math.max(s.blocked, now + d) end
save(key, s, v, now)
return {1}
`

// luaState: ARGV now, limits (4). Writes nothing. Returns per dimension
// {limit, available, reset ms}, then blocked-for ms.
const luaState = luaLib + `
local now = now_ms(ARGV[1])
local s = load(KEYS[1], vec(2), now, false)
local res = {}
for d = 1, 4 do
  local e = eff(s, d)
  if s.lim[d] > 0 then
    res[3*d-2], res[3*d-1], res[3*d] = e, fdiv(s.level[d], UNIT), cdiv(e * UNIT - s.level[d], e)
  else
    res[3*d-2], res[3*d-1], res[3*d] = 0, 0, 0
  end
end
res[13] = math.max(s.blocked - now, 0)
return res
`
