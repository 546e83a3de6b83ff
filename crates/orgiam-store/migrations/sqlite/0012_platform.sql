-- The platform level: keys that act across every organization (never an organization's own
-- key), and the platform's audit log of what they and the root key changed.

-- secrets are stored only as SHA-256; `permissions` is the key's platform permissions,
-- space-separated (platform.organizations.read, platform.check, ...)
CREATE TABLE platform_api_keys (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    secret_hash    TEXT NOT NULL,
    redacted_value TEXT NOT NULL,
    permissions    TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX platform_api_keys_secret ON platform_api_keys (secret_hash);

-- one row per platform change, in the columns of audit_events; `org_id` names the
-- organization acted on, if any, and outlives it (no foreign key)
CREATE TABLE platform_audit_events (
    id            TEXT PRIMARY KEY,
    org_id        TEXT,
    type          TEXT NOT NULL,
    effective_at  BIGINT NOT NULL,
    actor_type    TEXT NOT NULL,
    actor_user_id TEXT,
    actor_email   TEXT,
    actor_key_id  TEXT,
    project_id    TEXT,
    resource_id   TEXT,
    details       TEXT NOT NULL
);
CREATE INDEX platform_audit_events_type ON platform_audit_events (type, id);
CREATE INDEX platform_audit_events_resource ON platform_audit_events (resource_id, id);

-- The platform's change counter: moves with every change of the global catalog (permissions
-- with no organization that are not built-in), which every organization's snapshot holds.
CREATE TABLE platform_state (
    id       INTEGER PRIMARY KEY,
    revision BIGINT NOT NULL
);
INSERT INTO platform_state (id, revision) VALUES (1, 0);
