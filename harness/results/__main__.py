"""`python -m audioprobe.results > docs/results.md`: the schema page."""

from audioprobe.results.docs import schema_markdown

print(schema_markdown(), end="")
