"""Suite-wide settings."""

import os

from hypothesis import settings

# CI runs the property tests with a fixed sequence of examples, so a build cannot go red on a
# draw nobody can reproduce; local runs keep exploring new examples (and keep failures in the
# .hypothesis database).
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
