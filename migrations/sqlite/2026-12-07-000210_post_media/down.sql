DROP TABLE post_media_uploads;
DROP TABLE post_media;
