DROP INDEX "subscriptions_channel_idx";--> statement-breakpoint
CREATE INDEX "subscriptions_channel_user_idx" ON "subscriptions" USING btree ("channel","user_id");