"""Benchmark the real app under gunicorn against the fake Twilio server (python -m benchmarks)."""
