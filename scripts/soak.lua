-- wrk script for scripts/soak.sh: a mixed load of reads, permission checks and writes on one
-- seeded organization. Ids and the key come from the environment (set by soak.sh):
--   SOAK_KEY, SOAK_USER, SOAK_ROLE, SOAK_GRANT_ROLE, SOAK_GROUP
-- Mix per request: 40% reads, 40% checks (one in ten a batch of 20), 20% writes (role and
-- group updates, an idempotent role grant, and a new group one write in ten, so the database
-- grows a little as it would in use). Every answer is counted by status class; soak.sh fails
-- on any answer that is not 2xx, on any socket error, and on any 5xx.

local key = os.getenv("SOAK_KEY")
local user = os.getenv("SOAK_USER")
local role = os.getenv("SOAK_ROLE")
local grant_role = os.getenv("SOAK_GRANT_ROLE")
local group = os.getenv("SOAK_GROUP")

local threads = {}
local thread_id = 0

function setup(thread)
    thread_id = thread_id + 1
    thread:set("id", thread_id)
    table.insert(threads, thread)
end

local headers = {
    ["Authorization"] = "Bearer " .. (key or ""),
    ["Content-Type"] = "application/json",
}

-- Per-thread counters: globals, because done() reads them with thread:get().
n = 0
ok, c4xx, c5xx, other = 0, 0, 0, 0
reads, checks, writes = 0, 0, 0
first_bad = nil

local read_paths = {}
local batch_body = nil

function init(args)
    math.randomseed(os.time() + (id or 0) * 7919)
    read_paths = {
        "/v1/organization/roles?limit=20",
        "/v1/organization/users/" .. user,
        "/v1/organization/users?limit=20",
        "/v1/organization/users/" .. user .. "/roles",
        "/v1/organization/groups/" .. group .. "/users",
        "/v1/organization/users/" .. user .. "/permissions",
        "/v1/organization/audit_logs?limit=10",
        "/v1/organization/roles/" .. role,
    }
    local items = {}
    local perms = { "api.users.read", "api.groups.write", "api.roles.read", "documents.read" }
    for i = 1, 20 do
        items[i] = string.format('{"user_id":"%s","permission":"%s"}', user, perms[(i % #perms) + 1])
    end
    batch_body = '{"checks":[' .. table.concat(items, ",") .. "]}"
end

function request()
    n = n + 1
    local r = math.random(100)
    if r <= 40 then
        reads = reads + 1
        return wrk.format("GET", read_paths[math.random(#read_paths)], headers)
    elseif r <= 80 then
        checks = checks + 1
        if r <= 44 then
            return wrk.format("POST", "/v1/organization/permissions/check_batch", headers, batch_body)
        end
        local perm = (r % 2 == 0) and "api.users.read" or "documents.read"
        return wrk.format("POST", "/v1/organization/permissions/check", headers,
            string.format('{"user_id":"%s","permission":"%s"}', user, perm))
    end
    writes = writes + 1
    local tag = string.format("%d-%d", id or 0, n)
    if r <= 85 then
        return wrk.format("POST", "/v1/organization/roles/" .. role, headers,
            string.format('{"description":"soak %s"}', tag))
    elseif r <= 90 then
        return wrk.format("POST", "/v1/organization/users/" .. user .. "/roles", headers,
            string.format('{"role_id":"%s","expires_at":%d}', grant_role, os.time() + 86400))
    elseif r <= 98 then
        return wrk.format("POST", "/v1/organization/groups/" .. group, headers,
            string.format('{"name":"soak group %s"}', tag))
    end
    return wrk.format("POST", "/v1/organization/groups", headers,
        string.format('{"name":"soak new %s"}', tag))
end

function response(status, headers, body)
    if status >= 200 and status < 300 then
        ok = ok + 1
    elseif status >= 500 then
        c5xx = c5xx + 1
    elseif status >= 400 then
        c4xx = c4xx + 1
    else
        other = other + 1
    end
    if (status < 200 or status >= 300) and first_bad == nil then
        first_bad = string.format("%d %s", status, string.sub(body or "", 1, 300))
    end
end

function done(summary, latency, requests)
    local t = { ok = 0, c4xx = 0, c5xx = 0, other = 0, reads = 0, checks = 0, writes = 0 }
    local bad = nil
    for _, thread in ipairs(threads) do
        for k, _ in pairs(t) do
            t[k] = t[k] + (thread:get(k) or 0)
        end
        bad = bad or thread:get("first_bad")
    end
    local e = summary.errors
    io.write(string.format(
        "soak-result requests=%d duration_us=%d ok=%d status_4xx=%d status_5xx=%d status_other=%d " ..
        "connect_errors=%d read_errors=%d write_errors=%d timeouts=%d " ..
        "sent_reads=%d sent_checks=%d sent_writes=%d p50_us=%d p99_us=%d max_us=%d\n",
        summary.requests, summary.duration, t.ok, t.c4xx, t.c5xx, t.other,
        e.connect, e.read, e.write, e.timeout, t.reads, t.checks, t.writes,
        latency:percentile(50), latency:percentile(99), latency.max))
    if bad then
        io.write("soak-first-bad " .. bad .. "\n")
    end
end
