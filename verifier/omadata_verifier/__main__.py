import sys

from omadata_verifier.cli import main

sys.exit(main())
