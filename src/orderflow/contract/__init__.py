"""The wire: the message envelope (:mod:`.envelope`), the JSON Schemas and the one validation (:mod:`.schemas`),
and which fields are personal (:mod:`.personal`)."""
