CREATE TABLE "response_rollups" (
	"grain" text NOT NULL,
	"day" date NOT NULL,
	"broker_id" uuid NOT NULL,
	"answered" integer NOT NULL,
	"trading_hist" integer[] NOT NULL,
	"all_hist" integer[] NOT NULL,
	CONSTRAINT "response_rollups_grain_broker_id_day_pk" PRIMARY KEY("grain","broker_id","day")
);
--> statement-breakpoint
ALTER TABLE "response_rollups" ADD CONSTRAINT "response_rollups_broker_id_users_id_fk" FOREIGN KEY ("broker_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "response_rollups_day_idx" ON "response_rollups" USING btree ("grain","day");--> statement-breakpoint
CREATE INDEX "broker_clients_primary_idx" ON "broker_clients" USING btree ("broker_id","client_id") WHERE "broker_clients"."relation" = 'primary';--> statement-breakpoint
CREATE INDEX "conversations_waiting_idx" ON "conversations" USING btree ("broker_id","waiting_since") WHERE "conversations"."type" = 'broker_client' and "conversations"."waiting_since" is not null;--> statement-breakpoint
CREATE INDEX "conversations_staff_chat_idx" ON "conversations" USING btree ("broker_id","client_id","last_staff_chat_at") WHERE "conversations"."type" = 'broker_client' and "conversations"."last_staff_chat_at" is not null;