CREATE TABLE "service_rollups" (
	"grain" text NOT NULL,
	"day" date NOT NULL,
	"broker_id" uuid NOT NULL,
	"answered" integer DEFAULT 0 NOT NULL,
	"trading_hist" numeric DEFAULT '0' NOT NULL,
	"all_hist" numeric DEFAULT '0' NOT NULL,
	"recs_sent" integer DEFAULT 0 NOT NULL,
	"recs_refused" integer DEFAULT 0 NOT NULL,
	"recs_held" integer DEFAULT 0 NOT NULL,
	"tasks_on_time" integer DEFAULT 0 NOT NULL,
	"tasks_late" integer DEFAULT 0 NOT NULL,
	"tasks_open" integer DEFAULT 0 NOT NULL,
	"followups_done" integer DEFAULT 0 NOT NULL,
	"followups_open" integer DEFAULT 0 NOT NULL,
	"complaints" integer DEFAULT 0 NOT NULL,
	"surveys" integer DEFAULT 0 NOT NULL,
	"survey_score" integer DEFAULT 0 NOT NULL,
	"contacted" integer DEFAULT 0 NOT NULL,
	"book" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "service_rollups_grain_broker_id_day_pk" PRIMARY KEY("grain","broker_id","day")
);
--> statement-breakpoint
ALTER TABLE "service_rollups" ADD CONSTRAINT "service_rollups_broker_id_users_id_fk" FOREIGN KEY ("broker_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "service_rollups_day_idx" ON "service_rollups" USING btree ("grain","day");