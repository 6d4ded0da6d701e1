"""HTTP front-ends (Klein) and outgoing webhooks."""
