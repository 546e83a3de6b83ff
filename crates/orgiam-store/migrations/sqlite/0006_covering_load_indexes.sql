-- A cold snapshot load reads all of an organization's assignments and group memberships
-- (crates/orgiam-store/src/engine_data.rs). With these indexes covering every column it
-- reads, that is one ordered range of index pages instead of an index range plus one table
-- lookup per row (most of a 100,000-member organization's load time on SQLite). The old
-- columns stay the leading ones, so every query that used the old indexes still can.
DROP INDEX role_assignments_org;
CREATE INDEX role_assignments_org
    ON role_assignments (org_id, principal_id, role_id, principal_type, project_id, expires_at);
DROP INDEX group_members_user;
CREATE INDEX group_members_user ON group_members (org_id, user_id, group_id);
