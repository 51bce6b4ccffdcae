-- countersign's store, version 4 (issue 29, review): the edge role writes edge rows only. Its grants
-- (0003_edge.sql) let it insert into countersign.evidence and countersign.spends; without this, a
-- compromised front door could take a workflow's (workflow_id, run_id) before the worker seals it,
-- so the worker's bundle (a human's denial, say) would be refused as a conflict, or spend a workflow's
-- token. Row-level security holds the edge role to run ids its own path makes (`edge-…`, never a
-- Temporal run id); the workers' and the readers' roles keep what they had. The table owner and
-- superusers are not subject to it, as PostgreSQL has it.
ALTER TABLE countersign.evidence ENABLE ROW LEVEL SECURITY;
ALTER TABLE countersign.spends ENABLE ROW LEVEL SECURITY;

CREATE POLICY evidence_writer ON countersign.evidence TO countersign_writer USING (true) WITH CHECK (true);
CREATE POLICY evidence_reader ON countersign.evidence FOR SELECT TO countersign_reader USING (true);
CREATE POLICY evidence_edge_read ON countersign.evidence FOR SELECT TO countersign_edge USING (true);
CREATE POLICY evidence_edge_insert ON countersign.evidence FOR INSERT TO countersign_edge WITH CHECK (run_id LIKE 'edge-%');

CREATE POLICY spends_writer ON countersign.spends TO countersign_writer USING (true) WITH CHECK (true);
CREATE POLICY spends_edge_read ON countersign.spends FOR SELECT TO countersign_edge USING (true);
CREATE POLICY spends_edge_insert ON countersign.spends FOR INSERT TO countersign_edge WITH CHECK (run_id LIKE 'edge-%');
