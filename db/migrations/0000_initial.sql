CREATE TYPE "public"."actor_kind" AS ENUM('user', 'agent', 'system');--> statement-breakpoint
CREATE TYPE "public"."array_state" AS ENUM('online', 'degraded', 'evacuating', 'evacuated', 'offline');--> statement-breakpoint
CREATE TYPE "public"."evacuation_state" AS ENUM('planned', 'running', 'paused', 'completed', 'completed-with-exclusions', 'cancelled', 'failed');--> statement-breakpoint
CREATE TYPE "public"."event_severity" AS ENUM('info', 'warning', 'error');--> statement-breakpoint
CREATE TYPE "public"."host_state" AS ENUM('pending', 'connected', 'disconnected', 'fenced');--> statement-breakpoint
CREATE TYPE "public"."lun_state" AS ENUM('online', 'offline', 'deleting');--> statement-breakpoint
CREATE TYPE "public"."migration_state" AS ENUM('planned', 'queued', 'preparing', 'syncing', 'copying', 'ready', 'cutting-over', 'verifying', 'verified', 'committing', 'completed', 'paused', 'failed', 'cancelled', 'rolled-back');--> statement-breakpoint
CREATE TYPE "public"."migration_strategy" AS ENUM('mirror', 'precopy');--> statement-breakpoint
CREATE TYPE "public"."plex_state" AS ENUM('active', 'syncing', 'stale', 'detached');--> statement-breakpoint
CREATE TYPE "public"."user_role" AS ENUM('viewer', 'operator', 'admin');--> statement-breakpoint
CREATE TABLE "agent_tokens" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"token_hash" text NOT NULL,
	"label" text NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"used_by_host_id" uuid,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "agent_tokens_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "arrays" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"vendor" text NOT NULL,
	"model" text NOT NULL,
	"tier" integer NOT NULL,
	"driver" text NOT NULL,
	"driver_config" jsonb NOT NULL,
	"capacity_bytes" bigint NOT NULL,
	"state" "array_state" DEFAULT 'online' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "arrays_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "disk_groups" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"host_id" uuid NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "evacuations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"source_array_ids" jsonb NOT NULL,
	"constraints" jsonb NOT NULL,
	"placement" jsonb NOT NULL,
	"limits" jsonb NOT NULL,
	"window" jsonb,
	"state" "evacuation_state" DEFAULT 'planned' NOT NULL,
	"rollup" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"severity" "event_severity" DEFAULT 'info' NOT NULL,
	"kind" text NOT NULL,
	"actor_kind" "actor_kind" NOT NULL,
	"actor_id" text,
	"actor_name" text NOT NULL,
	"object_kind" text NOT NULL,
	"object_id" text,
	"object_name" text,
	"message" text NOT NULL,
	"before" jsonb,
	"after" jsonb
);
--> statement-breakpoint
CREATE TABLE "hosts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"hostname" text NOT NULL,
	"agent_url" text,
	"agent_version" text,
	"state" "host_state" DEFAULT 'pending' NOT NULL,
	"state_since" timestamp with time zone DEFAULT now() NOT NULL,
	"last_heartbeat_at" timestamp with time zone,
	"credential_hash" text NOT NULL,
	"inventory_hash" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "hosts_hostname_unique" UNIQUE("hostname")
);
--> statement-breakpoint
CREATE TABLE "lun_mappings" (
	"lun_id" uuid NOT NULL,
	"host_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "lun_mappings_lun_id_host_id_pk" PRIMARY KEY("lun_id","host_id")
);
--> statement-breakpoint
CREATE TABLE "luns" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"array_id" uuid NOT NULL,
	"name" text NOT NULL,
	"wwn" text NOT NULL,
	"size_bytes" bigint NOT NULL,
	"path" text NOT NULL,
	"state" "lun_state" DEFAULT 'online' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "luns_wwn_unique" UNIQUE("wwn")
);
--> statement-breakpoint
CREATE TABLE "migration_samples" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"migration_id" uuid NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"phase" text NOT NULL,
	"pass" integer NOT NULL,
	"left_bytes" bigint NOT NULL,
	"threshold_bytes" bigint,
	"copied_bytes" bigint NOT NULL,
	"copy_rate_bytes_per_s" bigint NOT NULL,
	"write_rate_bytes_per_s" bigint NOT NULL,
	"write_latency_p50_us" integer,
	"write_latency_p99_us" integer,
	"throttle_bytes_per_s" bigint
);
--> statement-breakpoint
CREATE TABLE "migrations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"volume_id" uuid NOT NULL,
	"source_lun_id" uuid NOT NULL,
	"target_array_id" uuid NOT NULL,
	"target_lun_id" uuid,
	"strategy" "migration_strategy" NOT NULL,
	"state" "migration_state" DEFAULT 'planned' NOT NULL,
	"pass" integer DEFAULT 0 NOT NULL,
	"bytes_copied" bigint DEFAULT 0 NOT NULL,
	"dirty_bytes" bigint DEFAULT 0 NOT NULL,
	"copy_rate_bytes_per_s" bigint,
	"eta_seconds" integer,
	"throttle_bytes_per_s" bigint,
	"cutover_policy" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"error" text,
	"evacuation_id" uuid,
	"lease_owner" text,
	"lease_epoch" integer DEFAULT 0 NOT NULL,
	"lease_expires_at" timestamp with time zone,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "plexes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"volume_id" uuid NOT NULL,
	"name" text NOT NULL,
	"lun_id" uuid,
	"lun_path" text NOT NULL,
	"state" "plex_state" NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sessions" (
	"id_hash" text PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "settings" (
	"key" text PRIMARY KEY NOT NULL,
	"value" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"username" text NOT NULL,
	"password_hash" text NOT NULL,
	"role" "user_role" NOT NULL,
	"disabled" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_sign_in_at" timestamp with time zone,
	CONSTRAINT "users_username_unique" UNIQUE("username")
);
--> statement-breakpoint
CREATE TABLE "volumes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"host_id" uuid NOT NULL,
	"disk_group_id" uuid NOT NULL,
	"name" text NOT NULL,
	"size_bytes" bigint NOT NULL,
	"region_size_bytes" integer NOT NULL,
	"nbd_export" text NOT NULL,
	"write_rate_bytes_per_s" bigint,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "disk_groups" ADD CONSTRAINT "disk_groups_host_id_hosts_id_fk" FOREIGN KEY ("host_id") REFERENCES "public"."hosts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "lun_mappings" ADD CONSTRAINT "lun_mappings_lun_id_luns_id_fk" FOREIGN KEY ("lun_id") REFERENCES "public"."luns"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "lun_mappings" ADD CONSTRAINT "lun_mappings_host_id_hosts_id_fk" FOREIGN KEY ("host_id") REFERENCES "public"."hosts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "luns" ADD CONSTRAINT "luns_array_id_arrays_id_fk" FOREIGN KEY ("array_id") REFERENCES "public"."arrays"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "migration_samples" ADD CONSTRAINT "migration_samples_migration_id_migrations_id_fk" FOREIGN KEY ("migration_id") REFERENCES "public"."migrations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "migrations" ADD CONSTRAINT "migrations_volume_id_volumes_id_fk" FOREIGN KEY ("volume_id") REFERENCES "public"."volumes"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "migrations" ADD CONSTRAINT "migrations_source_lun_id_luns_id_fk" FOREIGN KEY ("source_lun_id") REFERENCES "public"."luns"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "migrations" ADD CONSTRAINT "migrations_target_array_id_arrays_id_fk" FOREIGN KEY ("target_array_id") REFERENCES "public"."arrays"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "migrations" ADD CONSTRAINT "migrations_target_lun_id_luns_id_fk" FOREIGN KEY ("target_lun_id") REFERENCES "public"."luns"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "migrations" ADD CONSTRAINT "migrations_evacuation_id_evacuations_id_fk" FOREIGN KEY ("evacuation_id") REFERENCES "public"."evacuations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "plexes" ADD CONSTRAINT "plexes_volume_id_volumes_id_fk" FOREIGN KEY ("volume_id") REFERENCES "public"."volumes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "plexes" ADD CONSTRAINT "plexes_lun_id_luns_id_fk" FOREIGN KEY ("lun_id") REFERENCES "public"."luns"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "volumes" ADD CONSTRAINT "volumes_host_id_hosts_id_fk" FOREIGN KEY ("host_id") REFERENCES "public"."hosts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "volumes" ADD CONSTRAINT "volumes_disk_group_id_disk_groups_id_fk" FOREIGN KEY ("disk_group_id") REFERENCES "public"."disk_groups"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "disk_groups_host_name_idx" ON "disk_groups" USING btree ("host_id","name");--> statement-breakpoint
CREATE INDEX "events_object_idx" ON "events" USING btree ("object_kind","object_id");--> statement-breakpoint
CREATE INDEX "events_kind_idx" ON "events" USING btree ("kind");--> statement-breakpoint
CREATE INDEX "lun_mappings_host_idx" ON "lun_mappings" USING btree ("host_id");--> statement-breakpoint
CREATE UNIQUE INDEX "luns_array_name_idx" ON "luns" USING btree ("array_id","name");--> statement-breakpoint
CREATE INDEX "migration_samples_migration_at_idx" ON "migration_samples" USING btree ("migration_id","at");--> statement-breakpoint
CREATE INDEX "migrations_state_idx" ON "migrations" USING btree ("state");--> statement-breakpoint
CREATE INDEX "migrations_volume_idx" ON "migrations" USING btree ("volume_id");--> statement-breakpoint
CREATE UNIQUE INDEX "plexes_volume_name_idx" ON "plexes" USING btree ("volume_id","name");--> statement-breakpoint
CREATE INDEX "plexes_lun_idx" ON "plexes" USING btree ("lun_id");--> statement-breakpoint
CREATE INDEX "sessions_user_idx" ON "sessions" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "volumes_dg_name_idx" ON "volumes" USING btree ("disk_group_id","name");--> statement-breakpoint
CREATE INDEX "volumes_host_idx" ON "volumes" USING btree ("host_id");