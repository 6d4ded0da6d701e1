"""`twistd -ny gateway.tac`: the gateway on its embedded default configuration."""
from twisted.application.service import Application

from gateway import tap

application = Application("smsgw")
tap.makeService(tap.Options()).setServiceParent(application)
