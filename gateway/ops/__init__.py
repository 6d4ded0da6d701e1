"""Operators' view of the gateway: metrics, health and readiness, logs, CDRs."""
