"""synth: data I/O and generative models. Import what you need from the subpackages."""

import os

# Great Expectations and Prefect phone home unless told not to; synth runs on sensitive data.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
