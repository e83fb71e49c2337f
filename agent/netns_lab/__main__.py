"""``python -m agent.netns_lab``: see :mod:`agent.netns_lab.cli`."""

import sys

from agent.netns_lab.cli import main

sys.exit(main())
