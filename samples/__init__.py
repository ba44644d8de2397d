"""Small real JAX programs to inspect; each module has `program()` and `DEVICES`."""
