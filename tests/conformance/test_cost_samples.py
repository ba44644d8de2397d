"""hloscope's costs against XLA on programs jax compiles here: every sample, and networks built
with `jax.example_libraries.stax` trained with `jax.example_libraries.optimizers`.

For each: the module total summed as XLA sums it (float32, its visit order) equals
`compiled.cost_analysis()` bit for bit, the exact total is within float32 accumulation of it,
and every instruction, carved alone, costs what XLA says (>= 99.5%; in practice all).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytestmark = [pytest.mark.jax, pytest.mark.slow]

KEYS = ("flops", "transcendentals", "bytes accessed")


def _check_compiled(compiled: Any, label: str) -> Any:
    from cost_carve import compare

    from hloscope.hlo import parse
    from hloscope.passes import cost
    from hloscope.passes.cost_f32 import xla_float32_total

    text = compiled.as_text()
    xla = compiled.cost_analysis()
    if isinstance(xla, list):  # older jax returned one dict per module
        xla = xla[0]
    module = parse(text, name=label)
    report = cost.run(module)
    as_xla = xla_float32_total(module, report)
    assert {k: as_xla[k] for k in KEYS} == {k: float(xla.get(k, 0.0)) for k in KEYS}, label
    exact = (report.total.flops, report.total.transcendentals, report.total.bytes_accessed)
    for e, k in zip(exact, KEYS, strict=True):
        assert e == pytest.approx(xla.get(k, 0.0), rel=1e-4), (label, k)
    cmp = compare(text, module, report)
    rate = cmp.matched / cmp.compared
    print(f"\n{label}: total {report.total} = XLA; executed {report.executed}; per "
          f"instruction {cmp.matched}/{cmp.compared} ({rate:.2%})")
    for line in (cmp.mismatches or [])[:20] + (cmp.carve_errors or [])[:20]:
        print("   ", line)
    assert rate >= 0.995
    assert not cmp.carve_errors
    return report


def _sample_names() -> tuple[str, ...]:
    from hloscope import samples

    return samples.names()


@pytest.mark.parametrize("name", _sample_names())
def test_sample_costs_equal_xla(name: str) -> None:
    from hloscope import samples

    sample = samples.get(name)
    compiled = sample.program().lower().compile()
    report = _check_compiled(compiled, f"sample:{name}")
    assert report.executed.flops >= report.total.flops
    if report.counts and any(n > 1 for n in report.counts.values()):
        assert report.executed.flops > report.total.flops  # loops run more than once


# -- stax networks with optimizer updates ---------------------------------------------------


def _mlp() -> tuple[Any, Any]:
    from jax.example_libraries import stax

    return stax.serial(stax.Dense(256), stax.Relu, stax.Dense(256), stax.Tanh,
                       stax.Dense(10), stax.LogSoftmax), (32, 784)


def _cnn() -> tuple[Any, Any]:
    from jax.example_libraries import stax

    return stax.serial(
        stax.Conv(16, (3, 3), padding="SAME"), stax.BatchNorm(), stax.Relu,
        stax.MaxPool((2, 2), strides=(2, 2)),
        stax.Conv(32, (3, 3), strides=(2, 2), padding="VALID"), stax.Gelu,
        stax.AvgPool((2, 2)), stax.Flatten, stax.Dense(10), stax.LogSoftmax,
    ), (8, 28, 28, 1)


def _resblock() -> tuple[Any, Any]:
    from jax.example_libraries import stax

    main = stax.serial(stax.Conv(8, (3, 3), padding="SAME"), stax.Relu,
                       stax.Conv(8, (3, 3), padding="SAME"))
    return stax.serial(
        stax.Conv(8, (1, 1)),
        stax.FanOut(2), stax.parallel(main, stax.Identity), stax.FanInSum, stax.Elu,
        stax.GeneralConv(("NHWC", "HWIO", "NHWC"), 4, (3, 3), padding="SAME"),
        stax.Flatten, stax.Dropout(0.9), stax.Dense(10), stax.Softmax,
    ), (4, 16, 16, 3)


NETWORKS: dict[str, Callable[[], tuple[Any, Any]]] = {
    "mlp": _mlp, "cnn": _cnn, "resblock": _resblock,
}
OPTIMIZERS = {"mlp": "adam", "cnn": "momentum", "resblock": "rmsprop"}


@pytest.mark.parametrize("net", list(NETWORKS))
def test_stax_training_step_costs_equal_xla(net: str) -> None:
    import jax
    import jax.numpy as jnp
    from jax.example_libraries import optimizers

    init_fun, apply_fun = NETWORKS[net]()[0]
    in_shape = NETWORKS[net]()[1]
    _, params = init_fun(jax.random.PRNGKey(0), in_shape)
    make = {"adam": lambda: optimizers.adam(1e-3),
            "momentum": lambda: optimizers.momentum(1e-2, 0.9),
            "rmsprop": lambda: optimizers.rmsprop(1e-3)}[OPTIMIZERS[net]]
    opt_init, opt_update, get_params = make()

    def loss(p: Any, batch: tuple[Any, Any], rng: Any) -> Any:
        x, y = batch
        return -jnp.mean(jnp.sum(apply_fun(p, x, rng=rng) * y, axis=-1))

    def step(i: Any, state: Any, batch: tuple[Any, Any], rng: Any) -> Any:
        g = jax.grad(loss)(get_params(state), batch, rng)
        return opt_update(i, g, state)

    state = opt_init(params)
    x = jnp.zeros(in_shape, jnp.float32)
    y = jnp.zeros((in_shape[0], 10), jnp.float32)
    compiled = jax.jit(step).lower(0, state, (x, y), jax.random.PRNGKey(1)).compile()
    _check_compiled(compiled, f"stax:{net}+{OPTIMIZERS[net]}")
