-- Custom migration (prepared by `drizzle-kit generate --custom`): triggers keep service_rollups (the
-- service-quality dashboards' per-broker day and month counts, src/store/schema/service.ts) in the
-- transaction of every change to the rows they count, so the rollups always equal a recount of them;
-- qiao_service_rollups_rebuild() recomputes them from the rows (after a load that bypassed triggers).
-- Days are Asia/Shanghai days. The response-time bins are those of src/domain/response-bins.ts
-- (test/integration/service-quality.test.ts checks both agree).

-- Bin (0–32) of a wait in whole seconds: bin 0 holds 0 s, bin i (EDGES[i-1], EDGES[i]], the last > 30 days.
CREATE OR REPLACE FUNCTION qiao_response_bin(seconds integer) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT width_bucket(seconds, ARRAY[1,11,21,31,46,61,91,121,181,241,301,421,601,901,1201,1801,2701,3601,5401,7201,10801,14401,21601,28801,43201,86401,172801,259201,345601,604801,1209601,2592001]::integer[])
$$;
--> statement-breakpoint
-- One wait in bin b of a packed histogram: 10^(9·b) (each bin a 9-digit field of one exact numeric).
CREATE OR REPLACE FUNCTION qiao_hist_unit(b integer) RETURNS numeric LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ('1' || repeat('0', 9 * b))::numeric
$$;
--> statement-breakpoint
-- One signed change to one broker's figures at one time (`at` null: the book, which belongs to no day):
-- +1 for a row that now counts, -1 for one that no longer does.
CREATE TYPE qiao_service_delta AS (
  broker_id uuid, at timestamptz, answered integer, trading_hist numeric, all_hist numeric,
  recs_sent integer, recs_refused integer, recs_held integer,
  tasks_on_time integer, tasks_late integer, tasks_open integer,
  followups_done integer, followups_open integer, complaints integer, surveys integer, survey_score integer,
  contacted integer, book integer
);
--> statement-breakpoint
-- Adds changes to the rows they fall in (the day and the month of `at`; the book to the broker's `all`
-- row): summed per row first, rows locked in one order (broker, grain, day), rows whose changes cancel
-- out left alone.
CREATE OR REPLACE FUNCTION qiao_service_apply(ds qiao_service_delta[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO service_rollups AS r (grain, day, broker_id, answered, trading_hist, all_hist, recs_sent, recs_refused, recs_held, tasks_on_time, tasks_late, tasks_open, followups_done, followups_open, complaints, surveys, survey_score, contacted, book)
  SELECT k.grain, k.day, d.broker_id, sum(d.answered)::integer, sum(d.trading_hist), sum(d.all_hist),
    sum(d.recs_sent)::integer, sum(d.recs_refused)::integer, sum(d.recs_held)::integer, sum(d.tasks_on_time)::integer, sum(d.tasks_late)::integer, sum(d.tasks_open)::integer, sum(d.followups_done)::integer, sum(d.followups_open)::integer, sum(d.complaints)::integer, sum(d.surveys)::integer, sum(d.survey_score)::integer, sum(d.contacted)::integer, sum(d.book)::integer
  FROM unnest(ds) d
  CROSS JOIN LATERAL (
    SELECT 'day' AS grain, (d.at AT TIME ZONE 'Asia/Shanghai')::date AS day WHERE d.at IS NOT NULL
    UNION ALL SELECT 'month', date_trunc('month', (d.at AT TIME ZONE 'Asia/Shanghai')::date)::date WHERE d.at IS NOT NULL
    UNION ALL SELECT 'all', DATE '1970-01-01' WHERE d.book <> 0) AS k
  WHERE d.broker_id IS NOT NULL
  GROUP BY d.broker_id, k.grain, k.day
  HAVING sum(d.answered) <> 0 OR sum(d.trading_hist) <> 0 OR sum(d.all_hist) <> 0 OR sum(d.recs_sent) <> 0 OR sum(d.recs_refused) <> 0 OR sum(d.recs_held) <> 0 OR sum(d.tasks_on_time) <> 0 OR sum(d.tasks_late) <> 0 OR sum(d.tasks_open) <> 0 OR sum(d.followups_done) <> 0 OR sum(d.followups_open) <> 0 OR sum(d.complaints) <> 0 OR sum(d.surveys) <> 0 OR sum(d.survey_score) <> 0 OR sum(d.contacted) <> 0 OR sum(d.book) <> 0
  ORDER BY d.broker_id, k.grain, k.day
  ON CONFLICT (grain, broker_id, day) DO UPDATE SET
    answered = r.answered + excluded.answered,
    trading_hist = r.trading_hist + excluded.trading_hist,
    all_hist = r.all_hist + excluded.all_hist,
    recs_sent = r.recs_sent + excluded.recs_sent,
    recs_refused = r.recs_refused + excluded.recs_refused,
    recs_held = r.recs_held + excluded.recs_held,
    tasks_on_time = r.tasks_on_time + excluded.tasks_on_time,
    tasks_late = r.tasks_late + excluded.tasks_late,
    tasks_open = r.tasks_open + excluded.tasks_open,
    followups_done = r.followups_done + excluded.followups_done,
    followups_open = r.followups_open + excluded.followups_open,
    complaints = r.complaints + excluded.complaints,
    surveys = r.surveys + excluded.surveys,
    survey_score = r.survey_score + excluded.survey_score,
    contacted = r.contacted + excluded.contacted,
    book = r.book + excluded.book;
END;
$$;
--> statement-breakpoint
-- What each kind of row counts for, with sign s.
CREATE OR REPLACE FUNCTION qiao_delta_episode(e response_episodes, s integer) RETURNS qiao_service_delta LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW(e.broker_id, e.answered_at, s, s * qiao_hist_unit(qiao_response_bin(e.trading_seconds)), s * qiao_hist_unit(qiao_response_bin(e.all_seconds)), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)::qiao_service_delta
$$;
--> statement-breakpoint
-- Sent: delivered or being delivered; refused by suitability; held: went to compliance approval.
CREATE OR REPLACE FUNCTION qiao_delta_recommendation(r recommendations, s integer) RETURNS qiao_service_delta LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW(r.broker_id, r.created_at, 0, 0, 0, s * (r.status IN ('sending', 'delivered'))::integer, s * (r.status = 'refused')::integer, s * (r.approval_id IS NOT NULL)::integer, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)::qiao_service_delta
$$;
--> statement-breakpoint
-- A task assignment at its task's due time: done by then, done after it, or not done yet.
CREATE OR REPLACE FUNCTION qiao_delta_task(a task_assignments, due timestamptz, s integer) RETURNS qiao_service_delta LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW(a.broker_id, due, 0, 0, 0, 0, 0, 0, s * (a.done_at IS NOT NULL AND a.done_at <= due)::integer, s * (a.done_at IS NOT NULL AND a.done_at > due)::integer, s * (a.done_at IS NULL)::integer, 0, 0, 0, 0, 0, 0, 0)::qiao_service_delta
$$;
--> statement-breakpoint
-- A follow-up at its due time: done, or still open (cancelled ones count for nothing).
CREATE OR REPLACE FUNCTION qiao_delta_followup(f followups, s integer) RETURNS qiao_service_delta LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW(f.broker_id, f.due_at, 0, 0, 0, 0, 0, 0, 0, 0, 0, s * (f.state = 'done')::integer, s * (f.state = 'open')::integer, 0, 0, 0, 0, 0)::qiao_service_delta
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION qiao_delta_complaint(c complaints, s integer) RETURNS qiao_service_delta LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW(c.broker_id, c.created_at, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, s, 0, 0, 0, 0)::qiao_service_delta
$$;
--> statement-breakpoint
-- A survey when it was answered (with a score); an unanswered one counts for nothing.
CREATE OR REPLACE FUNCTION qiao_delta_survey(v surveys, s integer) RETURNS qiao_service_delta LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW(v.broker_id, CASE WHEN v.score IS NOT NULL THEN v.answered_at END, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, s, s * coalesce(v.score, 0), 0, 0)::qiao_service_delta
$$;
--> statement-breakpoint
-- A client of a broker's book counted on the day of the latest staff chat in their conversation (none:
-- nothing). Callers count only primary pairs: a conversation's change asks broker_clients, a
-- broker_clients change knows it from its own row.
CREATE OR REPLACE FUNCTION qiao_delta_contact(broker uuid, at timestamptz, s integer) RETURNS qiao_service_delta LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW(broker, at, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, s, 0)::qiao_service_delta
$$;
--> statement-breakpoint
-- A primary client in (or out of) the broker's book.
CREATE OR REPLACE FUNCTION qiao_delta_book(broker uuid, s integer) RETURNS qiao_service_delta LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW(broker, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, s)::qiao_service_delta
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION qiao_is_primary(broker uuid, client uuid) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM broker_clients bc WHERE bc.broker_id = broker AND bc.client_id = client AND bc.relation = 'primary')
$$;
--> statement-breakpoint
-- The latest staff chat of a (broker, client) conversation.
CREATE OR REPLACE FUNCTION qiao_last_staff_chat(broker uuid, client uuid) RETURNS timestamptz LANGUAGE sql STABLE AS $$
  SELECT c.last_staff_chat_at FROM conversations c WHERE c.type = 'broker_client' AND c.broker_id = broker AND c.client_id = client
$$;
--> statement-breakpoint
-- Statement-level triggers read the changed rows from transition tables (one trigger per event: a
-- trigger with transition tables fires on one event only).
CREATE OR REPLACE FUNCTION qiao_rollup_episode() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM qiao_service_apply(ARRAY(SELECT qiao_delta_episode(n, 1) FROM new_rows n));
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM qiao_service_apply(ARRAY(SELECT qiao_delta_episode(o, -1) FROM old_rows o));
  ELSE
    PERFORM qiao_service_apply(ARRAY(SELECT qiao_delta_episode(o, -1) FROM old_rows o
      UNION ALL SELECT qiao_delta_episode(n, 1) FROM new_rows n));
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER response_episodes_rollup_insert AFTER INSERT ON response_episodes REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION qiao_rollup_episode();
--> statement-breakpoint
CREATE TRIGGER response_episodes_rollup_update AFTER UPDATE ON response_episodes REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION qiao_rollup_episode();
--> statement-breakpoint
CREATE TRIGGER response_episodes_rollup_delete AFTER DELETE ON response_episodes REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION qiao_rollup_episode();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION qiao_rollup_recommendation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM qiao_service_apply(ARRAY(SELECT qiao_delta_recommendation(n, 1) FROM new_rows n));
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM qiao_service_apply(ARRAY(SELECT qiao_delta_recommendation(o, -1) FROM old_rows o));
  ELSE
    PERFORM qiao_service_apply(ARRAY(SELECT qiao_delta_recommendation(o, -1) FROM old_rows o
      UNION ALL SELECT qiao_delta_recommendation(n, 1) FROM new_rows n));
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER recommendations_rollup_insert AFTER INSERT ON recommendations REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION qiao_rollup_recommendation();
--> statement-breakpoint
CREATE TRIGGER recommendations_rollup_update AFTER UPDATE ON recommendations REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION qiao_rollup_recommendation();
--> statement-breakpoint
CREATE TRIGGER recommendations_rollup_delete AFTER DELETE ON recommendations REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION qiao_rollup_recommendation();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION qiao_rollup_followup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM qiao_service_apply(ARRAY(SELECT qiao_delta_followup(n, 1) FROM new_rows n));
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM qiao_service_apply(ARRAY(SELECT qiao_delta_followup(o, -1) FROM old_rows o));
  ELSE
    PERFORM qiao_service_apply(ARRAY(SELECT qiao_delta_followup(o, -1) FROM old_rows o
      UNION ALL SELECT qiao_delta_followup(n, 1) FROM new_rows n));
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER followups_rollup_insert AFTER INSERT ON followups REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION qiao_rollup_followup();
--> statement-breakpoint
CREATE TRIGGER followups_rollup_update AFTER UPDATE ON followups REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION qiao_rollup_followup();
--> statement-breakpoint
CREATE TRIGGER followups_rollup_delete AFTER DELETE ON followups REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION qiao_rollup_followup();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION qiao_rollup_complaint() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM qiao_service_apply(ARRAY(SELECT qiao_delta_complaint(n, 1) FROM new_rows n));
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM qiao_service_apply(ARRAY(SELECT qiao_delta_complaint(o, -1) FROM old_rows o));
  ELSE
    PERFORM qiao_service_apply(ARRAY(SELECT qiao_delta_complaint(o, -1) FROM old_rows o
      UNION ALL SELECT qiao_delta_complaint(n, 1) FROM new_rows n));
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER complaints_rollup_insert AFTER INSERT ON complaints REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION qiao_rollup_complaint();
--> statement-breakpoint
CREATE TRIGGER complaints_rollup_update AFTER UPDATE ON complaints REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION qiao_rollup_complaint();
--> statement-breakpoint
CREATE TRIGGER complaints_rollup_delete AFTER DELETE ON complaints REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION qiao_rollup_complaint();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION qiao_rollup_survey() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM qiao_service_apply(ARRAY(SELECT qiao_delta_survey(n, 1) FROM new_rows n));
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM qiao_service_apply(ARRAY(SELECT qiao_delta_survey(o, -1) FROM old_rows o));
  ELSE
    PERFORM qiao_service_apply(ARRAY(SELECT qiao_delta_survey(o, -1) FROM old_rows o
      UNION ALL SELECT qiao_delta_survey(n, 1) FROM new_rows n));
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER surveys_rollup_insert AFTER INSERT ON surveys REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION qiao_rollup_survey();
--> statement-breakpoint
CREATE TRIGGER surveys_rollup_update AFTER UPDATE ON surveys REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION qiao_rollup_survey();
--> statement-breakpoint
CREATE TRIGGER surveys_rollup_delete AFTER DELETE ON surveys REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION qiao_rollup_survey();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION qiao_rollup_task() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM qiao_service_apply(ARRAY(SELECT qiao_delta_task(n, (SELECT t.due_at FROM tasks t WHERE t.id = n.task_id), 1) FROM new_rows n));
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM qiao_service_apply(ARRAY(SELECT qiao_delta_task(o, (SELECT t.due_at FROM tasks t WHERE t.id = o.task_id), -1) FROM old_rows o));
  ELSE
    PERFORM qiao_service_apply(ARRAY(SELECT qiao_delta_task(o, (SELECT t.due_at FROM tasks t WHERE t.id = o.task_id), -1) FROM old_rows o
      UNION ALL SELECT qiao_delta_task(n, (SELECT t.due_at FROM tasks t WHERE t.id = n.task_id), 1) FROM new_rows n));
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER task_assignments_rollup_insert AFTER INSERT ON task_assignments REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION qiao_rollup_task();
--> statement-breakpoint
CREATE TRIGGER task_assignments_rollup_update AFTER UPDATE ON task_assignments REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION qiao_rollup_task();
--> statement-breakpoint
CREATE TRIGGER task_assignments_rollup_delete AFTER DELETE ON task_assignments REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION qiao_rollup_task();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION qiao_rollup_book() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM qiao_service_apply(ARRAY(SELECT qiao_delta_book(n.broker_id, 1) FROM new_rows n WHERE n.relation = 'primary'
      UNION ALL SELECT qiao_delta_contact(n.broker_id, qiao_last_staff_chat(n.broker_id, n.client_id), 1) FROM new_rows n WHERE n.relation = 'primary'));
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM qiao_service_apply(ARRAY(SELECT qiao_delta_book(o.broker_id, -1) FROM old_rows o WHERE o.relation = 'primary'
      UNION ALL SELECT qiao_delta_contact(o.broker_id, qiao_last_staff_chat(o.broker_id, o.client_id), -1) FROM old_rows o WHERE o.relation = 'primary'));
  ELSE
    PERFORM qiao_service_apply(ARRAY(SELECT qiao_delta_book(o.broker_id, -1) FROM old_rows o WHERE o.relation = 'primary'
      UNION ALL SELECT qiao_delta_contact(o.broker_id, qiao_last_staff_chat(o.broker_id, o.client_id), -1) FROM old_rows o WHERE o.relation = 'primary'
      UNION ALL SELECT qiao_delta_book(n.broker_id, 1) FROM new_rows n WHERE n.relation = 'primary'
      UNION ALL SELECT qiao_delta_contact(n.broker_id, qiao_last_staff_chat(n.broker_id, n.client_id), 1) FROM new_rows n WHERE n.relation = 'primary'));
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER broker_clients_rollup_insert AFTER INSERT ON broker_clients REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION qiao_rollup_book();
--> statement-breakpoint
CREATE TRIGGER broker_clients_rollup_update AFTER UPDATE ON broker_clients REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION qiao_rollup_book();
--> statement-breakpoint
CREATE TRIGGER broker_clients_rollup_delete AFTER DELETE ON broker_clients REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION qiao_rollup_book();
--> statement-breakpoint
-- A task moved to another due time moves its assignments with it.
CREATE OR REPLACE FUNCTION qiao_rollup_task_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM qiao_service_apply(ARRAY(
    SELECT qiao_delta_task(a, o.due_at, -1) FROM old_rows o JOIN new_rows n ON n.id = o.id JOIN task_assignments a ON a.task_id = o.id
      WHERE o.due_at IS DISTINCT FROM n.due_at
    UNION ALL
    SELECT qiao_delta_task(a, n.due_at, 1) FROM old_rows o JOIN new_rows n ON n.id = o.id JOIN task_assignments a ON a.task_id = n.id
      WHERE o.due_at IS DISTINCT FROM n.due_at));
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER tasks_rollup_due AFTER UPDATE ON tasks REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION qiao_rollup_task_due();
--> statement-breakpoint
-- A conversation's latest staff chat moving to another day (or the conversation to another broker):
-- row-level, and only then (WHEN), since every chat message updates the conversation row.
CREATE OR REPLACE FUNCTION qiao_rollup_conversation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM qiao_service_apply(ARRAY[
    CASE WHEN TG_OP <> 'INSERT' AND OLD.type = 'broker_client' AND qiao_is_primary(OLD.broker_id, OLD.client_id)
      THEN qiao_delta_contact(OLD.broker_id, OLD.last_staff_chat_at, -1) END,
    CASE WHEN TG_OP <> 'DELETE' AND NEW.type = 'broker_client' AND qiao_is_primary(NEW.broker_id, NEW.client_id)
      THEN qiao_delta_contact(NEW.broker_id, NEW.last_staff_chat_at, 1) END]);
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER conversations_rollup_insert AFTER INSERT ON conversations FOR EACH ROW
  WHEN (NEW.type = 'broker_client' AND NEW.last_staff_chat_at IS NOT NULL) EXECUTE FUNCTION qiao_rollup_conversation();
--> statement-breakpoint
CREATE TRIGGER conversations_rollup_delete AFTER DELETE ON conversations FOR EACH ROW
  WHEN (OLD.type = 'broker_client' AND OLD.last_staff_chat_at IS NOT NULL) EXECUTE FUNCTION qiao_rollup_conversation();
--> statement-breakpoint
CREATE TRIGGER conversations_rollup_update AFTER UPDATE OF last_staff_chat_at, broker_id, client_id, type ON conversations FOR EACH ROW
  WHEN ((OLD.last_staff_chat_at AT TIME ZONE 'Asia/Shanghai')::date IS DISTINCT FROM (NEW.last_staff_chat_at AT TIME ZONE 'Asia/Shanghai')::date
        OR OLD.broker_id IS DISTINCT FROM NEW.broker_id OR OLD.client_id IS DISTINCT FROM NEW.client_id OR OLD.type IS DISTINCT FROM NEW.type)
  EXECUTE FUNCTION qiao_rollup_conversation();
--> statement-breakpoint
-- Every rollup row recomputed from the rows, one broker at a time (bounded memory), in one transaction.
CREATE OR REPLACE FUNCTION qiao_service_rollups_rebuild() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  b uuid;
BEGIN
  DELETE FROM service_rollups;
  FOR b IN SELECT id FROM users WHERE role = 'broker' ORDER BY id LOOP
    PERFORM qiao_service_apply(ARRAY(
      SELECT qiao_delta_episode(e, 1) FROM response_episodes e WHERE e.broker_id = b
      UNION ALL SELECT qiao_delta_recommendation(r, 1) FROM recommendations r WHERE r.broker_id = b
      UNION ALL SELECT qiao_delta_task(a, t.due_at, 1) FROM task_assignments a JOIN tasks t ON t.id = a.task_id WHERE a.broker_id = b
      UNION ALL SELECT qiao_delta_followup(f, 1) FROM followups f WHERE f.broker_id = b
      UNION ALL SELECT qiao_delta_complaint(c, 1) FROM complaints c WHERE c.broker_id = b
      UNION ALL SELECT qiao_delta_survey(v, 1) FROM surveys v WHERE v.broker_id = b
      UNION ALL SELECT qiao_delta_book(bc.broker_id, 1) FROM broker_clients bc WHERE bc.broker_id = b AND bc.relation = 'primary'
      UNION ALL SELECT qiao_delta_contact(bc.broker_id, c.last_staff_chat_at, 1) FROM broker_clients bc
        JOIN conversations c ON c.type = 'broker_client' AND c.broker_id = bc.broker_id AND c.client_id = bc.client_id
        WHERE bc.broker_id = b AND bc.relation = 'primary'));
  END LOOP;
END;
$$;
--> statement-breakpoint
-- Rows stored before this migration.
SELECT qiao_service_rollups_rebuild();
