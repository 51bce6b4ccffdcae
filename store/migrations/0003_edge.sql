-- countersign's store, version 3 (issue 29): tokens of allows decided at the front door (edge allows).
-- The server mints them with its edge key and keeps the hash, the binding and the expiry here; it
-- spends them in countersign.spends (the same ledger as the workers: one spend per workflow id,
-- whichever path minted the token), and seals their evidence into countersign.evidence and the log.
-- Its role, countersign_edge, may insert and read exactly that: no UPDATE, DELETE or TRUNCATE, no
-- checkpoints (the layer key signs those, in the workers). A compromised server can therefore write
-- only bundles signed by the edge key, which `countersign verify` tells apart from the layer's.

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'countersign_edge') THEN
    CREATE ROLE countersign_edge NOLOGIN;
  END IF;
END
$$;

-- One row per edge token, found by the token's SHA-256 (never the token).
CREATE TABLE countersign.edge_tokens (
  token_hash  text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  token_id    text NOT NULL UNIQUE CHECK (length(token_id) BETWEEN 1 AND 128),
  workflow_id text NOT NULL CHECK (length(workflow_id) BETWEEN 1 AND 1000),
  request_id  text NOT NULL CHECK (length(request_id) BETWEEN 1 AND 128),
  expires_at  timestamptz NOT NULL,
  record      text NOT NULL CHECK (octet_length(record) BETWEEN 1 AND 1048576),
  minted_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX edge_tokens_by_workflow ON countersign.edge_tokens (workflow_id);

REVOKE ALL ON countersign.edge_tokens FROM PUBLIC;
GRANT USAGE ON SCHEMA countersign TO countersign_edge;
GRANT SELECT ON countersign.schema_migrations TO countersign_edge;
GRANT SELECT, INSERT ON countersign.edge_tokens, countersign.spends, countersign.evidence, countersign.log_leaves TO countersign_edge;
GRANT SELECT ON countersign.log_checkpoints TO countersign_edge;
-- The workers read edge tokens (nothing of theirs depends on them yet; an operator's audit may).
GRANT SELECT ON countersign.edge_tokens TO countersign_writer;
