"""Settings of the bare-view server in ``benchmarks/session_update.py``: the project's settings
(same database, cache, middleware and everything else), with ``benchmarks.bare`` as the URLconf.
"""

from talonone.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.bare"
