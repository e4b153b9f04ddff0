-- Issue 11.4: custom domains with certificates from an ACME CA (Let's Encrypt). The API adds and
-- removes domains; one proxy at a time (the holder of acme_lease) orders certificates, every proxy
-- answers the HTTP-01 challenges and serves the certificates by SNI. Private keys are AES-256-GCM
-- ciphertext under ZECTRE_CERT_KEY, a key only the proxies hold (the control plane never sees it).
CREATE TABLE domains (
  hostname        text PRIMARY KEY,
  project_id      text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  -- pending: waiting for the issuer; issuing: an order is under way; active: a certificate is
  -- served (a failed renewal keeps it active and says so in status_message); failed: no certificate.
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'issuing', 'active', 'failed')),
  status_message  text NOT NULL DEFAULT '',
  cert_pem        text,
  key_enc         text,
  -- From domain_cert_versions on every new certificate: proxies reload when the highest changes.
  cert_version    bigint,
  not_after       timestamptz,
  renew_after     timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX domains_project ON domains (project_id);
CREATE SEQUENCE domain_cert_versions;

CREATE TABLE acme_challenges (
  token              text PRIMARY KEY,
  hostname           text NOT NULL REFERENCES domains(hostname) ON DELETE CASCADE,
  key_authorization  text NOT NULL,
  expires_at         timestamptz NOT NULL
);

-- One ACME account per directory; its key is encrypted like certificate keys.
CREATE TABLE acme_accounts (
  directory_url  text PRIMARY KEY,
  key_enc        text NOT NULL
);

-- The issuer lease: the proxy named here runs the ACME loop until expires_at.
CREATE TABLE acme_lease (
  id          boolean PRIMARY KEY DEFAULT true CHECK (id),
  holder      text NOT NULL,
  expires_at  timestamptz NOT NULL
);

-- A custom domain routes to its project's live deployment, whatever its certificate's status.
CREATE OR REPLACE VIEW routing.custom_routes AS
  SELECT r.host, r.path_prefix, p.live_deployment_id FROM routes r JOIN projects p ON p.id = r.project_id
  UNION ALL
  SELECT d.hostname, '/', p.live_deployment_id FROM domains d JOIN projects p ON p.id = d.project_id;
CREATE VIEW routing.certificates AS
  SELECT hostname, cert_pem, key_enc, cert_version FROM domains WHERE cert_pem IS NOT NULL;
CREATE VIEW routing.acme_challenges AS
  SELECT token, key_authorization FROM acme_challenges WHERE expires_at > now();
GRANT SELECT ON routing.certificates, routing.acme_challenges TO zectre_proxy;

-- The issuer's writes go through these functions (run with the owner's rights), so a proxy role
-- can change certificates and challenges, and nothing else of the domains.
CREATE FUNCTION routing.acme_take_lease(who text, seconds integer) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  INSERT INTO acme_lease (id, holder, expires_at) VALUES (true, who, now() + make_interval(secs => seconds))
  ON CONFLICT (id) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
    WHERE acme_lease.holder = EXCLUDED.holder OR acme_lease.expires_at < now()
  RETURNING true;
$$;

-- New domains, and those whose renewal is due. 'issuing' ones are left over by an issuer that
-- stopped mid-order (the lease holder works one domain at a time).
CREATE FUNCTION routing.acme_due() RETURNS TABLE (hostname text, renewing boolean)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT d.hostname, d.cert_pem IS NOT NULL FROM domains d
  WHERE d.status IN ('pending', 'issuing') OR (d.status = 'active' AND d.renew_after <= now())
  ORDER BY d.created_at;
$$;

CREATE FUNCTION routing.acme_begin(host text, message text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  UPDATE domains SET status = CASE WHEN cert_pem IS NULL THEN 'issuing' ELSE status END,
    status_message = message, updated_at = now()
  WHERE hostname = host;
$$;

CREATE FUNCTION routing.acme_put_challenge(tok text, host text, key_auth text, seconds integer) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  INSERT INTO acme_challenges (token, hostname, key_authorization, expires_at)
  VALUES (tok, host, key_auth, now() + make_interval(secs => seconds))
  ON CONFLICT (token) DO UPDATE SET key_authorization = EXCLUDED.key_authorization, expires_at = EXCLUDED.expires_at;
$$;

CREATE FUNCTION routing.acme_drop_challenge(tok text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  DELETE FROM acme_challenges WHERE token = tok OR expires_at < now();
$$;

-- A new certificate: every proxy learns it through the route epoch (NOTIFY zectre_routes).
CREATE FUNCTION routing.acme_issued(host text, cert text, key text, expires timestamptz, renew timestamptz) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE e bigint;
BEGIN
  UPDATE domains SET status = 'active', status_message = '', cert_pem = cert, key_enc = key,
    cert_version = nextval('domain_cert_versions'), not_after = expires, renew_after = renew, updated_at = now()
  WHERE hostname = host;
  IF FOUND THEN
    UPDATE route_epoch SET epoch = epoch + 1 RETURNING epoch INTO e;
    PERFORM pg_notify('zectre_routes', e::text);
  END IF;
END $$;

-- A failed order: a domain without a certificate becomes failed; one with a certificate keeps
-- serving it and is tried again after retry_seconds.
CREATE FUNCTION routing.acme_failed(host text, message text, retry_seconds integer) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  UPDATE domains SET
    status = CASE WHEN cert_pem IS NULL THEN 'failed' ELSE 'active' END,
    status_message = CASE WHEN cert_pem IS NULL THEN message ELSE 'renewal failed, retrying: ' || message END,
    renew_after = CASE WHEN cert_pem IS NULL THEN renew_after ELSE now() + make_interval(secs => retry_seconds) END,
    updated_at = now()
  WHERE hostname = host;
$$;

CREATE FUNCTION routing.acme_account(directory text) RETURNS text
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT key_enc FROM acme_accounts WHERE directory_url = directory;
$$;

-- Keeps the first key saved for a directory and returns it.
CREATE FUNCTION routing.acme_save_account(directory text, key text) RETURNS text
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  INSERT INTO acme_accounts (directory_url, key_enc) VALUES (directory, key) ON CONFLICT (directory_url) DO NOTHING;
  SELECT key_enc FROM acme_accounts WHERE directory_url = directory;
$$;

-- Functions are executable by everyone unless revoked.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA routing FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA routing TO zectre_proxy;
