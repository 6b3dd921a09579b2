#!/usr/bin/env bash
# On kind, scripts/cluster/kind/up.sh already built and loaded every image (with Docker); PostgreSQL
# and its exporter are pulled by the node from their registry. Nothing is left to do here.
echo "kind: images were built and loaded by scripts/cluster/kind/up.sh"
