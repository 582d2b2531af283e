-- Custom migration (prepared by `drizzle-kit generate --custom`): the database role the hub runs as in
-- production. Besides the triggers of 0002 (which bind every role, the owner included), the role simply
-- has no UPDATE, DELETE or TRUNCATE privilege on the append-only tables, and cannot disable triggers
-- because it does not own them. Migrations run as the owner; see docs/operations.md.
--
-- qiao_grant_app_role(role) applies the grants to any role (the migration applies them to `qiao_app`;
-- tests apply them to a throwaway role). Default privileges give the role plain DML on tables that later
-- migrations create; a later append-only table must revoke explicitly, as done here.
CREATE OR REPLACE FUNCTION qiao_grant_app_role(app_role text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', app_role);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I', app_role);
  EXECUTE format('GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO %I', app_role);
  EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I', app_role);
  EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO %I', app_role);
  -- Append-only: read and insert only.
  EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON archive_records, messages, audit_log FROM %I', app_role);
  EXECUTE format('GRANT SELECT, INSERT ON archive_records, messages, audit_log TO %I', app_role);
  EXECUTE format('GRANT EXECUTE ON FUNCTION qiao_archive_guard(), qiao_append_only() TO %I', app_role);
END;
$$;
--> statement-breakpoint
DO $$
BEGIN
  -- Roles are cluster-wide: create it once, when the migrating user may; concurrent migrations of other
  -- databases on the same server may race to create it.
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'qiao_app')
     AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolcreaterole)) THEN
    BEGIN
      CREATE ROLE qiao_app NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;
    END;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'qiao_app') THEN
    PERFORM qiao_grant_app_role('qiao_app');
  ELSE
    RAISE NOTICE 'role qiao_app does not exist and % may not create it: see docs/operations.md', current_user;
  END IF;
END;
$$;
