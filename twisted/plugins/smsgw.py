"""Twisted plugin: makes `twistd smsgw` start the gateway (see gateway/tap.py)."""
from twisted.application.service import ServiceMaker

smsgw = ServiceMaker("smsgw", "gateway.tap", "SMS gateway: SMPP 3.4 server and HTTP API", "smsgw")
