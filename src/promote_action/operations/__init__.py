"""Operations: each builds a plan from read-only calls, then applies it."""
