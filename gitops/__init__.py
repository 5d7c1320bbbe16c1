"""Writing rendered objects into a GitOps repository with the real `git` CLI (the edge of
`tronador publish` and `tronador retire`)."""
