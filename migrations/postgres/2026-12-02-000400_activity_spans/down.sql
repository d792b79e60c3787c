DROP INDEX activity_channels_channel;
DROP INDEX participations_activity;
DROP TABLE activity_spans;
