"""Operations: each builds a plan from read-only calls, then applies it, and returns its result
as data. registry.py lists them; runner.py drives them."""
