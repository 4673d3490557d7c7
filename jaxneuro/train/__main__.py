import sys

from ._cli import main

sys.exit(main(["train", *sys.argv[1:]]))
