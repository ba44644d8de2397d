"""Optimized-HLO IR: `parse(text)`, `parse_file(path)`, the model types and the printer.

    from hloscope import hlo
    m = hlo.parse_file("module.hlo")
    for comp, ins in m.instructions(): ...
    text = hlo.print_module(m)      # HLO text XLA's own parser accepts
    hlo.list_modules(text)          # names of the modules of a multi-module file
"""

from hloscope.errors import ParseError
from hloscope.hlo.model import (
    ELEMENT_BITS,
    Computation,
    FileLocation,
    GroupsForm,
    InputOutputAlias,
    Instruction,
    Layout,
    Metadata,
    Module,
    ReplicaGroups,
    Role,
    Shape,
    Sharding,
    ShardingKind,
    StackFrame,
    TileAssignment,
)
from hloscope.hlo.parser import list_modules, parse, parse_file
from hloscope.hlo.printer import print_module
from hloscope.hlo.split import ModulePart, split_modules

__all__ = [
    "ELEMENT_BITS",
    "Computation",
    "FileLocation",
    "GroupsForm",
    "InputOutputAlias",
    "Instruction",
    "Layout",
    "Metadata",
    "Module",
    "ModulePart",
    "ParseError",
    "ReplicaGroups",
    "Role",
    "Shape",
    "Sharding",
    "ShardingKind",
    "StackFrame",
    "TileAssignment",
    "list_modules",
    "parse",
    "parse_file",
    "print_module",
    "split_modules",
]
