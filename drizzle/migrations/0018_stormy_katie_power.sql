ALTER TABLE "response_rollups" DISABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP TABLE "response_rollups" CASCADE;--> statement-breakpoint
DROP INDEX "conversations_staff_chat_idx";--> statement-breakpoint
CREATE INDEX "users_brokers_idx" ON "users" USING btree ("branch_id","team_id") WHERE "users"."role" = 'broker';--> statement-breakpoint
CREATE INDEX "tasks_due_idx" ON "tasks" USING btree ("due_at");