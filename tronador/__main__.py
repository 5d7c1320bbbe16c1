import sys

from tronador.cli import main

sys.exit(main())
