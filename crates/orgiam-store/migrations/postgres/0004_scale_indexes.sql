-- Indexes found missing by the query-plan test (crates/orgiam-server/tests/query_plans.rs).
-- The permission catalog is read as "built-in or this organization's own"
-- (org_id IS NULL OR org_id = $1); the unique index on (COALESCE(org_id, ''), name) cannot
-- serve that, so each read scanned every organization's permissions.
CREATE INDEX permissions_org ON permissions (org_id, name);
