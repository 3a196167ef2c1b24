"""`python -m tasks.sample_lake --out DIR …`: generate a sample lake."""

import sys

from tasks.sample_lake import main

sys.exit(main())
