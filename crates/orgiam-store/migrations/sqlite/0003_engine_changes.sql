-- The change log the authorization engine follows: every row change that can alter a
-- permission decision or a key's validity records (organization, revision, kind, entity).
-- A process catches up by reloading only the entities changed since its snapshot's revision,
-- whichever process made the change. Filled by triggers, so no write path can forget it.

CREATE TABLE engine_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id     TEXT NOT NULL,
    revision   BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX engine_changes_org ON engine_changes (org_id, revision);
CREATE INDEX engine_changes_age ON engine_changes (created_at);

CREATE TRIGGER ec_memberships_ins AFTER INSERT ON memberships BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'user', NEW.user_id, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER ec_memberships_del AFTER DELETE ON memberships BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (OLD.org_id, COALESCE((SELECT revision FROM organizations WHERE id = OLD.org_id), 0), 'user', OLD.user_id, CAST(strftime('%s', 'now') AS INTEGER));
END;

CREATE TRIGGER ec_assignments_ins AFTER INSERT ON role_assignments BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), NEW.principal_type, NEW.principal_id, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER ec_assignments_upd AFTER UPDATE ON role_assignments BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), NEW.principal_type, NEW.principal_id, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER ec_assignments_del AFTER DELETE ON role_assignments BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (OLD.org_id, COALESCE((SELECT revision FROM organizations WHERE id = OLD.org_id), 0), OLD.principal_type, OLD.principal_id, CAST(strftime('%s', 'now') AS INTEGER));
END;

CREATE TRIGGER ec_group_members_ins AFTER INSERT ON group_members BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'user', NEW.user_id, CAST(strftime('%s', 'now') AS INTEGER)),
           (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'group', NEW.group_id, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER ec_group_members_del AFTER DELETE ON group_members BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (OLD.org_id, COALESCE((SELECT revision FROM organizations WHERE id = OLD.org_id), 0), 'user', OLD.user_id, CAST(strftime('%s', 'now') AS INTEGER)),
           (OLD.org_id, COALESCE((SELECT revision FROM organizations WHERE id = OLD.org_id), 0), 'group', OLD.group_id, CAST(strftime('%s', 'now') AS INTEGER));
END;

CREATE TRIGGER ec_groups_ins AFTER INSERT ON org_groups BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'group', NEW.id, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER ec_groups_del AFTER DELETE ON org_groups BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (OLD.org_id, COALESCE((SELECT revision FROM organizations WHERE id = OLD.org_id), 0), 'group', OLD.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

CREATE TRIGGER ec_roles_ins AFTER INSERT ON roles WHEN NEW.org_id IS NOT NULL BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'role', NEW.id, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER ec_roles_upd AFTER UPDATE ON roles WHEN NEW.org_id IS NOT NULL BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'role', NEW.id, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER ec_roles_del AFTER DELETE ON roles WHEN OLD.org_id IS NOT NULL BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (OLD.org_id, COALESCE((SELECT revision FROM organizations WHERE id = OLD.org_id), 0), 'role', OLD.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

CREATE TRIGGER ec_role_permissions_ins AFTER INSERT ON role_permissions
WHEN (SELECT org_id FROM roles WHERE id = NEW.role_id) IS NOT NULL BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    SELECT r.org_id, COALESCE(o.revision, 0), 'role', r.id, CAST(strftime('%s', 'now') AS INTEGER)
    FROM roles r JOIN organizations o ON o.id = r.org_id WHERE r.id = NEW.role_id;
END;
CREATE TRIGGER ec_role_permissions_del AFTER DELETE ON role_permissions
WHEN (SELECT org_id FROM roles WHERE id = OLD.role_id) IS NOT NULL BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    SELECT r.org_id, COALESCE(o.revision, 0), 'role', r.id, CAST(strftime('%s', 'now') AS INTEGER)
    FROM roles r JOIN organizations o ON o.id = r.org_id WHERE r.id = OLD.role_id;
END;

CREATE TRIGGER ec_projects_ins AFTER INSERT ON projects BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'project', NEW.id, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER ec_projects_upd AFTER UPDATE OF archived_at ON projects BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'project', NEW.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

CREATE TRIGGER ec_permissions_ins AFTER INSERT ON permissions WHEN NEW.org_id IS NOT NULL BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'permissions', NEW.name, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER ec_permissions_del AFTER DELETE ON permissions WHEN OLD.org_id IS NOT NULL BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (OLD.org_id, COALESCE((SELECT revision FROM organizations WHERE id = OLD.org_id), 0), 'permissions', OLD.name, CAST(strftime('%s', 'now') AS INTEGER));
END;

CREATE TRIGGER ec_api_keys_del AFTER DELETE ON api_keys BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (OLD.org_id, COALESCE((SELECT revision FROM organizations WHERE id = OLD.org_id), 0), 'key', OLD.id, CAST(strftime('%s', 'now') AS INTEGER));
END;
