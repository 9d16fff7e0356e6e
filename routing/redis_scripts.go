package routing

// Key layout. Every key starts with the prefix as a Cluster hash tag
// ("{ailb}:"), so all of them live in one slot and a script may touch any
// of them together (a pool's counter and its members' leases):
//
//	{ailb}:rr:<pool>     string  rotation counter (INCR; ticket = value-1)
//	{ailb}:lease:<key>   zset    active calls on an assistant or a route
//	                             ("route:<name>"): member "<instance>/<callID>",
//	                             score = expiry in Unix ms; expires itself
//	                             2×LeaseTTL after its last write
//	{ailb}:status        hash    "<pool>/<member>" -> "1" active, "0" inactive
//
// A lease counts while its score is greater than now; now comes from the
// calling instance's clock, so instances' clocks must agree to well within
// LeaseTTL (NTP).

// acquireScript takes a slot on one key.
// KEYS[1] lease set. ARGV: now ms, expiry ms, lease, limit (<= 0: no cap),
// key TTL ms. Returns {taken 1|0, live count after}.
// A lease already held is renewed and taken again: a script retried by the
// client after a network error must not count the call twice.
const acquireScript = `
local key = KEYS[1]
redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[1])
local n = redis.call('ZCARD', key)
local limit = tonumber(ARGV[4])
if not redis.call('ZSCORE', key, ARGV[3]) then
  if limit > 0 and n >= limit then
    return {0, n}
  end
  n = n + 1
end
redis.call('ZADD', key, ARGV[2], ARGV[3])
redis.call('PEXPIRE', key, ARGV[5])
return {1, n}
`

// releaseScript ends one lease.
// KEYS[1] lease set. ARGV: now ms, lease. Returns the live count after.
const releaseScript = `
redis.call('ZREM', KEYS[1], ARGV[2])
return redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[1], '+inf')
`

// pickScript picks a member with round robin or least connections and
// takes its slot, so that the decision and the count are one step.
// KEYS[1] the pool's rotation counter, KEYS[2..n+1] the lease sets of the
// available members in position order.
// ARGV: kind ("rr" or "lc"), now ms, expiry ms, lease, key TTL ms, tie-break
// random (< 2^53), uncappedRoom, round robin start (0-based among KEYS[2..];
// -1: draw a ticket), then n limits (<= 0: no cap).
// Returns {picked (0-based among KEYS[2..], -1: none), ticket (-1: none
// drawn), n live counts (-1: not read)}.
//
// Round robin: the ticket-th member, or after a failed attempt the first
// member after the one tried (start), without a ticket (exactly
// roundRobin's choice); a member at its limit passes the turn to the next
// one in rotation order.
// Least connections: lowest live/limit among members under their limit,
// an uncapped member counting as uncappedRoom slots (leastConnections);
// ties take the tie-break modulo the number tied.
const pickScript = `
local n = #KEYS - 1
local live = '(' .. ARGV[2]
local counts = {}
for i = 1, n do counts[i] = -1 end
local function count(i)
  if counts[i] < 0 then
    counts[i] = redis.call('ZCOUNT', KEYS[i + 1], live, '+inf')
  end
  return counts[i]
end
local function limit(i)
  return tonumber(ARGV[8 + i])
end
local function full(i)
  local l = limit(i)
  return l > 0 and count(i) >= l
end
local pick, ticket = 0, -1
if n > 0 and ARGV[1] == 'rr' then
  local k = tonumber(ARGV[8])
  if k < 0 then
    ticket = redis.call('INCR', KEYS[1]) - 1
    k = ticket % n
  end
  for j = 0, n - 1 do
    local i = (k + j) % n + 1
    if not full(i) then
      pick = i
      break
    end
  end
elseif n > 0 then
  local best, ties = -1, {}
  for i = 1, n do
    if not full(i) then
      local room = limit(i)
      if room <= 0 then room = tonumber(ARGV[7]) end
      local load = count(i) / room
      if best < 0 or load < best then
        best, ties = load, {i}
      elseif load == best then
        ties[#ties + 1] = i
      end
    end
  end
  if #ties > 0 then
    pick = ties[tonumber(ARGV[6]) % #ties + 1]
  end
end
if pick > 0 then
  local key = KEYS[pick + 1]
  local c = count(pick)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[2])
  counts[pick] = c + redis.call('ZADD', key, ARGV[3], ARGV[4])
  redis.call('PEXPIRE', key, ARGV[5])
end
local out = {pick - 1, ticket}
for i = 1, n do out[i + 2] = counts[i] end
return out
`
