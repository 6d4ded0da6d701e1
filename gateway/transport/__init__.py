"""Twisted adapters that put SMPP sessions on sockets."""
