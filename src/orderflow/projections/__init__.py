"""Read models: each a projection of the event store that can be dropped and rebuilt."""
