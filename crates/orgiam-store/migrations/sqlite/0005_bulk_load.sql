-- Bulk loads skip the change log. A loader inserts a row into `bulk_load` inside its own
-- transaction and deletes it before committing: the triggers below see it only from that
-- transaction (no other connection ever sees an uncommitted row), so no concurrent ordinary
-- write can skip the log. The triggers of 0003 are recreated with that one condition added.

CREATE TABLE bulk_load (marker INTEGER PRIMARY KEY);

DROP TRIGGER ec_memberships_ins;
CREATE TRIGGER ec_memberships_ins AFTER INSERT ON memberships
WHEN NOT EXISTS (SELECT 1 FROM bulk_load) BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'user', NEW.user_id, CAST(strftime('%s', 'now') AS INTEGER));
END;

DROP TRIGGER ec_memberships_del;
CREATE TRIGGER ec_memberships_del AFTER DELETE ON memberships
WHEN NOT EXISTS (SELECT 1 FROM bulk_load) BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (OLD.org_id, COALESCE((SELECT revision FROM organizations WHERE id = OLD.org_id), 0), 'user', OLD.user_id, CAST(strftime('%s', 'now') AS INTEGER));
END;

DROP TRIGGER ec_assignments_ins;
CREATE TRIGGER ec_assignments_ins AFTER INSERT ON role_assignments
WHEN NOT EXISTS (SELECT 1 FROM bulk_load) BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), NEW.principal_type, NEW.principal_id, CAST(strftime('%s', 'now') AS INTEGER));
END;

DROP TRIGGER ec_assignments_upd;
CREATE TRIGGER ec_assignments_upd AFTER UPDATE ON role_assignments
WHEN NOT EXISTS (SELECT 1 FROM bulk_load) BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), NEW.principal_type, NEW.principal_id, CAST(strftime('%s', 'now') AS INTEGER));
END;

DROP TRIGGER ec_assignments_del;
CREATE TRIGGER ec_assignments_del AFTER DELETE ON role_assignments
WHEN NOT EXISTS (SELECT 1 FROM bulk_load) BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (OLD.org_id, COALESCE((SELECT revision FROM organizations WHERE id = OLD.org_id), 0), OLD.principal_type, OLD.principal_id, CAST(strftime('%s', 'now') AS INTEGER));
END;

DROP TRIGGER ec_group_members_ins;
CREATE TRIGGER ec_group_members_ins AFTER INSERT ON group_members
WHEN NOT EXISTS (SELECT 1 FROM bulk_load) BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'user', NEW.user_id, CAST(strftime('%s', 'now') AS INTEGER)),
           (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'group', NEW.group_id, CAST(strftime('%s', 'now') AS INTEGER));
END;

DROP TRIGGER ec_group_members_del;
CREATE TRIGGER ec_group_members_del AFTER DELETE ON group_members
WHEN NOT EXISTS (SELECT 1 FROM bulk_load) BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (OLD.org_id, COALESCE((SELECT revision FROM organizations WHERE id = OLD.org_id), 0), 'user', OLD.user_id, CAST(strftime('%s', 'now') AS INTEGER)),
           (OLD.org_id, COALESCE((SELECT revision FROM organizations WHERE id = OLD.org_id), 0), 'group', OLD.group_id, CAST(strftime('%s', 'now') AS INTEGER));
END;

DROP TRIGGER ec_groups_ins;
CREATE TRIGGER ec_groups_ins AFTER INSERT ON org_groups
WHEN NOT EXISTS (SELECT 1 FROM bulk_load) BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'group', NEW.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

DROP TRIGGER ec_groups_del;
CREATE TRIGGER ec_groups_del AFTER DELETE ON org_groups
WHEN NOT EXISTS (SELECT 1 FROM bulk_load) BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (OLD.org_id, COALESCE((SELECT revision FROM organizations WHERE id = OLD.org_id), 0), 'group', OLD.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

DROP TRIGGER ec_roles_ins;
CREATE TRIGGER ec_roles_ins AFTER INSERT ON roles WHEN NEW.org_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM bulk_load) BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'role', NEW.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

DROP TRIGGER ec_roles_upd;
CREATE TRIGGER ec_roles_upd AFTER UPDATE ON roles WHEN NEW.org_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM bulk_load) BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'role', NEW.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

DROP TRIGGER ec_roles_del;
CREATE TRIGGER ec_roles_del AFTER DELETE ON roles WHEN OLD.org_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM bulk_load) BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (OLD.org_id, COALESCE((SELECT revision FROM organizations WHERE id = OLD.org_id), 0), 'role', OLD.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

DROP TRIGGER ec_role_permissions_ins;
CREATE TRIGGER ec_role_permissions_ins AFTER INSERT ON role_permissions
WHEN NOT EXISTS (SELECT 1 FROM bulk_load)
    AND (SELECT org_id FROM roles WHERE id = NEW.role_id) IS NOT NULL BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    SELECT r.org_id, COALESCE(o.revision, 0), 'role', r.id, CAST(strftime('%s', 'now') AS INTEGER)
    FROM roles r JOIN organizations o ON o.id = r.org_id WHERE r.id = NEW.role_id;
END;

DROP TRIGGER ec_role_permissions_del;
CREATE TRIGGER ec_role_permissions_del AFTER DELETE ON role_permissions
WHEN NOT EXISTS (SELECT 1 FROM bulk_load)
    AND (SELECT org_id FROM roles WHERE id = OLD.role_id) IS NOT NULL BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    SELECT r.org_id, COALESCE(o.revision, 0), 'role', r.id, CAST(strftime('%s', 'now') AS INTEGER)
    FROM roles r JOIN organizations o ON o.id = r.org_id WHERE r.id = OLD.role_id;
END;

DROP TRIGGER ec_projects_ins;
CREATE TRIGGER ec_projects_ins AFTER INSERT ON projects
WHEN NOT EXISTS (SELECT 1 FROM bulk_load) BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'project', NEW.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

DROP TRIGGER ec_projects_upd;
CREATE TRIGGER ec_projects_upd AFTER UPDATE OF archived_at ON projects
WHEN NOT EXISTS (SELECT 1 FROM bulk_load) BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'project', NEW.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

DROP TRIGGER ec_permissions_ins;
CREATE TRIGGER ec_permissions_ins AFTER INSERT ON permissions WHEN NEW.org_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM bulk_load) BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'permissions', NEW.name, CAST(strftime('%s', 'now') AS INTEGER));
END;

DROP TRIGGER ec_permissions_del;
CREATE TRIGGER ec_permissions_del AFTER DELETE ON permissions WHEN OLD.org_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM bulk_load) BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (OLD.org_id, COALESCE((SELECT revision FROM organizations WHERE id = OLD.org_id), 0), 'permissions', OLD.name, CAST(strftime('%s', 'now') AS INTEGER));
END;

DROP TRIGGER ec_api_keys_del;
CREATE TRIGGER ec_api_keys_del AFTER DELETE ON api_keys
WHEN NOT EXISTS (SELECT 1 FROM bulk_load) BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (OLD.org_id, COALESCE((SELECT revision FROM organizations WHERE id = OLD.org_id), 0), 'key', OLD.id, CAST(strftime('%s', 'now') AS INTEGER));
END;
