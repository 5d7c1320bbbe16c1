"""The controller: a namespace, secrets and a Helm release for every EnvironmentProvisioner.

Pure parts (`desired`, `status`, `diff`) compute objects and status as plain data; `reconciler`
observes the informer caches, applies only the differences and reports; `manager.Controller` runs
informers, the work queue and the workers.
"""
