"""Self-managed serving certificates for the Tronador admission webhook.

Pure parts: ``pki`` (generation and checks), ``plan`` (what the Secret should hold next).
I/O parts: ``files`` (PEM files on disk), ``secret`` and ``bundle`` (Kubernetes API),
``incluster`` (the sync loop tying them together) and ``cli`` (``tronador certs``).
"""
