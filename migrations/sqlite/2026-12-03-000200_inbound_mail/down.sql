DROP TABLE inbound_messages;
DROP TABLE inbound_mailboxes;
