-- A participant's answer to an invitation (iTIP REPLY, RFC 5546): accepted,
-- tentative or declined, when, and at which SEQUENCE of the event, so that an
-- older reply arriving late does not overwrite a newer one.
ALTER TABLE participations
    ADD COLUMN answer TEXT CHECK (answer IS NULL OR answer IN ('accepted', 'tentative', 'declined')),
    ADD COLUMN answered_at TIMESTAMP,
    ADD COLUMN answer_sequence INTEGER;
