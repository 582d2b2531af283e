ALTER TABLE "deliveries" ADD COLUMN "provider_ids" text[];--> statement-breakpoint
ALTER TABLE "deliveries" ADD COLUMN "sent_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "deliveries_provider_ids_idx" ON "deliveries" USING gin ("provider_ids") WHERE "deliveries"."provider_ids" is not null;--> statement-breakpoint
CREATE INDEX "deliveries_sms_user_idx" ON "deliveries" USING btree ("user_id","sent_at") WHERE "deliveries"."transport" = 'sms';