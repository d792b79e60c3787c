DROP TABLE post_engagement;
