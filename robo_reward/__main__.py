"""``python -m robo_reward`` is the same as ``robo-reward``."""

import sys

from robo_reward.cli import main

sys.exit(main())
