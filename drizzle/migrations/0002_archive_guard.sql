-- Custom migration (prepared by `drizzle-kit generate --custom`): the archive guard cannot be
-- expressed in the drizzle schema. It makes archive_records append-only in the database itself:
-- no UPDATE, no TRUNCATE, and no DELETE of a record under retention or legal hold, whoever asks.
CREATE OR REPLACE FUNCTION qiao_archive_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    RAISE EXCEPTION 'archive_records is append-only: UPDATE refused' USING ERRCODE = '42501';
  ELSIF TG_OP = 'TRUNCATE' THEN
    RAISE EXCEPTION 'archive_records is append-only: TRUNCATE refused' USING ERRCODE = '42501';
  ELSIF TG_OP = 'DELETE' THEN
    IF OLD.retain_until > now() THEN
      RAISE EXCEPTION 'archive record % is under retention until %', OLD.seq, OLD.retain_until USING ERRCODE = '42501';
    END IF;
    IF EXISTS (
      SELECT 1 FROM legal_holds h
      WHERE h.released_at IS NULL
        AND ((h.subject_id IS NOT NULL AND h.subject_id = ANY (OLD.subjects))
          OR (h.conversation_id IS NOT NULL AND h.conversation_id = OLD.conversation_id))
    ) THEN
      RAISE EXCEPTION 'archive record % is under legal hold', OLD.seq USING ERRCODE = '42501';
    END IF;
    RETURN OLD;
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER archive_records_guard_row BEFORE UPDATE OR DELETE ON archive_records
  FOR EACH ROW EXECUTE FUNCTION qiao_archive_guard();
--> statement-breakpoint
CREATE TRIGGER archive_records_guard_truncate BEFORE TRUNCATE ON archive_records
  FOR EACH STATEMENT EXECUTE FUNCTION qiao_archive_guard();
--> statement-breakpoint
-- The messages log is append-only as well (retention purges go through the archive).
CREATE OR REPLACE FUNCTION qiao_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = '42501';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER messages_append_only BEFORE UPDATE OR DELETE ON messages
  FOR EACH ROW EXECUTE FUNCTION qiao_append_only();
