"""asv benchmarks of fastlstm: warm timings and memory (lstm.py), compile/cold start (cold_start.py)."""
