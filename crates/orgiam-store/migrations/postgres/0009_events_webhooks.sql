-- The change feed and webhooks.
--
-- Feed: every audit event records the organization revision its write produced, so the audit
-- log read in revision order is the change feed. Organizations remember the revision the feed
-- starts from (events written before this migration carry no revision).
ALTER TABLE audit_events ADD COLUMN revision BIGINT;
CREATE INDEX audit_events_feed ON audit_events (org_id, revision) WHERE revision IS NOT NULL;
ALTER TABLE organizations ADD COLUMN feed_from BIGINT NOT NULL DEFAULT 0;
UPDATE organizations SET feed_from = revision;

-- Webhook endpoints. The signing secret is kept as the server needs it to sign every
-- delivery (see docs/WEBHOOKS.md); after a rotation the previous one signs alongside until
-- previous_secret_until.
CREATE TABLE webhook_endpoints (
    id                    TEXT PRIMARY KEY,
    org_id                TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url                   TEXT NOT NULL,
    description           TEXT,
    event_types           TEXT,
    enabled               BIGINT NOT NULL,
    ordered               BIGINT NOT NULL,
    state                 TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'failing', 'disabled')),
    failing_since         BIGINT,
    secret                TEXT NOT NULL,
    previous_secret       TEXT,
    previous_secret_until BIGINT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (org_id, id);

-- The outbox: one row per (change, endpoint), written in the change's own transaction.
-- Times in milliseconds. A row is claimed by setting lease_until; a lease that expires (its
-- process died) makes the row claimable again.
CREATE TABLE webhook_deliveries (
    seq              BIGINT GENERATED ALWAYS AS IDENTITY,
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_type       TEXT NOT NULL,
    revision         BIGINT,
    body             TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    retry_from       BIGINT NOT NULL,
    lease_until      BIGINT,
    last_attempt_at  BIGINT,
    response_status  BIGINT,
    latency_ms       BIGINT,
    response_body    TEXT,
    error            TEXT,
    delivered_at     BIGINT
);
CREATE UNIQUE INDEX webhook_deliveries_seq ON webhook_deliveries (seq);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, seq);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
-- an ordered endpoint's oldest pending delivery, found without walking the delivered ones
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (endpoint_id, seq) WHERE status = 'pending';
-- Built-in permissions of the webhook routes (catalog.rs has the same ids). Owners and admins
-- hold both, readers every built-in `.read`.
INSERT INTO permissions (id, org_id, name, description, resource_type, created_at) VALUES
    ('perm_0000000000000000000000000W', NULL, 'api.webhooks.read', 'list and read webhook endpoints and their deliveries', 'api.organization', 0),
    ('perm_0000000000000000000000000X', NULL, 'api.webhooks.write', 'create, change, test and delete webhook endpoints; redeliver', 'api.organization', 0);

INSERT INTO role_permissions (role_id, permission_id) VALUES
    ('role_00000000000000000000000001', 'perm_0000000000000000000000000W'),
    ('role_00000000000000000000000001', 'perm_0000000000000000000000000X'),
    ('role_00000000000000000000000002', 'perm_0000000000000000000000000W'),
    ('role_00000000000000000000000002', 'perm_0000000000000000000000000X'),
    ('role_00000000000000000000000004', 'perm_0000000000000000000000000W');
