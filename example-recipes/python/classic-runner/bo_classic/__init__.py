"""bo's classic Buildout recipe runner: the runtime behind app.py.

`runtime` prepares each call (paths, working set, environment), `hostio`
routes processes and logging through the host, `stdlib` keeps the standard
library importable, `versions` parses versions and requirements.
"""
