"""`twistd -ny gateway.tac`: the gateway on its embedded default configuration.

Edit the option list below to pass the same options as `twistd smsgw` takes.
"""
from twisted.application.service import Application

from gateway import tap

options = tap.Options()
options.parseOptions([])
application = Application("smsgw")
tap.makeService(options).setServiceParent(application)
