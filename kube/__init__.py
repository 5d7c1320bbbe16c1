"""The one Kubernetes access layer of webhook, controller, certs and the audit CLI: client setup
(`client`), REST calls with one error type (`api`), resources (`resources`), list/watch into a
cache (`informer`) and retry delays (`backoff`). It imports only `tronador`, never an edge."""
