"""stub"""
from benchmarks.common import Context, Result

NAME = "recording"


def run(ctx: Context) -> Result:
    raise NotImplementedError
