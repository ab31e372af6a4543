"""Pure DataFrame pipeline: no web, database, queue or storage imports (a test enforces it)."""
