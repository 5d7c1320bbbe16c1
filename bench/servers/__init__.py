"""The servers the webhook benchmark loads, each run in its own process: `limit` (the best this
stack can do) and `kopf_peer` (kopf's admission server calling our rules). Ours is
`python -m tronador webhook`."""
