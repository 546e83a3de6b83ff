-- Every object an audit event touches (its resource, its project, and each user, role, group,
-- project, key or invitation its payload names), so that `resource_ids[]` finds a role grant
-- by the user who received it, not only by the assignment row. Events written before this
-- migration are indexed under their main resource.
CREATE TABLE audit_event_resources (
    org_id      TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    event_id    TEXT NOT NULL REFERENCES audit_events (id) ON DELETE CASCADE,
    PRIMARY KEY (org_id, resource_id, event_id)
);
CREATE INDEX audit_event_resources_event ON audit_event_resources (event_id);
INSERT INTO audit_event_resources (org_id, resource_id, event_id)
    SELECT org_id, resource_id, id FROM audit_events WHERE resource_id IS NOT NULL;

-- API keys' events take OpenAI's names (the payload's `before`/`after` say which kind of key).
UPDATE audit_events SET type = 'api_key.created'
    WHERE type IN ('admin_api_key.created', 'user_api_key.created');
UPDATE audit_events SET type = 'api_key.deleted'
    WHERE type IN ('admin_api_key.deleted', 'user_api_key.deleted');
