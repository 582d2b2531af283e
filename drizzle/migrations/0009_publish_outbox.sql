CREATE TABLE "publish_outbox" (
	"channel" text NOT NULL,
	"offset" bigint NOT NULL,
	"message_id" uuid NOT NULL,
	"family" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "publish_outbox_channel_offset_pk" PRIMARY KEY("channel","offset")
);
--> statement-breakpoint
CREATE INDEX "publish_outbox_created_idx" ON "publish_outbox" USING btree ("created_at");