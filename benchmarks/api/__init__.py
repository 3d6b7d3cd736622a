"""(h) API throughput: Rapport's generated record endpoints against a hand-written ceiling.

``ceiling`` is the minimal Starlette + SQLAlchemy Core API for one fixed table of the deal's
shape; ``server`` loads the data and runs either app under uvicorn in a subprocess; ``load``
is the loopback load generator (its own processes); ``profiling`` samples the Rapport server
with py-spy. The scenario itself is ``benchmarks/scenarios/api_throughput.py``.
"""
