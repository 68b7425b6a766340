"""transformers' chat-template utilities with the clock fixed (2025-01-02 03:04:05.123456 UTC, TZ=UTC),
so that strftime_now renders the same as in the C++ tests. Import this before anything else
imports transformers' chat_template_utils."""
import datetime as _dt
import os
import time

os.environ["TZ"] = "UTC"
time.tzset()

from transformers.utils import chat_template_utils as ctu  # noqa: E402

FIXED_NOW = 1735787045.123456  # 2025-01-02 03:04:05.123456 UTC


class _FixedDatetime(_dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return _dt.datetime.fromtimestamp(FIXED_NOW, tz)


ctu.datetime = _FixedDatetime
