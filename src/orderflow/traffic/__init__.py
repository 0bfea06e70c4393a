"""Traffic for the demo, the tests and the benchmarks: simulated order stories (:mod:`.simulate`) and
hand-written message files (:mod:`.publish`), published to the inbound topics."""
