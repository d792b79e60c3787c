DROP TABLE deletions;
DROP TABLE feeds;
