"""Allow ``python -m npae``."""

import sys

from npae.cli import main

sys.exit(main())
