-- Heartbeats and liveness live in NodeShard Durable Objects (issue 10): a node belongs to shard
-- (last two characters of its id) mod 16, computed the same way in edge/scheduler/shards.ts. A shard
-- that starts cold loads its nodes with one indexed query. Changing the shard count means changing
-- both this expression (a new migration) and SHARDS.
ALTER TABLE nodes ADD COLUMN shard smallint
  GENERATED ALWAYS AS (((ascii(right(id, 1)) * 31 + ascii(right(id, 2))) % 16)::smallint) STORED;
CREATE INDEX nodes_shard ON nodes (shard);
