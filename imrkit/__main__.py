import sys

from imrkit.cli import main

sys.exit(main())
