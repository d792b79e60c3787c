ALTER TABLE participations DROP COLUMN answer_sequence;
ALTER TABLE participations DROP COLUMN answered_at;
ALTER TABLE participations DROP COLUMN answer;
