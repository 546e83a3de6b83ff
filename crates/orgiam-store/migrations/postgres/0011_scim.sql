-- SCIM 2.0 provisioning: tokens an identity provider presents, the SCIM attributes of members
-- and groups it manages, and suspension of a membership (`active: false`).

-- a suspended member keeps every row; the engine loads them without grants and their keys
-- do not authenticate until the flag is cleared
ALTER TABLE memberships ADD COLUMN suspended_at BIGINT;
-- 1 for members an identity provider created through SCIM
ALTER TABLE memberships ADD COLUMN scim_managed BIGINT NOT NULL DEFAULT 0;
CREATE INDEX memberships_suspended ON memberships (org_id, user_id) WHERE suspended_at IS NOT NULL;

-- secrets are stored only as SHA-256; a token acts with the authority of the member who made
-- it and dies with that membership
CREATE TABLE scim_tokens (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    secret_hash    TEXT NOT NULL,
    redacted_value TEXT NOT NULL,
    default_role_id TEXT NOT NULL REFERENCES roles (id),
    created_by     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    last_used_at   BIGINT,
    FOREIGN KEY (org_id, created_by) REFERENCES memberships (org_id, user_id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX scim_tokens_secret ON scim_tokens (secret_hash);
CREATE INDEX scim_tokens_org ON scim_tokens (org_id, id);

-- what SCIM says about a member beyond email, display name and active: externalId and the
-- rest of the resource (name, emails, the enterprise extension, …) as JSON
CREATE TABLE scim_users (
    org_id       TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    external_id  TEXT,
    attributes   TEXT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id),
    FOREIGN KEY (org_id, user_id) REFERENCES memberships (org_id, user_id) ON DELETE CASCADE
);
CREATE INDEX scim_users_external ON scim_users (org_id, external_id);

CREATE TABLE scim_groups (
    org_id       TEXT NOT NULL,
    group_id     TEXT NOT NULL,
    external_id  TEXT,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (org_id, group_id),
    FOREIGN KEY (org_id, group_id) REFERENCES org_groups (org_id, id) ON DELETE CASCADE
);
CREATE INDEX scim_groups_external ON scim_groups (org_id, external_id);

-- suspending or restoring a member changes what they hold: the engine reloads them and the
-- groups they are in (whose member lists leave suspended members out)
CREATE FUNCTION ec_memberships_suspend_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'user', NEW.user_id, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT));
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    SELECT NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'group', gm.group_id, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT)
    FROM group_members gm WHERE gm.org_id = NEW.org_id AND gm.user_id = NEW.user_id;
    RETURN NULL;
END $$;
CREATE TRIGGER ec_memberships_suspend AFTER UPDATE OF suspended_at ON memberships
    FOR EACH ROW WHEN (COALESCE(current_setting('orgiam.bulk_load', true), '') <> 'on')
    EXECUTE FUNCTION ec_memberships_suspend_fn();
