#!/usr/bin/env bash
# The former name of scripts/kube-cluster.sh, kept for callers that still
# use it: the same verbs, the same instance and state.
exec "$(dirname "$0")/kube-cluster.sh" "$@"
