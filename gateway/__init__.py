"""smsgw: an SMS gateway (SMPP 3.4 server, HTTP API) on Twisted."""
