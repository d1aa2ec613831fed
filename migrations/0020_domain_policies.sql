-- Domain policies as Mastodon's domain blocks hold them (issue 11): a severity (suspend, silence,
-- or noop for a domain only some options apply to), rejecting media and reports, a public comment
-- beside the private one (`reason`), obfuscation when published; and subscriptions to published
-- block lists, whose entries are marked with their list so a manual policy is never overwritten.

ALTER TABLE domain_policies DROP CONSTRAINT domain_policies_action_check;
ALTER TABLE domain_policies
    ADD CONSTRAINT domain_policies_action_check
        CHECK (action IN ('suspend', 'silence', 'noop', 'allow')),
    ADD COLUMN reject_media    boolean     NOT NULL DEFAULT false,
    ADD COLUMN reject_reports  boolean     NOT NULL DEFAULT false,
    ADD COLUMN public_comment  text        NOT NULL DEFAULT ''
        CHECK (length(public_comment) <= 1000),
    -- Published with part of its name hidden (and its SHA-256), as Mastodon does.
    ADD COLUMN obfuscate       boolean     NOT NULL DEFAULT false,
    ADD COLUMN updated_at      timestamptz NOT NULL DEFAULT now();

CREATE TABLE domain_blocklists (
    id              bigserial   PRIMARY KEY,
    url             text        NOT NULL UNIQUE CHECK (length(url) <= 2000),
    created_at      timestamptz NOT NULL,
    last_synced_at  timestamptz,
    -- Why the last fetch or read failed; '' after a good one.
    last_error      text        NOT NULL DEFAULT '' CHECK (length(last_error) <= 2000),
    entries         integer     NOT NULL DEFAULT 0
);

-- NULL for a policy an admin set; a list's entries go with it when it is unsubscribed.
ALTER TABLE domain_policies
    ADD COLUMN blocklist_id bigint REFERENCES domain_blocklists (id) ON DELETE CASCADE;
CREATE INDEX domain_policies_blocklist ON domain_policies (blocklist_id)
    WHERE blocklist_id IS NOT NULL;

-- The host of an http(s) URI, lower case, without user info, port or an IPv6 literal's
-- brackets ('' when there is none), as moderation.policy.policy_domain reads an authority.
CREATE FUNCTION uri_host(uri text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT lower(btrim(coalesce(substring(uri FROM
            '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?(\[[^]/?#]*\]|[^:/?#]*)'), ''), '[]')) $$;

-- A host and each of its parent domains, most specific first: a.b.example -> {a.b.example,
-- b.example, example}.
CREATE FUNCTION domain_suffixes(host text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT coalesce(array_agg(array_to_string(parts[i:], '.') ORDER BY i), '{}')
            FROM (SELECT string_to_array(host, '.') AS parts) AS split,
                 generate_subscripts(split.parts, 1) AS i
           WHERE host <> '' $$;

-- The action of the most specific policy naming a host or one of its parent domains: a policy
-- on example.org covers a.example.org, and one on a.example.org wins over it there. A few
-- primary-key probes, whatever the number of policies.
CREATE FUNCTION domain_policy_action(host text) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT action FROM domain_policies WHERE domain = ANY (domain_suffixes(host))
           ORDER BY length(domain) DESC LIMIT 1 $$;

-- Every policy as one object (domain -> action), for listings: read once per statement (an
-- uncorrelated subquery), then looked up row by row without touching the table.
CREATE FUNCTION domain_policy_map() RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(jsonb_object_agg(domain, action), '{}') FROM domain_policies $$;

-- The action of the most specific policy of a URI's host, given domain_policy_map(); NULL when
-- none names it. PL/pgSQL, as listings and suspensions call it for every row they look at: a
-- loop of jsonb lookups, from the host up its parent domains.
CREATE FUNCTION domain_policy_in(uri text, policies jsonb) RETURNS text
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    AS $$
DECLARE
    host text;
    found text;
BEGIN
    IF policies = '{}'::jsonb THEN
        RETURN NULL;
    END IF;
    host := uri_host(uri);
    WHILE host <> '' LOOP
        found := policies ->> host;
        IF found IS NOT NULL THEN
            RETURN found;
        END IF;
        IF strpos(host, '.') = 0 THEN
            RETURN NULL;
        END IF;
        host := substr(host, strpos(host, '.') + 1);
    END LOOP;
    RETURN NULL;
END
$$;

-- Whether what a URI names is kept out of public listings: its domain is silenced or suspended.
CREATE FUNCTION domain_hidden(uri text, policies jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT coalesce(domain_policy_in(uri, policies) IN ('silence', 'suspend'), false) $$;
