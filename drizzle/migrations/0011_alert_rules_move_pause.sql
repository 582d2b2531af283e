ALTER TABLE "alert_rules" ADD COLUMN "percent" double precision;--> statement-breakpoint
ALTER TABLE "alert_rules" ADD COLUMN "paused_at" timestamp with time zone;