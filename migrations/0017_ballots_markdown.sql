-- Ballots are secret unless the proposal chose a nominal vote: only counts are shown, and the
-- proposal's author is not told who voted. A nominal vote shows its voters by name.
--
-- Every existing proposal becomes secret. Until now ballots were public unless the author ticked
-- "Anonymous votes", and nothing tells a deliberate public vote from an unticked box; hiding
-- ballots that were shown is the mistake that harms nobody, while keeping them public would go on
-- exposing citizens who voted without knowing it. An author who wants a nominal vote chooses it
-- on the next proposal.
ALTER TABLE proposals
    ADD COLUMN ballot text NOT NULL DEFAULT 'secret' CHECK (ballot IN ('secret', 'nominal'));
ALTER TABLE proposals DROP COLUMN anonymous_votes;

-- What those public ballots already told the authors goes with them.
DELETE FROM notifications
 WHERE kind = 'proposal_vote'
   AND object_uri IN (SELECT uri FROM proposals WHERE ballot = 'secret');

-- Long texts are Markdown: the HTML shown and federated is rendered from it, and the source is
-- kept to be federated beside it (`source`, text/markdown). NULL for texts written before, or
-- received without a Markdown source.
ALTER TABLE proposals ADD COLUMN content_source text;
ALTER TABLE proposal_comments ADD COLUMN content_source text;
ALTER TABLE proposal_amendments ADD COLUMN content_source text;
