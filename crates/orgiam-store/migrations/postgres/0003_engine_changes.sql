-- The change log the authorization engine follows: every row change that can alter a
-- permission decision or a key's validity records (organization, revision, kind, entity).
-- A process catches up by reloading only the entities changed since its snapshot's revision,
-- whichever process made the change. Filled by triggers, so no write path can forget it.

CREATE TABLE engine_changes (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id     TEXT NOT NULL,
    revision   BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX engine_changes_org ON engine_changes (org_id, revision);
CREATE INDEX engine_changes_age ON engine_changes (created_at);

-- Notifies other processes on the same database at commit: 'org_id:revision'.

CREATE FUNCTION orgiam_notify_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('orgiam_changes', NEW.id || ':' || NEW.revision);
    RETURN NULL;
END $$;
CREATE TRIGGER ec_organizations_notify AFTER UPDATE OF revision ON organizations
    FOR EACH ROW EXECUTE FUNCTION orgiam_notify_revision();

CREATE FUNCTION ec_memberships_ins_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'user', NEW.user_id, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT));
    RETURN NULL;
END $$;
CREATE TRIGGER ec_memberships_ins AFTER INSERT ON memberships
    FOR EACH ROW EXECUTE FUNCTION ec_memberships_ins_fn();

CREATE FUNCTION ec_memberships_del_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (OLD.org_id, COALESCE((SELECT revision FROM organizations WHERE id = OLD.org_id), 0), 'user', OLD.user_id, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT));
    RETURN NULL;
END $$;
CREATE TRIGGER ec_memberships_del AFTER DELETE ON memberships
    FOR EACH ROW EXECUTE FUNCTION ec_memberships_del_fn();

CREATE FUNCTION ec_assignments_ins_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), NEW.principal_type, NEW.principal_id, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT));
    RETURN NULL;
END $$;
CREATE TRIGGER ec_assignments_ins AFTER INSERT ON role_assignments
    FOR EACH ROW EXECUTE FUNCTION ec_assignments_ins_fn();

CREATE FUNCTION ec_assignments_upd_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), NEW.principal_type, NEW.principal_id, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT));
    RETURN NULL;
END $$;
CREATE TRIGGER ec_assignments_upd AFTER UPDATE ON role_assignments
    FOR EACH ROW EXECUTE FUNCTION ec_assignments_upd_fn();

CREATE FUNCTION ec_assignments_del_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (OLD.org_id, COALESCE((SELECT revision FROM organizations WHERE id = OLD.org_id), 0), OLD.principal_type, OLD.principal_id, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT));
    RETURN NULL;
END $$;
CREATE TRIGGER ec_assignments_del AFTER DELETE ON role_assignments
    FOR EACH ROW EXECUTE FUNCTION ec_assignments_del_fn();

CREATE FUNCTION ec_group_members_ins_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'user', NEW.user_id, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT)),
           (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'group', NEW.group_id, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT));
    RETURN NULL;
END $$;
CREATE TRIGGER ec_group_members_ins AFTER INSERT ON group_members
    FOR EACH ROW EXECUTE FUNCTION ec_group_members_ins_fn();

CREATE FUNCTION ec_group_members_del_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (OLD.org_id, COALESCE((SELECT revision FROM organizations WHERE id = OLD.org_id), 0), 'user', OLD.user_id, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT)),
           (OLD.org_id, COALESCE((SELECT revision FROM organizations WHERE id = OLD.org_id), 0), 'group', OLD.group_id, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT));
    RETURN NULL;
END $$;
CREATE TRIGGER ec_group_members_del AFTER DELETE ON group_members
    FOR EACH ROW EXECUTE FUNCTION ec_group_members_del_fn();

CREATE FUNCTION ec_groups_ins_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'group', NEW.id, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT));
    RETURN NULL;
END $$;
CREATE TRIGGER ec_groups_ins AFTER INSERT ON org_groups
    FOR EACH ROW EXECUTE FUNCTION ec_groups_ins_fn();

CREATE FUNCTION ec_groups_del_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (OLD.org_id, COALESCE((SELECT revision FROM organizations WHERE id = OLD.org_id), 0), 'group', OLD.id, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT));
    RETURN NULL;
END $$;
CREATE TRIGGER ec_groups_del AFTER DELETE ON org_groups
    FOR EACH ROW EXECUTE FUNCTION ec_groups_del_fn();

CREATE FUNCTION ec_roles_ins_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.org_id IS NOT NULL THEN
        INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'role', NEW.id, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER ec_roles_ins AFTER INSERT ON roles
    FOR EACH ROW EXECUTE FUNCTION ec_roles_ins_fn();

CREATE FUNCTION ec_roles_upd_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.org_id IS NOT NULL THEN
        INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'role', NEW.id, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER ec_roles_upd AFTER UPDATE ON roles
    FOR EACH ROW EXECUTE FUNCTION ec_roles_upd_fn();

CREATE FUNCTION ec_roles_del_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.org_id IS NOT NULL THEN
        INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (OLD.org_id, COALESCE((SELECT revision FROM organizations WHERE id = OLD.org_id), 0), 'role', OLD.id, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER ec_roles_del AFTER DELETE ON roles
    FOR EACH ROW EXECUTE FUNCTION ec_roles_del_fn();

CREATE FUNCTION ec_role_permissions_ins_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT org_id FROM roles WHERE id = NEW.role_id) IS NOT NULL THEN
        INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    SELECT r.org_id, COALESCE(o.revision, 0), 'role', r.id, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT)
    FROM roles r JOIN organizations o ON o.id = r.org_id WHERE r.id = NEW.role_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER ec_role_permissions_ins AFTER INSERT ON role_permissions
    FOR EACH ROW EXECUTE FUNCTION ec_role_permissions_ins_fn();

CREATE FUNCTION ec_role_permissions_del_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT org_id FROM roles WHERE id = OLD.role_id) IS NOT NULL THEN
        INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    SELECT r.org_id, COALESCE(o.revision, 0), 'role', r.id, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT)
    FROM roles r JOIN organizations o ON o.id = r.org_id WHERE r.id = OLD.role_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER ec_role_permissions_del AFTER DELETE ON role_permissions
    FOR EACH ROW EXECUTE FUNCTION ec_role_permissions_del_fn();

CREATE FUNCTION ec_projects_ins_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'project', NEW.id, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT));
    RETURN NULL;
END $$;
CREATE TRIGGER ec_projects_ins AFTER INSERT ON projects
    FOR EACH ROW EXECUTE FUNCTION ec_projects_ins_fn();

CREATE FUNCTION ec_projects_upd_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'project', NEW.id, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT));
    RETURN NULL;
END $$;
CREATE TRIGGER ec_projects_upd AFTER UPDATE OF archived_at ON projects
    FOR EACH ROW EXECUTE FUNCTION ec_projects_upd_fn();

CREATE FUNCTION ec_permissions_ins_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.org_id IS NOT NULL THEN
        INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (NEW.org_id, COALESCE((SELECT revision FROM organizations WHERE id = NEW.org_id), 0), 'permissions', NEW.name, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER ec_permissions_ins AFTER INSERT ON permissions
    FOR EACH ROW EXECUTE FUNCTION ec_permissions_ins_fn();

CREATE FUNCTION ec_permissions_del_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.org_id IS NOT NULL THEN
        INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (OLD.org_id, COALESCE((SELECT revision FROM organizations WHERE id = OLD.org_id), 0), 'permissions', OLD.name, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER ec_permissions_del AFTER DELETE ON permissions
    FOR EACH ROW EXECUTE FUNCTION ec_permissions_del_fn();

CREATE FUNCTION ec_api_keys_del_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO engine_changes (org_id, revision, kind, entity_id, created_at)
    VALUES (OLD.org_id, COALESCE((SELECT revision FROM organizations WHERE id = OLD.org_id), 0), 'key', OLD.id, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT));
    RETURN NULL;
END $$;
CREATE TRIGGER ec_api_keys_del AFTER DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION ec_api_keys_del_fn();
