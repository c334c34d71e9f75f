import sys

from bot.demo import run

sys.exit(run())
