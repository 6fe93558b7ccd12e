CREATE TABLE "array_host_paths" (
	"array_id" uuid NOT NULL,
	"host_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "array_host_paths_array_id_host_id_pk" PRIMARY KEY("array_id","host_id")
);
--> statement-breakpoint
ALTER TABLE "arrays" ADD COLUMN "all_hosts" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "array_host_paths" ADD CONSTRAINT "array_host_paths_array_id_arrays_id_fk" FOREIGN KEY ("array_id") REFERENCES "public"."arrays"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "array_host_paths" ADD CONSTRAINT "array_host_paths_host_id_hosts_id_fk" FOREIGN KEY ("host_id") REFERENCES "public"."hosts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "array_host_paths_host_idx" ON "array_host_paths" USING btree ("host_id");