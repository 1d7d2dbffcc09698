"""Helpers of loadtests/locustfile.py: options, provisioning, request bodies, response checks.

The locustfile's directory is on `sys.path` when locust loads it, so these import as `scenarios.*`.
"""
