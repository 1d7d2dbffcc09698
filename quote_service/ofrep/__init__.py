"""OpenFeature Remote Evaluation Protocol (OFREP) v1: the service's flags for any OpenFeature SDK."""
