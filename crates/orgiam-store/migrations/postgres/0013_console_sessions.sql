-- Console sign-ins: one row per session. `id` is the SHA-256 of the cookie's value (the
-- cookie itself is never stored); `sealed_key` is the signed-in key's secret encrypted with a
-- key derived from the cookie's value, so the row alone cannot act; `csrf` is the token every
-- form of the session carries. A session is valid while `last_seen_at` is within the idle
-- timeout and its key still authenticates.
CREATE TABLE console_sessions (
    id           TEXT PRIMARY KEY,
    sealed_key   TEXT NOT NULL,
    csrf         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_seen ON console_sessions (last_seen_at);
