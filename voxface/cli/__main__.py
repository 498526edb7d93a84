"""`python -m voxface.cli ...` = `animate ...`."""

import sys

from voxface.cli import main

sys.exit(main())
