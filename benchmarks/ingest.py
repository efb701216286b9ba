"""stub"""
from benchmarks.common import Context, Result

NAME = "ingest"


def run(ctx: Context) -> Result:
    raise NotImplementedError
