#!/usr/bin/env bash
# Runs every test: the C++ unit tests (GoogleTest via CTest), then the integration tests
# (pytest, against build/salut and a stand-in Hugging Face Hub on 127.0.0.1). First it makes the
# engine's references with the real mlx-lm (tools/make_fixtures.py; instant when up to date).
set -uo pipefail
cd "$(dirname "$0")/.."

cmake --build build -j "${SALUT_JOBS:-2}" || exit 1

status=0
.venv/bin/python tools/make_demo_model.py || exit 1
.venv/bin/python tools/make_fixtures.py || exit 1
.venv/bin/python tools/make_chat_fixture.py || exit 1
ctest --test-dir build --output-on-failure -j 2 || status=1
.venv/bin/python -m pytest tests/integration -q -p no:cacheprovider || status=1
exit $status
