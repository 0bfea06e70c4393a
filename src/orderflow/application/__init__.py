"""The eventsourcing Application (:mod:`.orders`): commands are get, act, save (:mod:`.commands`); the consumer
positions recorded with the events (:mod:`.positions`); how events are stored: transcodings, encryption at rest,
personal fields under each customer's key (:mod:`.transcodings`, :mod:`.ciphers`, :mod:`.shredding`)."""
