"""`python -m taskseed.cli`."""

import sys

from taskseed.cli.main import main

sys.exit(main())
