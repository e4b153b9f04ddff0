-- Misses at guessing a short-lived secret (edge/guess-limit.ts): looking up device user codes that
-- wait for no one (per signed-in user), and wrong recovery codes (per target user name). One row per
-- key and fixed window; a row whose window has passed counts as no row and is deleted lazily.
CREATE TABLE guess_misses (
  scope     text NOT NULL,
  key       text NOT NULL,
  misses    integer NOT NULL,
  reset_at  timestamptz NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE INDEX guess_misses_reset ON guess_misses (reset_at);
