ALTER TABLE "approvals" ADD COLUMN "idempotency_key" text;--> statement-breakpoint
ALTER TABLE "approvals" ADD COLUMN "message_id" uuid;--> statement-breakpoint
ALTER TABLE "recommendations" ADD COLUMN "basis" text;--> statement-breakpoint
ALTER TABLE "recommendations" ADD COLUMN "approval_id" uuid;--> statement-breakpoint
ALTER TABLE "recommendations" ADD COLUMN "request_key" text;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "idempotency_key" text;--> statement-breakpoint
ALTER TABLE "recommendations" ADD CONSTRAINT "recommendations_approval_id_approvals_id_fk" FOREIGN KEY ("approval_id") REFERENCES "public"."approvals"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "approvals_status_idx" ON "approvals" USING btree ("status","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "approvals_idempotency_uq" ON "approvals" USING btree ("requested_by","idempotency_key");--> statement-breakpoint
CREATE INDEX "recommendations_broker_security_idx" ON "recommendations" USING btree ("broker_id","security","created_at");--> statement-breakpoint
CREATE INDEX "recommendations_approval_idx" ON "recommendations" USING btree ("approval_id");--> statement-breakpoint
CREATE UNIQUE INDEX "recommendations_request_key_uq" ON "recommendations" USING btree ("broker_id","request_key","client_id");--> statement-breakpoint
CREATE INDEX "tasks_manager_idx" ON "tasks" USING btree ("manager_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "tasks_idempotency_uq" ON "tasks" USING btree ("manager_id","idempotency_key");