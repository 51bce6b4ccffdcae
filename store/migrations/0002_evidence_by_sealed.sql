-- countersign's store, version 2 (issue 28): sealed bundles by the time they were sealed, newest
-- first, for insights and policy simulation (store/postgres.ts listEvidence pages through it by
-- (sealed_at, workflow_id, run_id)). An index only: no table, grant or role changes.
CREATE INDEX evidence_by_sealed ON countersign.evidence (sealed_at DESC, workflow_id DESC, run_id DESC);
