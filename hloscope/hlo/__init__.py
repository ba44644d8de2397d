"""Optimized-HLO IR: `parse(text)`, `parse_file(path)`, the model types and the printer."""
