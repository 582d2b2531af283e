CREATE TABLE "account_event_reads" (
	"user_id" uuid NOT NULL,
	"client_id" uuid NOT NULL,
	"seen_offset" bigint DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "account_event_reads_user_id_client_id_pk" PRIMARY KEY("user_id","client_id")
);
--> statement-breakpoint
CREATE TABLE "account_ingest_events" (
	"source" text NOT NULL,
	"event_id" text NOT NULL,
	"body" jsonb NOT NULL,
	"client_id" uuid NOT NULL,
	"message_id" uuid NOT NULL,
	"channel" text NOT NULL,
	"offset" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "account_ingest_events_source_event_id_pk" PRIMARY KEY("source","event_id")
);
--> statement-breakpoint
CREATE TABLE "corporate_action_reminders" (
	"action_id" uuid NOT NULL,
	"step" text NOT NULL,
	"deadline" date NOT NULL,
	"due_at" timestamp with time zone NOT NULL,
	"claimed_until" timestamp with time zone,
	"fired_at" timestamp with time zone,
	"sent" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "corporate_action_reminders_action_id_step_pk" PRIMARY KEY("action_id","step")
);
--> statement-breakpoint
CREATE TABLE "corporate_actions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"source" text NOT NULL,
	"event_id" text NOT NULL,
	"type" text NOT NULL,
	"symbol" text NOT NULL,
	"title" text NOT NULL,
	"dates" jsonb NOT NULL,
	"body" jsonb NOT NULL,
	"notified" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "positions" (
	"client_id" uuid NOT NULL,
	"symbol" text NOT NULL,
	"qty" bigint NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "positions_client_id_symbol_pk" PRIMARY KEY("client_id","symbol"),
	CONSTRAINT "positions_qty_positive" CHECK ("positions"."qty" > 0)
);
--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "account_no" text;--> statement-breakpoint
ALTER TABLE "deliveries" ADD COLUMN "provider_ids" text[];--> statement-breakpoint
ALTER TABLE "deliveries" ADD COLUMN "sent_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "account_event_reads" ADD CONSTRAINT "account_event_reads_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "account_event_reads" ADD CONSTRAINT "account_event_reads_client_id_users_id_fk" FOREIGN KEY ("client_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "account_ingest_events" ADD CONSTRAINT "account_ingest_events_client_id_users_id_fk" FOREIGN KEY ("client_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "corporate_action_reminders" ADD CONSTRAINT "corporate_action_reminders_action_id_corporate_actions_id_fk" FOREIGN KEY ("action_id") REFERENCES "public"."corporate_actions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "positions" ADD CONSTRAINT "positions_client_id_users_id_fk" FOREIGN KEY ("client_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "corporate_action_reminders_due_idx" ON "corporate_action_reminders" USING btree ("due_at") WHERE "corporate_action_reminders"."fired_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "corporate_actions_source_event_uq" ON "corporate_actions" USING btree ("source","event_id");--> statement-breakpoint
CREATE INDEX "corporate_actions_symbol_idx" ON "corporate_actions" USING btree ("symbol");--> statement-breakpoint
CREATE INDEX "positions_symbol_idx" ON "positions" USING btree ("symbol");--> statement-breakpoint
CREATE INDEX "deliveries_provider_ids_idx" ON "deliveries" USING gin ("provider_ids") WHERE "deliveries"."provider_ids" is not null;--> statement-breakpoint
CREATE INDEX "deliveries_sms_user_idx" ON "deliveries" USING btree ("user_id","sent_at") WHERE "deliveries"."transport" = 'sms';--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_account_no_unique" UNIQUE("account_no");