import sys

from graphparam.cli import main

sys.exit(main())
