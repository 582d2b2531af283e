ALTER TABLE "deliveries" DROP CONSTRAINT "deliveries_user_id_users_id_fk";
--> statement-breakpoint
ALTER TABLE "inbox_items" DROP CONSTRAINT "inbox_items_user_id_users_id_fk";
--> statement-breakpoint
DROP INDEX "deliveries_sms_user_idx";--> statement-breakpoint
CREATE INDEX "deliveries_sms_user_idx" ON "deliveries" USING btree ("user_id","sent_at") WHERE "deliveries"."transport" = 'sms' and "deliveries"."status" <> 'suppressed';