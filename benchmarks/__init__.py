"""zoomguard's benchmarks (issue 9): `python -m benchmarks` runs them against the sandbox on
loopback and writes benchmarks/results/latest.json and latest.md.

sweep      a full sweep under Pro rate limits vs the rate-limit lower bound, and vs a plain
           sequential requests loop doing the same calls
ingest     the Procfile's web process driven by wrk with pre-signed webhooks, beside a Flask
           hello-world under the same command line, on SQLite and PostgreSQL
signin_flood  webhook latency while 24 attackers flood the sign-in page and idle and slow
           connections stay open
recording  recording.started to the stop request, through receiver, inbox and worker
memory     peak RSS of `zoomguard sweep` at 10,000 and 100,000 meetings

docs/benchmarks.md describes the method and shows the latest table.
"""
