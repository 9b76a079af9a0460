#!/usr/bin/env bash
# System packages and services the test suite needs beyond the virtualenv.
# Idempotent; prints what it does.
set -euo pipefail
exit 0
