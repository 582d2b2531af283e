ALTER TABLE "conversation_reads" ADD COLUMN "unread" integer;--> statement-breakpoint
ALTER TABLE "conversations" ADD COLUMN "waiting_since" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "conversations" ADD COLUMN "waiting_known" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX "messages_ref_idx" ON "messages" USING btree ("channel",("payload"->>'ref'),"offset") WHERE "messages"."kind" in ('chat.edit', 'chat.recall');