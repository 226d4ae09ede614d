"""The service as a cluster of existing engines on one machine (issue 17, docs/scaling.md).

``python -m scripts.cluster up|down|status`` (``make cluster``, ``make cluster-down``, ``make cluster-status``):
etcd, two PostgreSQL + PostGIS nodes under Patroni, HAProxy in front, two replicas of each server.
Nothing here elects, replicates or balances by itself: it writes the engines' configuration, starts
them, waits on their own health checks and stops them.
"""
