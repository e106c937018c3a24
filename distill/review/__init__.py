"""Human review of a teacher run's records: the label store, the queue, the web app, agreement with the
AI judge, and the simulated reviewer of the synthetic world."""
