-- What happened to a local actor that they should hear about: someone followed them, mentioned
-- or answered them, liked or shared their post, answered their event, voted or commented on
-- their proposal, asked to join their organisation, or answered a request of theirs.

CREATE TABLE notifications (
    id            bigserial   PRIMARY KEY,
    recipient_id  bigint      NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    kind          text        NOT NULL CHECK (kind IN (
                      'follow', 'follow_request', 'mention', 'reply', 'like', 'announce',
                      'rsvp', 'rsvp_accepted', 'rsvp_refused', 'proposal_vote',
                      'proposal_comment', 'membership_request', 'membership_accepted',
                      'membership_refused')),
    -- Who did it (a local or remote actor id) and what it is about (a post, an event, ...).
    actor_uri     text        NOT NULL,
    object_uri    text        NOT NULL,
    created_at    timestamptz NOT NULL,
    read_at       timestamptz,
    -- A redelivered activity, or the local copy of one we already recorded, notifies once.
    UNIQUE (recipient_id, kind, actor_uri, object_uri)
);

-- The notifications page, newest first by id (keyset), and the header's unread count.
CREATE INDEX notifications_recipient ON notifications (recipient_id, id DESC);
CREATE INDEX notifications_unread ON notifications (recipient_id, id) WHERE read_at IS NULL;
