-- One person in many organizations. System role ids and user ids are shared by every
-- organization, so a uniqueness of (principal, role, project) without the organization made a
-- person's second membership with the same role collide with the first. The unique key of an
-- assignment is (organization, principal, role, project); the base-role key leads with the
-- organization too. Rebuilding the two indexes reads every assignment once.
DROP INDEX role_assignments_unique;
CREATE UNIQUE INDEX role_assignments_unique
    ON role_assignments (org_id, principal_id, role_id, COALESCE(project_id, ''));
DROP INDEX role_assignments_base;
CREATE UNIQUE INDEX role_assignments_base
    ON role_assignments (org_id, principal_id, COALESCE(project_id, '')) WHERE is_base = 1;

-- The system roles' stored built-in sets follow the decided ones: admin reads admin API keys
-- (owner ⊇ admin ⊇ reader ⊇ member), member no longer asks permission checks about others.
INSERT INTO role_permissions (role_id, permission_id)
    VALUES ('role_00000000000000000000000002', 'perm_0000000000000000000000000F');
DELETE FROM role_permissions
    WHERE role_id = 'role_00000000000000000000000003' AND permission_id = 'perm_0000000000000000000000000K';
UPDATE roles
    SET description = 'Manages members, groups, projects and roles; cannot create or delete admin API keys.'
    WHERE id = 'role_00000000000000000000000002';
