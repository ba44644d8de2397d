"""Graph passes over the IR: pure functions, IR in, report dataclass out."""
