"""Names vulture (the dead-code check in .ci/run) cannot see used: frameworks call them, or they
spell a wire format or schema. Everything else unused is deleted, not listed here."""

# pydantic reads these: model settings and validators.
_.model_config
_._exactly_one
_._null_is_empty

# Fields of the CRD schemas (derived from the models) that no Python code reads.
_.generate_name
_.deletion_timestamp
_.external_source_ref
_.current_phase
# ... and of the Environment's Flux passthrough specs (tronador/api/environment.py).
_.access_from
_.branch
_.commit
_.common_metadata
_.depends_on
_.drift_detection
_.git_implementation
_.ignore
_.ignore_missing_values_files
_.include
_.install
_.kube_config
_.max_history
_.persistent_client
_.post_renderers
_.provider
_.proxy_secret_ref
_.reconcile_strategy
_.recurse_submodules
_.rollback
_.semver
_.service_account_name
_.sparse_checkout
_.storage_namespace
_.suspend
_.target_namespace
_.test
_.uninstall
_.upgrade
_.values_files
_.verify

# http.server and PyYAML hooks.
_.daemon_threads
_.do_GET
_.log_message
_.ignore_aliases

# The AdmissionReview wire format and its operations.
_.patchType
_.apiVersion
_.DELETE
_.CONNECT

# The route table's admission paths: the bad-input tests post to each.
_.ADMISSION_PATHS

# LeaderElector.status(): documented for operators (docs/operations.md); the tests read it.
_.acquisitions
_.renewals
_.failed_attempts
_.conflicts
_.last_renewed_ago

# kopf settings in the comparison benchmark's kopf peer.
_.enabled

# tronador/cli.py declares the component commands it imports by name (for import-linter).
gitops
