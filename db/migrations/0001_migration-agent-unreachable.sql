ALTER TABLE "migrations" DROP CONSTRAINT "migrations_source_lun_id_luns_id_fk";
--> statement-breakpoint
ALTER TABLE "migrations" ALTER COLUMN "source_lun_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "migrations" ADD COLUMN "source_array_id" uuid;--> statement-breakpoint
ALTER TABLE "migrations" ADD COLUMN "source_lun_name" text;--> statement-breakpoint
ALTER TABLE "migrations" ADD COLUMN "agent_unreachable_since" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "migrations" ADD COLUMN "agent_status" jsonb;--> statement-breakpoint
ALTER TABLE "migrations" ADD CONSTRAINT "migrations_source_array_id_arrays_id_fk" FOREIGN KEY ("source_array_id") REFERENCES "public"."arrays"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "migrations" ADD CONSTRAINT "migrations_source_lun_id_luns_id_fk" FOREIGN KEY ("source_lun_id") REFERENCES "public"."luns"("id") ON DELETE set null ON UPDATE no action;