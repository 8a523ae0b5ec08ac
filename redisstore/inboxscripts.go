package redisstore

// The inbox's Lua scripts. Each runs atomically, so a check and the writes
// it guards can never interleave with another replica's. Every key a
// script touches carries the inbox's hash tag: the declared KEYS route
// the script, and the per-delivery hashes it builds from ARGV base hash
// to the same slot, so Redis Cluster runs them on one node.
//
// Times arrive as arguments, taken from the inbox's clock: ns values are
// Unix nanoseconds as 20-digit zero-padded strings, which Lua compares
// exactly as strings (its numbers are doubles); us values are whole
// microseconds, exact as sorted-set scores; ms values are whole
// milliseconds, the resolution of the pending entries list. Arithmetic
// stays on ms values (13 digits), within the 14 digits Lua prints
// exactly.
//
// Each tenant (webhook.KeyTenant's) has a set, tenant:NAME, of the keys of
// its deliveries pending or leased, kept by every script that moves a
// delivery into or out of those states, whatever the inbox's options, so
// that a Store checks WithInboxTenantCapacity with one SCARD. luaTenantSet
// names it, reading the tenant from the key's bytes as KeyTenant does.
//
// A delivery's hash holds k (key), src, id, ts, recv, recvus, hdr, body,
// meta, st (state), att, next, lease, leasems, tok, err, upd, sid, the
// id of its stream entry while it is queued or leased (empty otherwise),
// sop, the id of the Store call that stored it, op, the id of the
// settling call that settled it last, and rop, that of the last Replay.
//
// A script may run twice for one call: go-redis sends a command again
// when the connection breaks before the reply arrives (its MaxRetries),
// and Redis may have run it already. The second run must answer as the
// first did, so each call carries an id of its own: Store, settling and
// Replay recognise their own write by sop, op and rop, a Lease finds the
// deliveries it took in a short-lived list named by its token base, and
// a Purge its count under its id. (A settling call run again after the
// delivery was leased and settled anew reports the lease lost: only a
// Retry due at once can be overtaken so, and its delivery does run
// again.)

// luaTenantSet defines tenantset(base, key), the name of the set of the
// key's tenant: what lies between the key's first '@' and the next ':',
// when the '@' comes before any ':', else the empty name. Lua's patterns and
// string.sub work on bytes.
const luaTenantSet = `
local function tenantset(base, key)
	local i = string.find(key, '[@:]')
	if i and string.sub(key, i, i) == '@' then
		local j = string.find(key, ':', i + 1, true)
		if j then
			return base .. 'tenant:' .. string.sub(key, i + 1, j - 1)
		end
	end
	return base .. 'tenant:'
end
`

// inboxStoreScript claims the key and queues the delivery in one step.
// KEYS: stream, new, retry, leased, all. ARGV: base, key, recvus,
// capacity, call id, tenant capacity, then field/value pairs for the
// hash. Replies 1 stored (by this call, also when it ran before), 0
// duplicate, -1 full, -2 the key's tenant at its bound.
//
// A Store that finds its tenant at the bound looks at 16 members of the
// tenant's set (SRANDMEMBER) and drops those whose deliveries no longer
// wait: finished by a replica of a version that kept no such sets, or
// gone with their hash. A refused Store costs that much more, and a set
// left full of them empties within a few refusals.
const inboxStoreScript = luaTenantSet + `
local h = ARGV[1] .. 'd:' .. ARGV[2]
local tset = tenantset(ARGV[1], ARGV[2])
if redis.call('EXISTS', h) == 1 then
	if redis.call('HGET', h, 'sop') == ARGV[5] then
		return 1
	end
	return 0
end
-- The key's name is still in the indexes, though its hash is gone (a
-- DEL, an eviction): what is stored now is a new delivery, pending and
-- only that, not also the done or dead one a Purge would delete, or the
-- lease or retry that would count against the capacity.
if redis.call('ZSCORE', KEYS[5], ARGV[2]) then
	for _, idx in ipairs({'retry', 'leased', 'delay', 'done', 'dead', 'done:at', 'dead:at'}) do
		redis.call('ZREM', ARGV[1] .. idx, ARGV[2])
	end
	redis.call('SREM', tset, ARGV[2])
end
local cap = tonumber(ARGV[4])
if cap > 0 and redis.call('ZCARD', KEYS[2]) + redis.call('ZCARD', KEYS[3]) + redis.call('ZCARD', KEYS[4]) >= cap then
	return -1
end
local tcap = tonumber(ARGV[6])
if tcap > 0 and redis.call('SCARD', tset) >= tcap then
	for _, key in ipairs(redis.call('SRANDMEMBER', tset, 16)) do
		local st = redis.call('HGET', ARGV[1] .. 'd:' .. key, 'st')
		if st ~= 'pending' and st ~= 'leased' then
			redis.call('SREM', tset, key)
		end
	end
	if redis.call('SCARD', tset) >= tcap then
		return -2
	end
end
local sid = redis.call('XADD', KEYS[1], '*', 'k', ARGV[2])
redis.call('HSET', h, 'sid', sid, 'sop', ARGV[5], unpack(ARGV, 7))
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[2])
redis.call('SADD', tset, ARGV[2])
return 1
`

// inboxLeaseScript reclaims expired leases with XAUTOCLAIM, takes the
// stream's new entries (XREADGROUP) and the due retries of the delay set
// oldest due first, leases what its hash says is due, and trims the
// acknowledged head of the stream.
// The first call on an inbox creates the consumer group; a call that
// finds it gone (the stream was lost) queues the unfinished deliveries
// again from their hashes.
//
// The pending entries list times a lease in Redis's clock (the idle time
// since the entry's last delivery) while the inbox's clock decides when
// it runs out. The script maps one onto the other: f(c) = c + D, with D
// the difference between Redis's clock and the inbox's, fixed once per
// inbox in the meta hash. A lease running out at L is stored as the
// entry's delivery time f(L) - K, and XAUTOCLAIM is asked for entries
// idle at least S - f(now) + K, S being Redis's time now, so an entry
// qualifies once now >= L, to the millisecond; the delivery's hash then
// decides to the nanosecond (a lease runs out strictly after L), and an
// entry taken a millisecond early gets its deadline back. K (2^40 ms,
// about 35 years) keeps the delivery time in Redis's past, as XCLAIM's
// TIME requires; a clock run further ahead than K asks for a negative
// idle time, which Redis reads as any: every lease has run out.
//
// The keys a call leased are listed under its token base, for as long as
// a client may send the call again (ARGV 11, at most the lease); a
// second run hands out those still leased under that base, and takes no
// others.
//
// A delivery whose hash is gone (deleted, or evicted by a policy other
// than noeviction) cannot run; the call that meets its entry, or its
// retry falling due, drops its key from the indexes, where it would count
// against the capacity and as unfinished for good.
//
// KEYS: stream, delay, new, retry, leased, meta, this call's list, all.
// ARGV: base, group, consumer, max, now ns, now us, now ms (floor),
// lease-until ns, lease-until ms (ceiling), token base, the list's
// lifetime in ms. Replies the leased deliveries' hashes
// (HGETALL).
const inboxLeaseScript = luaTenantSet + `
local q, delay, inew, iretry, ileased, meta, calllist, iall = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local base, group, consumer = ARGV[1], ARGV[2], ARGV[3]
local max = tonumber(ARGV[4])
local now_ns, now_us, now_ms = ARGV[5], ARGV[6], tonumber(ARGV[7])
local until_ns, until_ms = ARGV[8], tonumber(ARGV[9])
local tokbase = ARGV[10]
local K = 1099511627776

-- Out of memory (maxmemory, noeviction), Redis refuses a script's first
-- write that may take memory, and lets a script that has written go on,
-- to keep it atomic. Store must be refused then (the handler answers
-- 503), but leasing must go on, so that the workers drain what was
-- acknowledged: a first write that takes none (HDEL of a field never
-- set) lets the rest through.
redis.call('HDEL', meta, 'none')

-- This call ran before, and lost its reply: the same deliveries again.
local mine = redis.call('LRANGE', calllist, 0, -1)
if #mine > 0 then
	local out = {}
	local pre = tokbase .. ':'
	for _, key in ipairs(mine) do
		local h = base .. 'd:' .. key
		local f = redis.call('HMGET', h, 'st', 'tok')
		if f[1] == 'leased' and f[2] and string.sub(f[2], 1, #pre) == pre then
			table.insert(out, redis.call('HGETALL', h))
		end
	end
	return out
end

local function fmt(n) return string.format('%.0f', n) end
local function forget(key)
	redis.call('ZREM', inew, key)
	redis.call('ZREM', iretry, key)
	redis.call('ZREM', ileased, key)
	redis.call('ZREM', iall, key)
	redis.call('SREM', tenantset(base, key), key)
end
local function idless(a, b)
	local am, as = string.match(a, '^(%d+)-(%d+)$')
	local bm, bs = string.match(b, '^(%d+)-(%d+)$')
	am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
	return am < bm or (am == bm and as < bs)
end

local t = redis.call('TIME')
local S = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local mf = redis.call('HMGET', meta, 'offset', 'gone', 'cursor')
local D, seen = mf[1], mf[2]
-- A Lease has run on this inbox before: its group existed.
local grouped = D ~= false
if D then
	D = tonumber(D)
else
	D = S - now_ms
	redis.call('HSET', meta, 'offset', fmt(D))
end

-- The stream may lose entries the inbox needs while the hashes, the
-- record of truth, remain: all of them with the stream (deleted, or
-- evicted by a policy other than noeviction; maybe made anew by a Store),
-- the group and the pending entries list going too, or some to a trim
-- from outside (XTRIM MAXLEN), the group staying. place puts an
-- unfinished delivery back where the queue needs it, and says whether it
-- was elsewhere: its entry in the stream (a leased one gets its deadline
-- back when it is read; a stream made anew numbers its entries afresh,
-- so one stored within the same millisecond may have the id the lost
-- one had, for another delivery), or, a retry due later, in the delay
-- set. A key whose hash is gone leaves the indexes.
local function place(key, fix)
	local h = base .. 'd:' .. key
	local f = redis.call('HMGET', h, 'st', 'sid', 'next')
	local st, sid, nxt = f[1], f[2], f[3]
	if not st then
		if fix then
			forget(key)
		end
		return true
	elseif st ~= 'pending' and st ~= 'leased' then
		return false
	elseif sid and sid ~= '' then
		local e = redis.call('XRANGE', q, sid, sid)[1]
		if e and e[2][2] == key then
			return false
		end
		if fix then
			-- Its old entry leaves the pending entries list too: there
			-- each would make a later XAUTOCLAIM report a loss, and
			-- walk again, and hold back the trim below.
			redis.call('XACK', q, group, sid)
			redis.call('HSET', h, 'sid', redis.call('XADD', q, '*', 'k', key))
		end
		return true
	elseif st == 'pending' and not redis.call('ZSCORE', delay, key) then
		-- next is in ns; the delay set's scores are us.
		if fix and nxt and #nxt > 3 then
			redis.call('ZADD', delay, string.sub(nxt, 1, -4), key)
		end
		return true
	end
	return false
end
-- requeue walks the unfinished deliveries, putting each back, if lost
-- says entries were lost or the oldest delivery of an index is misplaced
-- (the oldest entries are mostly the ones a trim takes); so every call
-- looks at three, and only a call after a loss walks.
local function requeue(lost)
	for _, idx in ipairs({inew, iretry, ileased}) do
		if lost then
			break
		end
		local oldest = redis.call('ZRANGE', idx, 0, 0)[1]
		lost = oldest and place(oldest, false)
	end
	if not lost then
		return
	end
	for _, idx in ipairs({inew, iretry, ileased}) do
		for _, key in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
			place(key, true)
		end
	end
end

-- fields reads an XINFO reply, its names and values in turn, into a
-- table by name (the reply is an array under RESP2, which scripts speak).
local function fields(r)
	local f = {}
	for i = 1, #r - 1, 2 do
		f[r[i]] = r[i + 1]
	end
	return f
end

-- gone is how many entries the stream has lost all told (Redis 7's
-- entries-added less its length), nil on Redis 6. Only this script
-- deletes entries, by its trim, and it records the count after; a
-- count grown since says entries went from outside, which may be ones
-- no consumer has read (those the pending entries list does not hold,
-- XAUTOCLAIM cannot report, and the oldest of the indexes may not be:
-- a retry queued behind one waiting in the delay set, a new delivery
-- behind one replayed).
local function gone()
	local r = redis.pcall('XINFO', 'STREAM', q)
	if r.err then
		return nil
	end
	local f = fields(r)
	local added, len = f['entries-added'], f['length']
	if not added or not len then
		return nil
	end
	return added - len
end

local cands = {}
local created, deleted = false, false
-- Expired leases. XAUTOCLAIM walks the pending entries list in id order
-- from the cursor the last call left, looking at up to ten entries per
-- delivery wanted; a walk that reaches the end goes on once from the
-- start. So a call looks at a bounded part of the list, and a list of
-- leases held (one per callback running) is covered by one or a few
-- calls.
local minidle = fmt(S - (now_ms + D) + K)
local cursor = mf[3] or '0-0'
for pass = 1, 2 do
	local from = cursor
	local r = redis.pcall('XAUTOCLAIM', q, group, consumer, minidle, from, 'COUNT', max - #cands)
	if r.err then
		-- The first Lease of an inbox creates the group, from the
		-- stream's start so that every delivery stored so far is read.
		if not string.find(r.err, 'NOGROUP', 1, true) then
			return redis.error_reply(r.err)
		end
		-- A group missing on an inbox a Lease ran on before (the meta
		-- hash says so, or when that went with the stream a lease or a
		-- retry in the indexes) means the stream was lost; a new
		-- inbox's first Lease finds each delivery where Store put it.
		redis.call('XGROUP', 'CREATE', q, group, '0', 'MKSTREAM')
		redis.call('HDEL', meta, 'last')
		requeue(grouped or redis.call('ZCARD', iretry) > 0 or redis.call('ZCARD', ileased) > 0)
		created = true
		r = redis.call('XAUTOCLAIM', q, group, consumer, minidle, from, 'COUNT', max - #cands)
	end
	for _, e in ipairs(r[2]) do
		if e and e[2] then
			table.insert(cands, e)
		end
	end
	-- Redis 7 lists the pending entries whose stream entries are gone,
	-- and drops them: leases a trim cut loose.
	if r[3] and #r[3] > 0 then
		deleted = true
	end
	cursor = r[1]
	if #cands >= max or cursor ~= '0-0' or from == '0-0' then
		break
	end
end
local lost = gone()
if lost and seen and tonumber(seen) ~= lost then
	deleted = true
end
if not created then
	requeue(deleted)
end

-- The due deliveries not leased: the stream's unread entries (new,
-- replayed, retried at once), in the order they came due, and the due
-- retries, waiting in the delay set by due time. The call takes from
-- both, oldest NextAttempt first: it looks at the unread entries without
-- reading them (XRANGE past the group's last delivered id) and at the
-- due retries, merges them by their hashes' next, reads (XREADGROUP) the
-- entries up to the first it does not take, and gives each retry it
-- takes an entry of its own at the stream's end, which XCLAIM FORCE puts
-- in the pending entries list when it is leased below, whatever unread
-- entries are before it. A later XREADGROUP that reads such an entry
-- finds it leased (its deadline is put back) or settled (it is
-- acknowledged), as it finds any entry no longer its delivery's.
local need = max - #cands
if need > 0 then
	local function after(id)
		local ms, seq = string.match(id, '^(%d+)-(%d+)$')
		return ms .. '-' .. fmt(tonumber(seq) + 1)
	end
	local lastid = '0-0'
	for _, g in ipairs(redis.call('XINFO', 'GROUPS', q)) do
		local f = fields(g)
		if f['name'] == group and f['last-delivered-id'] then
			lastid = f['last-delivered-id']
		end
	end

	-- The due retries, by due time to the nanosecond.
	local due = {}
	for _, key in ipairs(redis.call('ZRANGEBYSCORE', delay, '-inf', now_us, 'LIMIT', 0, need)) do
		local f = redis.call('HMGET', base .. 'd:' .. key, 'st', 'next')
		if not f[1] then
			redis.call('ZREM', delay, key)
			forget(key)
		elseif f[1] ~= 'pending' then
			redis.call('ZREM', delay, key) -- no retry waiting
		elseif f[2] and f[2] <= now_ns then
			table.insert(due, {key, f[2]})
		end
	end
	table.sort(due, function(a, b) return a[2] < b[2] or (a[2] == b[2] and a[1] < b[1]) end)

	-- The unread entries, each with its delivery's next if it is due
	-- (pending, or a lease run out, and this its current entry), false
	-- otherwise: up to need of the due, looking at ten entries per
	-- delivery wanted at most.
	local ahead, found = {}, 0
	local from, cap = after(lastid), 10 * need + 100
	while found < need and #ahead < cap do
		local r = redis.call('XRANGE', q, from, '+', 'COUNT', math.min(need - found + 16, cap - #ahead))
		if #r == 0 then
			break
		end
		for _, e in ipairs(r) do
			local id, nxt = e[1], false
			if e[2] and e[2][2] then
				local f = redis.call('HMGET', base .. 'd:' .. e[2][2], 'st', 'sid', 'next', 'lease')
				if f[2] == id and (f[1] == 'pending' or (f[1] == 'leased' and f[4] and f[4] < now_ns)) then
					nxt = f[3] or ''
					found = found + 1
				end
			end
			table.insert(ahead, {id, nxt})
			from = after(id)
		end
	end

	-- Merge. ai is the first entry of ahead not passed: every one before
	-- it is taken or no due delivery's, so reading up to it leaves no
	-- due delivery read and not leased.
	local di, ai, taken = 1, 1, {}
	for _ = 1, need do
		while ai <= #ahead and not ahead[ai][2] do
			ai = ai + 1
		end
		local a, d = ahead[ai], due[di]
		if d and (not a or d[2] < a[2]) then
			table.insert(taken, d[1])
			di = di + 1
		elseif a then
			ai = ai + 1
		else
			break
		end
	end
	-- Entries that are no due delivery's, up to the next due one, are
	-- read too, so that no later call looks at them again.
	while ai <= #ahead and not ahead[ai][2] do
		ai = ai + 1
	end
	if ai > 1 then
		local r = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', ai - 1, 'STREAMS', q, '>')
		if r then
			for _, e in ipairs(r[1][2]) do
				table.insert(cands, e)
			end
			-- The group's last delivered id, for the trim below.
			redis.call('HSET', meta, 'last', r[1][2][#r[1][2]][1])
		end
	end
	for _, key in ipairs(taken) do
		local sid = redis.call('XADD', q, '*', 'k', key)
		redis.call('HSET', base .. 'd:' .. key, 'sid', sid)
		redis.call('ZREM', delay, key)
		table.insert(cands, {sid, {'k', key}})
	end
end

local out = {}
for _, e in ipairs(cands) do
	local id, key = e[1], e[2][2]
	local h = base .. 'd:' .. key
	local f = redis.call('HMGET', h, 'st', 'sid', 'lease', 'leasems', 'recvus')
	local st, sid, lease = f[1], f[2], f[3]
	local take = false
	if sid == id then
		if st == 'pending' then
			take = true
		elseif st == 'leased' then
			if lease < now_ns then
				take = true
			else
				-- Within the last millisecond of its lease: put the
				-- deadline back.
				redis.call('XCLAIM', q, group, consumer, 0, id, 'TIME', fmt(tonumber(f[4]) + D - K), 'JUSTID')
			end
		end
	end
	if take and #out >= max then
		-- Not reached (the merge takes no more than max less the
		-- expired leases), but a delivery read and not leased must stay
		-- due: claimable by the next call.
		take = false
		redis.call('XCLAIM', q, group, consumer, 0, id, 'TIME', fmt(now_ms + D - K), 'FORCE', 'JUSTID')
	elseif take then
		local tok = tokbase .. ':' .. (#out + 1)
		redis.call('HINCRBY', h, 'att', 1)
		redis.call('HSET', h, 'st', 'leased', 'tok', tok, 'lease', until_ns, 'leasems', fmt(until_ms), 'upd', now_ns)
		redis.call('RPUSH', calllist, key)
		if #out == 0 then
			redis.call('PEXPIRE', calllist, ARGV[11])
		end
		if st == 'pending' then
			redis.call('ZREM', inew, key)
			redis.call('ZREM', iretry, key)
			redis.call('ZADD', ileased, f[5], key)
		end
		-- FORCE: a retry taken from the delay set has an entry no
		-- consumer has read.
		redis.call('XCLAIM', q, group, consumer, 0, id, 'TIME', fmt(until_ms + D - K), 'FORCE', 'JUSTID')
		table.insert(out, redis.call('HGETALL', h))
	elseif not (sid == id and st == 'leased') then
		-- Not this delivery's current entry (settled, replayed or
		-- purged since): drop it from the pending entries list.
		redis.call('XACK', q, group, id)
		if not st then
			forget(key)
		end
	end
end

-- Every entry below both the oldest pending one and the group's next
-- undelivered one is acknowledged: trim it.
local last = redis.call('HGET', meta, 'last')
if last then
	local ms, seq = string.match(last, '^(%d+)-(%d+)$')
	local minid = ms .. '-' .. fmt(tonumber(seq) + 1)
	local p = redis.call('XPENDING', q, group)
	if p[2] and idless(p[2], minid) then
		minid = p[2]
	end
	local n = redis.call('XTRIM', q, 'MINID', minid)
	if lost then
		lost = lost + n
	end
end
if lost then
	redis.call('HSET', meta, 'cursor', cursor, 'gone', fmt(lost))
else
	redis.call('HSET', meta, 'cursor', cursor)
end
return out
`

// inboxSettleScript completes, retries or kills a leased delivery if the
// token still holds it. KEYS: stream, delay, leased, retry, done, dead,
// done-at, dead-at. ARGV: base, group, key, token, op (complete, retry or
// kill), now ns, now us, next ns, next us, last error, call id. Replies 1
// settled (by this call, also when it ran before), 0 lease lost.
const inboxSettleScript = luaTenantSet + `
local q, delay, ileased, iretry, idone, idead, doneat, deadat = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local base, group, key, token, op = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local now_ns, now_us, next_ns, next_us, lasterr, callid = ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local h = base .. 'd:' .. key
local f = redis.call('HMGET', h, 'st', 'tok', 'sid', 'recvus', 'op')
if f[1] ~= 'leased' or f[2] ~= token then
	if f[5] == callid then
		return 1
	end
	return 0
end
redis.call('XACK', q, group, f[3])
redis.call('ZREM', ileased, key)
redis.call('HSET', h, 'tok', '', 'lease', '', 'leasems', '', 'sid', '', 'upd', now_ns, 'op', callid)
if op == 'complete' then
	redis.call('SREM', tenantset(base, key), key)
	redis.call('HSET', h, 'st', 'done')
	redis.call('ZADD', idone, f[4], key)
	redis.call('ZADD', doneat, now_us, key)
elseif op == 'kill' then
	redis.call('SREM', tenantset(base, key), key)
	redis.call('HSET', h, 'st', 'dead', 'err', lasterr)
	redis.call('ZADD', idead, f[4], key)
	redis.call('ZADD', deadat, now_us, key)
else
	redis.call('HSET', h, 'st', 'pending', 'next', next_ns, 'err', lasterr)
	redis.call('ZADD', iretry, f[4], key)
	if next_ns <= now_ns then
		redis.call('HSET', h, 'sid', redis.call('XADD', q, '*', 'k', key))
	else
		redis.call('ZADD', delay, next_us, key)
	end
end
return 1
`

// inboxReplayScript returns a done or dead delivery to pending, due now,
// or makes a pending one not due yet due now, recording the call's id as rop: run
// again for the same call (after a lost reply), it answers 1 and does
// nothing more, though a worker may have leased, run and settled the
// delivery in between. KEYS: stream, delay, new, done, dead, done-at,
// dead-at. ARGV: base, key, now ns, call id. Replies 1 replayed, -1 not
// found, -2 leased.
const inboxReplayScript = luaTenantSet + `
local q, delay, inew, idone, idead, doneat, deadat = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local base, key, now_ns, callid = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local h = base .. 'd:' .. key
local f = redis.call('HMGET', h, 'st', 'next', 'recvus', 'rop')
local st = f[1]
if not st then
	return -1
elseif f[4] == callid then
	return 1
elseif st == 'leased' then
	return -2
elseif st == 'pending' then
	-- One due already keeps its place: a due retry is leased from the
	-- delay set in due order with the stream's deliveries.
	if f[2] > now_ns then
		if redis.call('ZREM', delay, key) == 1 then
			redis.call('HSET', h, 'sid', redis.call('XADD', q, '*', 'k', key))
		end
		redis.call('HSET', h, 'next', now_ns)
	end
	redis.call('HSET', h, 'rop', callid)
	return 1
end
redis.call('ZREM', idone, key)
redis.call('ZREM', idead, key)
redis.call('ZREM', doneat, key)
redis.call('ZREM', deadat, key)
redis.call('HSET', h, 'st', 'pending', 'att', 0, 'next', now_ns, 'upd', now_ns, 'rop', callid, 'sid', redis.call('XADD', q, '*', 'k', key))
redis.call('ZADD', inew, f[3], key)
redis.call('SADD', tenantset(base, key), key)
return 1
`

// inboxPurgeScript deletes up to a batch of the deliveries in one state
// last updated before a time, and keeps its count for a while under the
// call's id, for a second run of the call to answer with. The index
// holds whole microseconds: those of earlier microseconds go, and once
// they are all gone, those of the time's own microsecond whose upd (in
// ns) is before it. KEYS: state index, state-at index, all, this call's
// count. ARGV: base, before us (floor), batch, the count's lifetime in
// ms, before ns. Replies how many it deleted.
const inboxPurgeScript = `
local ran = redis.call('GET', KEYS[4])
if ran then
	return tonumber(ran)
end
local base, batch = ARGV[1], tonumber(ARGV[3])
local function del(key)
	redis.call('DEL', base .. 'd:' .. key)
	redis.call('ZREM', KEYS[1], key)
	redis.call('ZREM', KEYS[2], key)
	redis.call('ZREM', KEYS[3], key)
end
local keys = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[2], 'LIMIT', 0, batch)
for _, key in ipairs(keys) do
	del(key)
end
local n = #keys
if n < batch then
	local last = redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[2], ARGV[2], 'LIMIT', 0, batch - n)
	for _, key in ipairs(last) do
		local upd = redis.call('HGET', base .. 'd:' .. key, 'upd')
		if not upd or upd < ARGV[5] then
			del(key)
			n = n + 1
		end
	end
end
if n > 0 then
	redis.call('SET', KEYS[4], n, 'PX', ARGV[4])
end
return n
`

// inboxListScript reads a page of List: up to limit deliveries from the
// given indexes past a position, merged by score (ReceivedAt or
// UpdatedAt in whole microseconds), ties by key. A position is a score
// and a key, which need not be in the index any more; each index finds
// its first member past it by a binary search among the members of that
// score, so a page costs the same wherever it starts. Keys are compared
// byte by byte, as Redis orders a sorted set's members of one score:
// Lua's string comparison follows the server's locale.
//
// A name whose hash is gone (deleted from outside, or evicted by a
// policy other than noeviction) is no delivery: the page passes over it
// and reads on, a chunk of each index at a time, so that it holds limit
// deliveries whenever there are that many, says there are more only
// when a delivery follows it, and ends at its last delivery. The names
// it passed leave every index once the page is read (as the Lease that
// meets one drops it), so no later page walks them again; a page passes
// at most maxskip of them, and then says there are more.
//
// KEYS: the indexes. ARGV: base, limit, the position's score (empty for
// the start) and key, 1 to leave out the body, maxskip. Replies whether
// there are more, the score and key of the page's last delivery (empty
// for none), then the deliveries' fields (as HGETALL).
const inboxListScript = luaTenantSet + `
local base, limit, s, m, nobody = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5] == '1'
local maxskip = tonumber(ARGV[6])
local function before(a, b)
	local n = math.min(#a, #b)
	for i = 1, n do
		local x, y = string.byte(a, i), string.byte(b, i)
		if x ~= y then
			return x < y
		end
	end
	return #a < #b
end
-- Each index is read a chunk at a time: lists[i] holds the chunk (member,
-- score, ...), pos[i] the place in it, from[i] the rank the next chunk
-- starts at, and full[i] whether the last chunk was whole (so that the
-- index may hold more). Nothing leaves an index until the page is read,
-- so the ranks hold meanwhile.
local chunk = limit + 1
local lists, pos, from, full = {}, {}, {}, {}
local function fetch(i)
	lists[i] = redis.call('ZRANGE', KEYS[i], from[i], from[i] + chunk - 1, 'WITHSCORES')
	from[i] = from[i] + chunk
	pos[i] = 1
	full[i] = #lists[i] == 2 * chunk
end
for i, idx in ipairs(KEYS) do
	from[i] = 0
	if s ~= '' then
		local lo = redis.call('ZCOUNT', idx, '-inf', '(' .. s)
		local hi = lo + redis.call('ZCOUNT', idx, s, s)
		while lo < hi do
			local mid = math.floor((lo + hi) / 2)
			if before(m, redis.call('ZRANGE', idx, mid, mid)[1]) then
				hi = mid
			else
				lo = mid + 1
			end
		end
		from[i] = lo
	end
	fetch(i)
end
local fields = {'k', 'src', 'id', 'ts', 'recv', 'hdr', 'meta', 'st', 'att', 'next', 'lease', 'tok', 'err', 'upd'}
-- read returns the delivery's fields, or nil if its hash is gone.
local function read(h)
	if nobody then
		local v = redis.call('HMGET', h, unpack(fields))
		if not v[1] then
			return nil
		end
		local flat = {}
		for j, f in ipairs(fields) do
			if v[j] then
				table.insert(flat, f)
				table.insert(flat, v[j])
			end
		end
		return flat
	end
	local flat = redis.call('HGETALL', h)
	if #flat == 0 then
		return nil
	end
	return flat
end
local out = {0, '', ''}
local taken, lost = 0, {}
while true do
	local best, bs, bm
	for i = 1, #KEYS do
		if pos[i] > #lists[i] and full[i] then
			fetch(i)
		end
		local l, p = lists[i], pos[i]
		if p <= #l then
			local mm, sc = l[p], tonumber(l[p + 1])
			if not best or sc < bs or (sc == bs and before(mm, bm)) then
				best, bs, bm = i, sc, mm
			end
		end
	end
	if not best then
		break
	end
	if #lost == maxskip then
		out[1] = 1
		break
	end
	local h = base .. 'd:' .. bm
	if taken == limit then
		if redis.call('EXISTS', h) == 1 then
			out[1] = 1
			break
		end
		table.insert(lost, bm)
	else
		local flat = read(h)
		if flat then
			out[2], out[3] = lists[best][pos[best] + 1], bm
			taken = taken + 1
			table.insert(out, flat)
		else
			table.insert(lost, bm)
		end
	end
	pos[best] = pos[best] + 2
end
for _, key in ipairs(lost) do
	for _, idx in ipairs({'new', 'retry', 'leased', 'done', 'dead', 'done:at', 'dead:at', 'all'}) do
		redis.call('ZREM', base .. idx, key)
	end
	redis.call('SREM', tenantset(base, key), key)
end
return out
`

// inboxStatsScript counts the deliveries by state and finds the oldest
// unfinished one: the indexes hold whole microseconds, so among those of
// the oldest microsecond the one whose recv (ns) is least (of the first
// hundred in each index: a clock that stands still in tests may give
// thousands one time, all of them within the microsecond). KEYS: new,
// retry, leased, done, dead. ARGV: base. Replies the five counts and that
// delivery's recv (empty if none).
const inboxStatsScript = `
local out = {}
for i = 1, 5 do
	out[i] = redis.call('ZCARD', KEYS[i])
end
local bs
for i = 1, 3 do
	local r = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
	if r[1] then
		local s = tonumber(r[2])
		if not bs or s < bs then
			bs = s
		end
	end
end
-- recv is zero-padded ns, of one length whatever its sign: compared as
-- strings, except that of two negative ones the greater string is the
-- earlier time.
local function earlier(a, b)
	local na, nb = string.sub(a, 1, 1) == '-', string.sub(b, 1, 1) == '-'
	if na ~= nb then
		return na
	end
	if na then
		return a > b
	end
	return a < b
end
out[6] = ''
if bs then
	local s = string.format('%.0f', bs)
	for i = 1, 3 do
		for _, key in ipairs(redis.call('ZRANGEBYSCORE', KEYS[i], s, s, 'LIMIT', 0, 100)) do
			local recv = redis.call('HGET', ARGV[1] .. 'd:' .. key, 'recv')
			if recv and (out[6] == '' or earlier(recv, out[6])) then
				out[6] = recv
			end
		end
	end
end
return out
`
