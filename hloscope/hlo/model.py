"""The IR of (optimized) HLO: frozen, slotted values built by `hloscope.hlo.parse`.

Conventions
- Names are stored without the leading `%`.
- Attributes the IR does not model as fields are kept as raw text in `Instruction.attributes`
  (an ordered tuple of `(key, raw_value)` pairs), so newer XLA attributes are read, not refused,
  and the printer can write them back.
- Mappings in these values are plain dicts typed as `Mapping`: treat them as read-only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

# Bits per element of each HLO primitive type (xla/primitive_util.h). Sub-byte types occupy
# one byte each unless a layout sets element_size_in_bits (packed); see `Shape.byte_size`.
ELEMENT_BITS: Mapping[str, int] = {
    "pred": 8,
    "s1": 1, "u1": 1,
    "s2": 2, "u2": 2,
    "s4": 4, "u4": 4,
    "s8": 8, "u8": 8,
    "s16": 16, "u16": 16,
    "s32": 32, "u32": 32,
    "s64": 64, "u64": 64,
    "f4e2m1fn": 4,
    "f8e3m4": 8, "f8e4m3": 8, "f8e4m3fn": 8, "f8e4m3b11fnuz": 8, "f8e4m3fnuz": 8,
    "f8e5m2": 8, "f8e5m2fnuz": 8, "f8e8m0fnu": 8,
    "bf16": 16, "f16": 16,
    "f32": 32, "f64": 64,
    "c64": 64, "c128": 128,
    "token": 0,
    "opaque": 0,
}


@dataclass(frozen=True, slots=True)
class Layout:
    """An array layout: `{1,0:T(8,128)(2,1)S(1)}`."""

    minor_to_major: tuple[int, ...]
    tiles: tuple[tuple[int, ...], ...] = ()
    """Tiling, outermost first: `T(8,128)(2,1)` -> ((8, 128), (2, 1)). A `*` dim is -1."""
    memory_space: int = 0
    """`S(n)`: 0 is device HBM; on TPU 1 is VMEM; host offload uses 5."""
    element_size_bits: int = 0
    """`E(n)`: packed sub-byte element size; 0 means the type's natural size."""
    extra: str = ""
    """Other layout items (`D(...)`, `L(...)`, `#(...)`, `*(...)`, `P(...)`...) as raw text."""


@dataclass(frozen=True, slots=True)
class Shape:
    """An HLO shape: an array (`f32[8,<=16]{1,0}`), a tuple, a token or opaque."""

    element_type: str
    """Primitive type in HLO spelling (`f32`, `bf16`, `pred`...), `tuple`, `token`, `opaque`, or
    `buffer` (`b(f32[4])`, a buffer holding the one array in `tuple_shapes`)."""
    dims: tuple[int, ...] = ()
    dynamic: tuple[bool, ...] = ()
    """Per dim, True when written `<=N` (N is the bound, stored in `dims`)."""
    layout: Layout | None = None
    """None when the text wrote no layout (XLA then gives arrays its default, major-to-minor
    `{n-1,...,0}`); `f32[]{:T(256)}` is a Layout with no minor_to_major."""
    tuple_shapes: tuple[Shape, ...] = ()

    @property
    def is_tuple(self) -> bool:
        return self.element_type == "tuple"

    @property
    def is_array(self) -> bool:
        return self.element_type not in ("tuple", "token", "opaque", "buffer")

    @property
    def rank(self) -> int:
        return len(self.dims)

    @property
    def element_count(self) -> int:
        n = 1
        for d in self.dims:
            n *= d
        return n

    @property
    def element_bits(self) -> int:
        if self.layout is not None and self.layout.element_size_bits:
            return self.layout.element_size_bits
        return ELEMENT_BITS.get(self.element_type, 0)

    def byte_size(self, *, pointer_size: int = 8) -> int:
        """Bytes of this shape, as `ShapeUtil::ByteSizeOf`: arrays are element_count x element
        size (sub-byte types one byte each unless packed), tuples are one pointer per element."""
        if self.element_type == "tuple":
            return pointer_size * len(self.tuple_shapes)
        if self.element_type == "buffer":
            return self.tuple_shapes[0].byte_size(pointer_size=pointer_size)
        if not self.is_array:
            return 0
        bits = ELEMENT_BITS.get(self.element_type, 0)
        if self.layout is not None and self.layout.element_size_bits:
            return (self.element_count * self.layout.element_size_bits + 7) // 8
        return self.element_count * max(bits, 8) // 8 if bits else 0

    def leaves(self) -> Iterator[tuple[tuple[int, ...], Shape]]:
        """Array/token leaves with their tuple index paths, depth first."""
        if self.element_type == "tuple":
            for i, s in enumerate(self.tuple_shapes):
                for path, leaf in s.leaves():
                    yield (i, *path), leaf
        else:
            yield (), self

    def leaf(self, index: tuple[int, ...]) -> Shape:
        s = self
        for i in index:
            s = s.tuple_shapes[i]
        return s


@dataclass(frozen=True, slots=True)
class Metadata:
    """`metadata={op_type="dot" op_name="jit(f)/dot_general" source_file=... stack_frame_id=3}`."""

    op_type: str = ""
    op_name: str = ""
    source_file: str = ""
    source_line: int = 0
    source_end_line: int = 0
    source_column: int = 0
    source_end_column: int = 0
    stack_frame_id: int = 0
    extra: tuple[tuple[str, str], ...] = ()
    """Other metadata keys (deduplicated_name, scheduling_name, profile_type...) as raw text."""


class ShardingKind(str, Enum):  # noqa: UP042 (str() and format() of members stay as they are)
    REPLICATED = "replicated"
    MAXIMAL = "maximal"
    MANUAL = "manual"
    TILED = "tiled"
    TUPLE = "tuple"
    UNKNOWN = "unknown"
    UNREDUCED = "unreduced"


@dataclass(frozen=True, slots=True)
class TileAssignment:
    """Devices laid out over the tile grid, explicit (`devices=[2,2]0,1,2,3`) or as an iota
    (`devices=[4,1,2]<=[2,4]T(1,0)`: iota over `reshape_dims`, transposed by `transpose_perm`,
    reshaped to `dims`)."""

    dims: tuple[int, ...]
    devices: tuple[int, ...] | None = None
    """Explicit device list in row-major order of `dims`; None for the iota form."""
    reshape_dims: tuple[int, ...] = ()
    transpose_perm: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Sharding:
    """An HloSharding, e.g. `{devices=[4,1,2]<=[8] last_tile_dim_replicate}`."""

    kind: ShardingKind
    tile_assignment: TileAssignment | None = None
    """For TILED (and for manual/replicated subgroups): includes trailing subgroup dims."""
    last_tile_dims: tuple[str, ...] = ()
    """Types of trailing subgroup dims: 'replicated', 'manual', 'unreduced'. A
    `last_tile_dim_replicate` sharding is read as last_tile_dims=('replicated',)."""
    device: int | None = None
    """For MAXIMAL: the device it is pinned to."""
    tuple_elements: tuple[Sharding, ...] = ()
    extra: str = ""
    """Items not modelled (`metadata={...}`, `shard_as 1`, `shard_like 0`...), as raw text."""


class GroupsForm(str, Enum):  # noqa: UP042 (str() and format() of members stay as they are)
    EXPLICIT = "explicit"  # {{0,1},{2,3}}
    IOTA = "iota"  # [4,2]<=[2,4]T(1,0)
    MESH = "mesh"  # mesh['axis_0'=2,'axis_1'=4] {'axis_0'}, optionally with device_ids=(...)


@dataclass(frozen=True, slots=True)
class ReplicaGroups:
    """`replica_groups=` in any of its three forms; `groups` is always expanded.

    For IOTA, `iota_dims`/`reshape_dims`/`transpose_perm` keep the compact form: groups are rows
    of iota(reshape_dims) transposed by transpose_perm and reshaped to iota_dims. For MESH,
    `mesh_axes` is ((name, size), ...) and `mesh_selected` the axes that form each group
    (`mesh['x'=2,'y'=4], device_ids=([4,2]T(1,0)) {'y':(1)2,'x'}`: mesh_selected ('y', 'x'),
    mesh_sub_axes ((1, 2), None)).
    """

    form: GroupsForm
    groups: tuple[tuple[int, ...], ...]
    iota_dims: tuple[int, ...] = ()
    reshape_dims: tuple[int, ...] = ()
    transpose_perm: tuple[int, ...] = ()
    mesh_axes: tuple[tuple[str, int], ...] = ()
    mesh_selected: tuple[str, ...] = ()
    mesh_sub_axes: tuple[tuple[int, int] | None, ...] = ()
    """Per `mesh_selected` entry, `(pre_size, size)` of a sub-axis (`'x':(2)4`: the 4-way
    factor of `x` after its 2-way major factor) or None for the whole axis; empty when no
    entry is a sub-axis."""
    mesh_device_ids: tuple[int, ...] = ()
    """The device at each mesh position, row-major over `mesh_axes` (`device_ids=(...)`);
    empty when position p is device p. Expanded from the iota form when written so."""
    mesh_device_reshape: tuple[int, ...] = ()
    mesh_device_perm: tuple[int, ...] = ()
    """`device_ids=([64,8]T(1,0))`: iota over mesh_device_reshape transposed by
    mesh_device_perm gives mesh_device_ids; both empty when the ids were written as a list
    (or not at all)."""


class Role(str, Enum):  # noqa: UP042 (str() and format() of members stay as they are)
    """What a computation is for, from how the module calls it."""

    ENTRY = "entry"
    FUSION = "fusion"  # body of a fusion instruction
    WHILE_BODY = "while_body"
    WHILE_CONDITION = "while_condition"
    BRANCH = "branch"  # conditional branch
    REDUCER = "reducer"  # to_apply of reduce, all-reduce, scatter, sort comparator, map...
    ASYNC = "async"  # wrapped computation of an async-start
    CALLED = "called"  # call, custom-call called_computations, other
    UNUSED = "unused"  # not reachable from any caller


@dataclass(frozen=True, slots=True)
class Instruction:
    """One HLO instruction: `%name = shape opcode(operands), attr=value, ...`."""

    name: str
    opcode: str
    shape: Shape
    operands: tuple[str, ...] = ()
    """Operand instruction names, in order (no `%`)."""
    attributes: tuple[tuple[str, str], ...] = ()
    """Attributes not modelled below, `(key, raw text)` in source order."""
    called: tuple[str, ...] = ()
    """Called computations in XLA's order (calls/to_apply/condition,body/branches...)."""
    metadata: Metadata | None = None
    sharding: Sharding | None = None
    backend_config: Any = field(default=None, hash=False)
    """Parsed JSON when backend_config is JSON (a dict), else None; raw text in
    `backend_config_text`. Left out of the hash (a dict has none; the text is hashed), so
    instructions can be set members and dict keys."""
    backend_config_text: str | None = None
    fusion_kind: str | None = None
    """kLoop, kInput, kOutput, kCustom for fusions."""
    control_predecessors: tuple[str, ...] = ()
    replica_groups: ReplicaGroups | None = None
    source_target_pairs: tuple[tuple[int, int], ...] | None = None
    frontend_attributes: tuple[tuple[str, str], ...] = ()
    parameter_number: int | None = None
    literal: str | None = None
    """Constants: the literal as written (`{1, 2}`, `0`, `{...}` when elided)."""
    is_root: bool = False
    async_wrapped_opcode: str | None = None
    """For XLA's async sugar (`slice-start(...)`, opcode async-start): the wrapped opcode
    (`slice`). The wrapped computation is then implicit, so `called` is empty, and the wrapped
    op's attributes (`slice={...}`) stay in `attributes`."""
    line: int = field(default=0, compare=False)
    """1-based line of this instruction in the source text (0 if not from text). Not part of
    equality, so a module equals its re-parsed printout."""

    def attr(self, key: str, default: str | None = None) -> str | None:
        """Raw text of an unmodelled attribute, e.g. attr('dimensions') -> '{1}'."""
        for k, v in self.attributes:
            if k == key:
                return v
        return default

    @property
    def op_name(self) -> str:
        return self.metadata.op_name if self.metadata else ""


@dataclass(frozen=True, slots=True)
class Computation:
    name: str
    instructions: tuple[Instruction, ...]
    """In text order; in a scheduled module this is the schedule."""
    root: str
    """Name of the ROOT instruction."""
    is_entry: bool = False
    role: Role = Role.CALLED
    parameters: tuple[str, ...] = ()
    """Parameter instruction names ordered by parameter number."""
    by_name: Mapping[str, Instruction] = field(default_factory=dict, compare=False, repr=False)
    """Name -> instruction within this computation."""
    line: int = field(default=0, compare=False)
    execution_thread: str | None = None
    """`execution_thread="..."` written after the computation's `}` (None when absent)."""

    @property
    def root_instruction(self) -> Instruction:
        return self.by_name[self.root]

    def __getitem__(self, name: str) -> Instruction:
        return self.by_name[name]

    def __len__(self) -> int:
        return len(self.instructions)


@dataclass(frozen=True, slots=True)
class FileLocation:
    file_name_id: int
    function_name_id: int
    line: int
    end_line: int = 0
    column: int = 0
    end_column: int = 0


@dataclass(frozen=True, slots=True)
class StackFrame:
    file_location_id: int
    parent_frame_id: int
    """Id of the calling frame; 0 means no parent. XLA's text writes this plus one
    (`parent_frame_id=1` is a frame with no parent) and its parser subtracts one; this field
    holds the real parent id."""


@dataclass(frozen=True, slots=True)
class InputOutputAlias:
    """One entry of `input_output_alias={ {0}: (1, {}, may-alias) }`."""

    output_index: tuple[int, ...]
    parameter_number: int
    parameter_index: tuple[int, ...]
    kind: str = "may-alias"


@dataclass(frozen=True, slots=True)
class Module:
    name: str
    computations: tuple[Computation, ...]
    """In text order (XLA prints callees before callers)."""
    entry: str
    """Name of the entry computation."""
    attributes: tuple[tuple[str, str], ...] = ()
    """All header attributes after the name, raw, in order (incl. the ones modelled below)."""
    is_scheduled: bool = False
    num_partitions: int = 1
    replica_count: int = 1
    entry_computation_layout: str | None = None
    """The header's `entry_computation_layout` value as written, braces included."""
    input_output_alias: tuple[InputOutputAlias, ...] = ()
    file_names: Mapping[int, str] = field(default_factory=dict)
    function_names: Mapping[int, str] = field(default_factory=dict)
    file_locations: Mapping[int, FileLocation] = field(default_factory=dict)
    stack_frames: Mapping[int, StackFrame] = field(default_factory=dict)
    has_header: bool = True
    by_name: Mapping[str, Computation] = field(default_factory=dict, compare=False, repr=False)
    """Name -> computation."""
    source_path: str | None = field(default=None, compare=False)
    """File the module was read from, for error messages."""

    @property
    def entry_computation(self) -> Computation:
        return self.by_name[self.entry]

    def computation(self, name: str) -> Computation:
        return self.by_name[name]

    def instructions(self) -> Iterator[tuple[Computation, Instruction]]:
        for c in self.computations:
            for i in c.instructions:
                yield c, i

    @property
    def instruction_count(self) -> int:
        return sum(len(c.instructions) for c in self.computations)
