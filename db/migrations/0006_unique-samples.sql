DROP INDEX "migration_samples_migration_at_idx";--> statement-breakpoint
CREATE UNIQUE INDEX "migration_samples_migration_at_idx" ON "migration_samples" USING btree ("migration_id","at");