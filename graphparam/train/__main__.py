import sys

from graphparam.train.run import main

sys.exit(main())
