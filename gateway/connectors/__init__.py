"""Upstream connectors: where accepted messages go to be delivered."""
