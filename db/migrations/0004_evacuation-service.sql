CREATE TABLE "evacuation_samples" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"evacuation_id" uuid NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"left_on_source_bytes" bigint NOT NULL,
	"left_to_copy_bytes" bigint NOT NULL,
	"committed_bytes" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "evacuations" ADD COLUMN "outside_window" text DEFAULT 'keep-copying' NOT NULL;--> statement-breakpoint
ALTER TABLE "evacuations" ADD COLUMN "cutover" text DEFAULT 'auto' NOT NULL;--> statement-breakpoint
ALTER TABLE "evacuations" ADD COLUMN "commit_policy" text DEFAULT 'auto' NOT NULL;--> statement-breakpoint
ALTER TABLE "evacuations" ADD COLUMN "plan" jsonb;--> statement-breakpoint
ALTER TABLE "evacuations" ADD COLUMN "approved_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "evacuations" ADD COLUMN "started_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "evacuations" ADD COLUMN "ended_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "migrations" ADD COLUMN "priority" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "evacuation_samples" ADD CONSTRAINT "evacuation_samples_evacuation_id_evacuations_id_fk" FOREIGN KEY ("evacuation_id") REFERENCES "public"."evacuations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "evacuation_samples_evacuation_at_idx" ON "evacuation_samples" USING btree ("evacuation_id","at");--> statement-breakpoint
CREATE INDEX "migrations_evacuation_idx" ON "migrations" USING btree ("evacuation_id");