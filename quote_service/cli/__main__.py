"""`python -m quote_service.cli`: the same as the `quote-service` console script."""

import sys

from quote_service.cli import main

sys.exit(main())
