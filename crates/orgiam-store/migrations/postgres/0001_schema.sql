-- orgiam schema, version 1: the whole domain.
-- Timestamps are Unix seconds (BIGINT). Ids are prefixed ULIDs (TEXT). JSON is stored as TEXT.
-- Uniqueness that is case-insensitive uses a `*_key` column holding the case-folded value,
-- computed by the application, so that both engines fold case the same way.

CREATE TABLE organizations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    -- incremented by every committed write in the organization; orders changes per org
    revision    BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    email       TEXT NOT NULL,
    email_key   TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email_key);

-- user ∈ organization; the display name lives here so one org cannot change what another sees
CREATE TABLE memberships (
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE projects (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    archived_at BIGINT,
    UNIQUE (org_id, id)
);

CREATE TABLE project_members (
    org_id      TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (project_id, user_id),
    FOREIGN KEY (org_id, project_id) REFERENCES projects (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, user_id) REFERENCES memberships (org_id, user_id) ON DELETE CASCADE
);
CREATE INDEX project_members_user ON project_members (org_id, user_id);

CREATE TABLE org_groups (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (org_id, id)
);
CREATE UNIQUE INDEX org_groups_name ON org_groups (org_id, name_key);

CREATE TABLE group_members (
    org_id      TEXT NOT NULL,
    group_id    TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id),
    FOREIGN KEY (org_id, group_id) REFERENCES org_groups (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, user_id) REFERENCES memberships (org_id, user_id) ON DELETE CASCADE
);
CREATE INDEX group_members_user ON group_members (org_id, user_id);

-- a group's access to a project
CREATE TABLE project_groups (
    org_id      TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    group_id    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (project_id, group_id),
    FOREIGN KEY (org_id, project_id) REFERENCES projects (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, group_id) REFERENCES org_groups (org_id, id) ON DELETE CASCADE
);
CREATE INDEX project_groups_group ON project_groups (group_id);

-- the permission catalog: built-in (org_id NULL) and each organization's own
CREATE TABLE permissions (
    id            TEXT PRIMARY KEY,
    org_id        TEXT REFERENCES organizations (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    description   TEXT,
    resource_type TEXT NOT NULL CHECK (resource_type IN ('api.organization', 'api.project')),
    created_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX permissions_name ON permissions (COALESCE(org_id, ''), name);

-- system roles (org_id NULL), organization custom roles (project_id NULL) and project roles
CREATE TABLE roles (
    id            TEXT PRIMARY KEY,
    org_id        TEXT REFERENCES organizations (id) ON DELETE CASCADE,
    project_id    TEXT,
    resource_type TEXT NOT NULL CHECK (resource_type IN ('api.organization', 'api.project')),
    name          TEXT NOT NULL,
    name_key      TEXT NOT NULL,
    description   TEXT,
    metadata      TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    created_by    TEXT,
    FOREIGN KEY (org_id, project_id) REFERENCES projects (org_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX roles_name ON roles (COALESCE(org_id, ''), COALESCE(project_id, ''), resource_type, name_key);
CREATE INDEX roles_scope ON roles (org_id, project_id, id);

-- no cascade from permissions: a permission held by a role cannot be deleted
CREATE TABLE role_permissions (
    role_id       TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission_id TEXT NOT NULL REFERENCES permissions (id),
    PRIMARY KEY (role_id, permission_id)
);
CREATE INDEX role_permissions_permission ON role_permissions (permission_id);

-- (user or group) → role, at organization scope (project_id NULL) or on one project.
-- A project grant needs project membership: the composite keys below make removing the
-- membership (or the group's project access) remove the grant.
CREATE TABLE role_assignments (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    role_id        TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    principal_type TEXT NOT NULL CHECK (principal_type IN ('user', 'group')),
    principal_id   TEXT NOT NULL,
    user_id        TEXT,
    group_id       TEXT,
    project_id     TEXT,
    -- 1 for the membership's base role (a system role, exactly one per membership)
    is_base        BIGINT NOT NULL DEFAULT 0 CHECK (is_base IN (0, 1)),
    created_at     BIGINT NOT NULL,
    created_by     TEXT,
    expires_at     BIGINT,
    metadata       TEXT,
    CHECK ((principal_type = 'user' AND user_id = principal_id AND group_id IS NULL)
        OR (principal_type = 'group' AND group_id = principal_id AND user_id IS NULL)),
    FOREIGN KEY (org_id, user_id) REFERENCES memberships (org_id, user_id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, group_id) REFERENCES org_groups (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, project_id) REFERENCES projects (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (project_id, user_id) REFERENCES project_members (project_id, user_id) ON DELETE CASCADE,
    FOREIGN KEY (project_id, group_id) REFERENCES project_groups (project_id, group_id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX role_assignments_unique ON role_assignments (principal_id, role_id, COALESCE(project_id, ''));
CREATE UNIQUE INDEX role_assignments_base ON role_assignments (principal_id, COALESCE(project_id, ''), org_id) WHERE is_base = 1;
CREATE INDEX role_assignments_role ON role_assignments (role_id, id);
CREATE INDEX role_assignments_org ON role_assignments (org_id, principal_id, role_id);
CREATE INDEX role_assignments_project ON role_assignments (project_id);
CREATE INDEX role_assignments_expiry ON role_assignments (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE invitations (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email        TEXT NOT NULL,
    email_key    TEXT NOT NULL,
    role_id      TEXT NOT NULL REFERENCES roles (id),
    token_hash   TEXT NOT NULL,
    invited_by   TEXT,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    accepted_at  BIGINT,
    accepted_by  TEXT
);
CREATE UNIQUE INDEX invitations_token ON invitations (token_hash);
CREATE INDEX invitations_org ON invitations (org_id, id);
CREATE INDEX invitations_email ON invitations (org_id, email_key);

-- the project roles an invitation grants on acceptance
CREATE TABLE invitation_projects (
    invite_id   TEXT NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
    project_id  TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    role_id     TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (invite_id, project_id)
);

-- secrets are stored only as SHA-256; a key acts as one member and dies with the membership
CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind           TEXT NOT NULL CHECK (kind IN ('admin', 'user')),
    name           TEXT NOT NULL,
    secret_hash    TEXT NOT NULL,
    redacted_value TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    created_by     TEXT,
    created_at     BIGINT NOT NULL,
    last_used_at   BIGINT,
    expires_at     BIGINT,
    FOREIGN KEY (org_id, user_id) REFERENCES memberships (org_id, user_id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX api_keys_secret ON api_keys (secret_hash);
CREATE INDEX api_keys_org ON api_keys (org_id, kind, id);
CREATE INDEX api_keys_user ON api_keys (org_id, user_id);

-- one row per change; outlives the objects it names (no foreign keys but the org)
CREATE TABLE audit_events (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
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
CREATE INDEX audit_events_org ON audit_events (org_id, id);
CREATE INDEX audit_events_type ON audit_events (org_id, type, id);
CREATE INDEX audit_events_resource ON audit_events (org_id, resource_id, id);
CREATE INDEX audit_events_actor ON audit_events (org_id, actor_user_id, id);
CREATE INDEX audit_events_project ON audit_events (org_id, project_id, id);
