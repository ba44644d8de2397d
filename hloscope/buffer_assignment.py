"""XLA's buffer-assignment text (`*-buffer-assignment.txt` in an XLA dump folder) as records.

XLA writes one block per allocation (`BufferAllocation::ToString`):

    allocation 0: size 131072, parameter 1, shape |f32[128,256]| at ShapeIndex {}:
     value: <21 w1.1 @0> (size=131072,offset=0): f32[128,256]{1,0}
    allocation 4: size 16, output shape is |(f32[], f32[64,256])|, maybe-live-out:
    allocation 13: size 8200, preallocated-temp:
     value: <25 ynn_fusion @0> (size=8192,offset=0): f32[64,32]{1,0}

Each `value` is an HloValue `<id instruction{shape index} (phi) @color>` placed at an offset in
the allocation. The totals here follow `CompiledMemoryStats::PopulateBufferStatsFromAllocations`
(arguments = parameter allocations, outputs = maybe-live-out allocations, temp =
preallocated-temp allocations), so they can be checked against `compiled.memory_analysis()`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from hloscope.errors import ParseError

# Memory space XLA uses for host memory (Layout::kHostMemorySpace); the default colorer makes an
# allocation's color its memory space.
HOST_MEMORY_SPACE = 5

_ALLOC_RE = re.compile(r"^allocation (\d+): (?:0x[0-9a-fA-F]+, )?size (\d+)(.*):\s*$")
_PARAM_RE = re.compile(r", parameter (\d+)(?:, shape \|(.*?)\|)? at ShapeIndex \{([\d,\s]*)\}")
_OUTPUT_RE = re.compile(r", output shape is \|(.*?)\|")
_COLOR_RE = re.compile(r", color (\d+)")
_VALUE_RE = re.compile(
    r"^\s*value: <(\d+) (\S+?)(\{[\d,\s]*\})?( \(phi\))?(?: @(\d+))?> "
    r"\(size=(\d+),offset=(\d+)\): (.*?)\s*$"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class XlaValue:
    """One HloValue XLA placed in an allocation."""

    id: int
    instruction: str
    """Defining instruction name (no `%`)."""
    index: tuple[int, ...]
    """Shape index within the instruction's (tuple) shape; () for the whole value."""
    is_phi: bool
    color: int
    size: int
    offset: int
    """Byte offset inside the allocation."""
    shape: str

    @property
    def label(self) -> str:
        """`name` or `name{1,0}` as XLA prints it."""
        if not self.index:
            return self.instruction
        return f"{self.instruction}{{{','.join(map(str, self.index))}}}"


@dataclass(frozen=True, slots=True, kw_only=True)
class XlaAllocation:
    index: int
    size: int
    color: int = 0
    parameter_number: int | None = None
    parameter_shape: str | None = None
    parameter_index: tuple[int, ...] = ()
    output_shape: str | None = None
    """Set when the allocation holds the entry computation's root (`output shape is |...|`)."""
    constant: bool = False
    thread_local: bool = False
    maybe_live_out: bool = False
    preallocated_temp: bool = False
    values: tuple[XlaValue, ...] = ()

    @property
    def is_parameter(self) -> bool:
        return self.parameter_number is not None

    @property
    def is_host(self) -> bool:
        return self.color == HOST_MEMORY_SPACE

    @property
    def kind(self) -> str:
        """One word: parameter, output, constant, thread-local, temp or other."""
        if self.is_parameter:
            return "parameter"
        if self.maybe_live_out:
            return "output"
        if self.constant:
            return "constant"
        if self.thread_local:
            return "thread-local"
        if self.preallocated_temp:
            return "temp"
        return "other"

    def to_json(self) -> dict[str, object]:
        return {
            "index": self.index,
            "size": self.size,
            "kind": self.kind,
            "color": self.color,
            "parameter_number": self.parameter_number,
            "parameter_index": list(self.parameter_index),
            "maybe_live_out": self.maybe_live_out,
            "values": [
                {"name": v.label, "size": v.size, "offset": v.offset, "shape": v.shape}
                for v in self.values
            ],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class XlaBufferAssignment:
    """XLA's allocations for one module, with the totals `memory_analysis()` reports."""

    allocations: tuple[XlaAllocation, ...]
    by_value: Mapping[tuple[str, tuple[int, ...]], tuple[int, XlaValue]] = field(
        default_factory=dict, compare=False, repr=False
    )
    """(instruction, shape index) -> (allocation index, value)."""

    def _total(self, keep: str) -> int:
        total = 0
        for a in self.allocations:
            if a.is_host:
                continue
            if keep == "argument" and a.is_parameter:
                total += a.size
            elif keep == "output" and a.maybe_live_out:
                total += a.size
            elif keep == "alias" and a.is_parameter and a.maybe_live_out:
                # The text has no "aliased with output" flag; a parameter allocation that may
                # live out is one (copy insertion copies a parameter returned undonated).
                total += a.size
            elif keep == "temp" and a.preallocated_temp:
                total += a.size
            elif keep == "constant" and a.constant and not a.maybe_live_out:
                total += a.size
        return total

    @property
    def argument_bytes(self) -> int:
        return self._total("argument")

    @property
    def output_bytes(self) -> int:
        return self._total("output")

    @property
    def alias_bytes(self) -> int:
        return self._total("alias")

    @property
    def temp_bytes(self) -> int:
        return self._total("temp")

    @property
    def constant_bytes(self) -> int:
        return self._total("constant")

    @property
    def whole_run_bytes(self) -> int:
        """Bytes of allocations held for the whole run (parameters, outputs, constants): what
        XLA's CPU client reports as `peak_memory_in_bytes` (its buffer assignment carries no
        heap-simulator trace, so temporaries add nothing)."""
        return (
            self.argument_bytes + self.output_bytes - self.alias_bytes + self.constant_bytes
        )

    def allocation_of(self, instruction: str, index: tuple[int, ...] = ()) -> XlaAllocation | None:
        hit = self.by_value.get((instruction, index))
        if hit is None:
            return None
        return self.allocations_by_index[hit[0]]

    @property
    def allocations_by_index(self) -> Mapping[int, XlaAllocation]:
        return {a.index: a for a in self.allocations}

    def to_json(self) -> dict[str, object]:
        return {
            "argument_bytes": self.argument_bytes,
            "output_bytes": self.output_bytes,
            "alias_bytes": self.alias_bytes,
            "temp_bytes": self.temp_bytes,
            "constant_bytes": self.constant_bytes,
            "allocations": [a.to_json() for a in self.allocations],
        }


def _index(text: str | None) -> tuple[int, ...]:
    if not text:
        return ()
    inner = text.strip().strip("{}").strip()
    if not inner:
        return ()
    return tuple(int(p) for p in inner.split(","))


def _header(match: re.Match[str]) -> dict[str, object]:
    rest = match.group(3)
    head: dict[str, object] = {"index": int(match.group(1)), "size": int(match.group(2))}
    if (m := _COLOR_RE.search(rest)) is not None:
        head["color"] = int(m.group(1))
    if (m := _PARAM_RE.search(rest)) is not None:
        head["parameter_number"] = int(m.group(1))
        head["parameter_shape"] = m.group(2)
        head["parameter_index"] = _index(m.group(3))
    if (m := _OUTPUT_RE.search(rest)) is not None:
        head["output_shape"] = m.group(1)
    # Flags come after the shapes, which may hold any text between bars: look only past them.
    flags = rest.rsplit("|", 1)[-1]
    head["constant"] = ", constant" in flags
    head["thread_local"] = ", thread-local" in flags
    head["maybe_live_out"] = ", maybe-live-out" in flags
    head["preallocated_temp"] = ", preallocated-temp" in flags
    return head


def _value(match: re.Match[str]) -> XlaValue:
    return XlaValue(
        id=int(match.group(1)),
        instruction=match.group(2),
        index=_index(match.group(3)),
        is_phi=match.group(4) is not None,
        color=int(match.group(5) or 0),
        size=int(match.group(6)),
        offset=int(match.group(7)),
        shape=match.group(8),
    )


def parse_buffer_assignment(text: str, *, file: str | None = None) -> XlaBufferAssignment:
    """Parse XLA's buffer-assignment text. Lines after the allocation list (XLA adds summaries
    in some versions) are ignored; a malformed allocation or value line, a value line before
    any allocation, or a text with no allocation at all is a ParseError naming the line."""
    heads: list[dict[str, object]] = []
    values: list[list[XlaValue]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.startswith("allocation "):
            heads.append(_header(_match(_ALLOC_RE, line, "allocation header", file, lineno)))
            values.append([])
        elif line.lstrip().startswith("value: <"):
            if not values:
                raise ParseError("value line before any allocation", file=file, line=lineno,
                                 column=1)
            values[-1].append(_value(_match(_VALUE_RE, line, "value line", file, lineno)))
        elif heads and line.strip() and not line.startswith(" "):
            break  # the allocation list ends at the first unindented line of another kind
    if not heads:
        raise ParseError("no allocations found: not an XLA buffer-assignment text", file=file,
                         line=1, column=1)
    allocations = tuple(
        XlaAllocation(values=tuple(vals), **head)  # type: ignore[arg-type]
        for head, vals in zip(heads, values, strict=True)
    )
    by_value: dict[tuple[str, tuple[int, ...]], tuple[int, XlaValue]] = {}
    for a in allocations:
        for v in a.values:
            by_value[(v.instruction, v.index)] = (a.index, v)
    return XlaBufferAssignment(allocations=allocations, by_value=by_value)


def _match(pattern: re.Pattern[str], line: str, what: str, file: str | None,
           lineno: int) -> re.Match[str]:
    m = pattern.match(line)
    if m is None:
        raise ParseError(f"malformed {what}", file=file, line=lineno, column=1)
    return m
