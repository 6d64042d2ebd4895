import sys

from milestone.cli import main

sys.exit(main())
