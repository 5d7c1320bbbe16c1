"""The admission webhook server: defaults and validates EnvironmentProvisioners and validates
TronadorConfigs, over HTTPS, with the cluster's policy watched live."""
