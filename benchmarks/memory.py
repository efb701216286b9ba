"""stub"""
from benchmarks.common import Context, Result

NAME = "memory"


def run(ctx: Context) -> Result:
    raise NotImplementedError
