"""The web console at /console/: server-rendered pages behind the admin token."""
