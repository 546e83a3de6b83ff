-- A role assignment is unique per organization: (organization, principal, role, scope). The
-- index of 0001 left the organization out, so a person who is a member of two organizations
-- could not hold the same system role (or any shared role) in both: provisioning them into
-- the second one with the base role they hold in the first broke the unique index.
DROP INDEX role_assignments_unique;
CREATE UNIQUE INDEX role_assignments_unique
    ON role_assignments (org_id, principal_id, role_id, COALESCE(project_id, ''));
