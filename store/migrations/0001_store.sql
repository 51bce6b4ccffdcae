-- countersign's store, version 1 (issue 27): spends, sealed evidence and the transparency log.
-- Applied by `countersign setup` as the database's owner, in one transaction with its row in
-- countersign.schema_migrations. The processes never own these tables: they connect as roles that
-- are members of countersign_writer (workers) or countersign_reader (the server), which may insert
-- and read and nothing else. No UPDATE, DELETE or TRUNCATE is granted on any table, to anyone.

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'countersign_writer') THEN
    CREATE ROLE countersign_writer NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'countersign_reader') THEN
    CREATE ROLE countersign_reader NOLOGIN;
  END IF;
END
$$;

-- One spend per workflow id: INSERT … ON CONFLICT DO NOTHING, then read back (store/postgres.ts).
CREATE TABLE countersign.spends (
  workflow_id   text PRIMARY KEY CHECK (length(workflow_id) BETWEEN 1 AND 1000),
  token_id      text NOT NULL CHECK (length(token_id) BETWEEN 1 AND 128),
  run_id        text NOT NULL CHECK (length(run_id) BETWEEN 1 AND 128),
  request_id    text NOT NULL CHECK (length(request_id) BETWEEN 1 AND 128),
  action_digest text NOT NULL CHECK (length(action_digest) BETWEEN 1 AND 128),
  spent_at      timestamptz NOT NULL,
  recorded_at   timestamptz NOT NULL DEFAULT now()
);

-- Each run's signed bundle, written once: the exact text `countersign verify` reads.
CREATE TABLE countersign.evidence (
  workflow_id   text NOT NULL CHECK (length(workflow_id) BETWEEN 1 AND 1000),
  run_id        text NOT NULL CHECK (length(run_id) BETWEEN 1 AND 128),
  request_id    text NOT NULL CHECK (length(request_id) BETWEEN 1 AND 128),
  bundle_digest text NOT NULL CHECK (bundle_digest ~ '^[0-9a-f]{64}$'),
  bundle        text NOT NULL CHECK (octet_length(bundle) BETWEEN 1 AND 8388608),
  sealed_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workflow_id, run_id)
);
CREATE INDEX evidence_by_request ON countersign.evidence (request_id);
CREATE INDEX evidence_by_workflow_sealed ON countersign.evidence (workflow_id, sealed_at DESC);

-- The log's leaves. The database assigns each index, so no client can choose one: a trigger takes a
-- transaction-scoped advisory lock (every appender, whatever its role, queues on it), reads the
-- largest index (its snapshot is taken after the lock, so it sees every append committed before)
-- and gives the new leaf the next one. Indexes are 0..n-1, each once: the primary key refuses a
-- second, and nothing may delete one. The leaf hash is checked against the data here too.
CREATE TABLE countersign.log_leaves (
  leaf_index  bigint PRIMARY KEY CHECK (leaf_index >= 0),
  leaf_hash   bytea NOT NULL UNIQUE CHECK (leaf_hash = sha256('\x00'::bytea || leaf_data)),
  leaf_data   bytea NOT NULL CHECK (octet_length(leaf_data) BETWEEN 1 AND 65536),
  appended_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION countersign.next_leaf_index() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(199529642839167268); -- the first 8 bytes of SHA-256("countersign/log-append")
  SELECT coalesce(max(leaf_index) + 1, 0) INTO NEW.leaf_index FROM countersign.log_leaves;
  RETURN NEW;
END
$$;

CREATE TRIGGER log_leaves_next_index BEFORE INSERT ON countersign.log_leaves
FOR EACH ROW EXECUTE FUNCTION countersign.next_leaf_index();

-- Signed checkpoints (C2SP signed notes), one per tree size: a second of the same size is refused.
CREATE TABLE countersign.log_checkpoints (
  tree_size bigint PRIMARY KEY CHECK (tree_size >= 0),
  root_hash bytea NOT NULL CHECK (octet_length(root_hash) = 32),
  note      text NOT NULL CHECK (octet_length(note) BETWEEN 1 AND 65536),
  stored_at timestamptz NOT NULL DEFAULT now()
);

REVOKE ALL ON ALL TABLES IN SCHEMA countersign FROM PUBLIC;
REVOKE ALL ON SCHEMA countersign FROM PUBLIC;
GRANT USAGE ON SCHEMA countersign TO countersign_writer, countersign_reader;
GRANT SELECT ON countersign.schema_migrations TO countersign_writer, countersign_reader;
GRANT SELECT, INSERT ON countersign.spends, countersign.evidence, countersign.log_leaves, countersign.log_checkpoints TO countersign_writer;
GRANT SELECT ON countersign.evidence, countersign.log_leaves, countersign.log_checkpoints TO countersign_reader;
