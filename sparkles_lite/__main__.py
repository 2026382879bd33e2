import sys

from sparkles_lite.cli import main

sys.exit(main())
