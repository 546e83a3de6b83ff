-- Bulk loads skip the change log. A loader runs `SET LOCAL orgiam.bulk_load = 'on'` in its own
-- transaction: the setting ends with that transaction and is never seen by another session, so
-- no concurrent ordinary write can skip the log. The change-log triggers of 0003 are recreated
-- with a WHEN condition, which PostgreSQL tests before calling the function at all.

DROP TRIGGER ec_memberships_ins ON memberships;
CREATE TRIGGER ec_memberships_ins AFTER INSERT ON memberships
    FOR EACH ROW WHEN (COALESCE(current_setting('orgiam.bulk_load', true), '') <> 'on')
    EXECUTE FUNCTION ec_memberships_ins_fn();

DROP TRIGGER ec_memberships_del ON memberships;
CREATE TRIGGER ec_memberships_del AFTER DELETE ON memberships
    FOR EACH ROW WHEN (COALESCE(current_setting('orgiam.bulk_load', true), '') <> 'on')
    EXECUTE FUNCTION ec_memberships_del_fn();

DROP TRIGGER ec_assignments_ins ON role_assignments;
CREATE TRIGGER ec_assignments_ins AFTER INSERT ON role_assignments
    FOR EACH ROW WHEN (COALESCE(current_setting('orgiam.bulk_load', true), '') <> 'on')
    EXECUTE FUNCTION ec_assignments_ins_fn();

DROP TRIGGER ec_assignments_upd ON role_assignments;
CREATE TRIGGER ec_assignments_upd AFTER UPDATE ON role_assignments
    FOR EACH ROW WHEN (COALESCE(current_setting('orgiam.bulk_load', true), '') <> 'on')
    EXECUTE FUNCTION ec_assignments_upd_fn();

DROP TRIGGER ec_assignments_del ON role_assignments;
CREATE TRIGGER ec_assignments_del AFTER DELETE ON role_assignments
    FOR EACH ROW WHEN (COALESCE(current_setting('orgiam.bulk_load', true), '') <> 'on')
    EXECUTE FUNCTION ec_assignments_del_fn();

DROP TRIGGER ec_group_members_ins ON group_members;
CREATE TRIGGER ec_group_members_ins AFTER INSERT ON group_members
    FOR EACH ROW WHEN (COALESCE(current_setting('orgiam.bulk_load', true), '') <> 'on')
    EXECUTE FUNCTION ec_group_members_ins_fn();

DROP TRIGGER ec_group_members_del ON group_members;
CREATE TRIGGER ec_group_members_del AFTER DELETE ON group_members
    FOR EACH ROW WHEN (COALESCE(current_setting('orgiam.bulk_load', true), '') <> 'on')
    EXECUTE FUNCTION ec_group_members_del_fn();

DROP TRIGGER ec_groups_ins ON org_groups;
CREATE TRIGGER ec_groups_ins AFTER INSERT ON org_groups
    FOR EACH ROW WHEN (COALESCE(current_setting('orgiam.bulk_load', true), '') <> 'on')
    EXECUTE FUNCTION ec_groups_ins_fn();

DROP TRIGGER ec_groups_del ON org_groups;
CREATE TRIGGER ec_groups_del AFTER DELETE ON org_groups
    FOR EACH ROW WHEN (COALESCE(current_setting('orgiam.bulk_load', true), '') <> 'on')
    EXECUTE FUNCTION ec_groups_del_fn();

DROP TRIGGER ec_roles_ins ON roles;
CREATE TRIGGER ec_roles_ins AFTER INSERT ON roles
    FOR EACH ROW WHEN (COALESCE(current_setting('orgiam.bulk_load', true), '') <> 'on')
    EXECUTE FUNCTION ec_roles_ins_fn();

DROP TRIGGER ec_roles_upd ON roles;
CREATE TRIGGER ec_roles_upd AFTER UPDATE ON roles
    FOR EACH ROW WHEN (COALESCE(current_setting('orgiam.bulk_load', true), '') <> 'on')
    EXECUTE FUNCTION ec_roles_upd_fn();

DROP TRIGGER ec_roles_del ON roles;
CREATE TRIGGER ec_roles_del AFTER DELETE ON roles
    FOR EACH ROW WHEN (COALESCE(current_setting('orgiam.bulk_load', true), '') <> 'on')
    EXECUTE FUNCTION ec_roles_del_fn();

DROP TRIGGER ec_role_permissions_ins ON role_permissions;
CREATE TRIGGER ec_role_permissions_ins AFTER INSERT ON role_permissions
    FOR EACH ROW WHEN (COALESCE(current_setting('orgiam.bulk_load', true), '') <> 'on')
    EXECUTE FUNCTION ec_role_permissions_ins_fn();

DROP TRIGGER ec_role_permissions_del ON role_permissions;
CREATE TRIGGER ec_role_permissions_del AFTER DELETE ON role_permissions
    FOR EACH ROW WHEN (COALESCE(current_setting('orgiam.bulk_load', true), '') <> 'on')
    EXECUTE FUNCTION ec_role_permissions_del_fn();

DROP TRIGGER ec_projects_ins ON projects;
CREATE TRIGGER ec_projects_ins AFTER INSERT ON projects
    FOR EACH ROW WHEN (COALESCE(current_setting('orgiam.bulk_load', true), '') <> 'on')
    EXECUTE FUNCTION ec_projects_ins_fn();

DROP TRIGGER ec_projects_upd ON projects;
CREATE TRIGGER ec_projects_upd AFTER UPDATE OF archived_at ON projects
    FOR EACH ROW WHEN (COALESCE(current_setting('orgiam.bulk_load', true), '') <> 'on')
    EXECUTE FUNCTION ec_projects_upd_fn();

DROP TRIGGER ec_permissions_ins ON permissions;
CREATE TRIGGER ec_permissions_ins AFTER INSERT ON permissions
    FOR EACH ROW WHEN (COALESCE(current_setting('orgiam.bulk_load', true), '') <> 'on')
    EXECUTE FUNCTION ec_permissions_ins_fn();

DROP TRIGGER ec_permissions_del ON permissions;
CREATE TRIGGER ec_permissions_del AFTER DELETE ON permissions
    FOR EACH ROW WHEN (COALESCE(current_setting('orgiam.bulk_load', true), '') <> 'on')
    EXECUTE FUNCTION ec_permissions_del_fn();

DROP TRIGGER ec_api_keys_del ON api_keys;
CREATE TRIGGER ec_api_keys_del AFTER DELETE ON api_keys
    FOR EACH ROW WHEN (COALESCE(current_setting('orgiam.bulk_load', true), '') <> 'on')
    EXECUTE FUNCTION ec_api_keys_del_fn();
