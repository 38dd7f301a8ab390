"""CDR bytes of ROS 2 messages, with numpy arrays standing in for long sequences of small messages.

rclpy builds one Python object per ``geometry_msgs/Point`` of a mesh marker (≈7,000 per hand
per frame) and converts each to C before serialising: milliseconds per message. Here the
message is written straight to the wire format (plain CDR, little endian, the encapsulation
rmw_fastrtps uses), walking the message's own type description (``SLOT_TYPES``), and a
sequence field may be given as one array instead (``PackedFields``):
``(N, 3) float64`` for ``Point[]``, ``(N, 4) float32`` for ``ColorRGBA[]``, ``(F, 3) uint32`` for
``MeshTriangle[]``, any sequence of a message whose fields share one numeric type. Publishers
take the bytes as they are (``publisher.publish(data)``). The reverse direction reads the
header and pixel buffer of a serialised ``sensor_msgs/Image`` or ``CompressedImage`` as a
view of the received bytes (subscriptions with ``raw=True``), without a message object.

Tests check the bytes against ``rclpy.serialization.serialize_message`` message by message.
"""

from __future__ import annotations

import dataclasses
import enum
import operator
import struct
from collections.abc import Callable
from typing import Any

import numpy as np
from rosidl_parser import definition as idl

from hand_pose_ros.timing import NS_PER_S

__all__ = ["PackedFields", "serialize", "ImageView", "parse_image", "parse_compressed_image", "CdrError"]

# Encapsulation header of plain CDR, little endian (what rmw_fastrtps writes and expects).
CDR_LE_HEADER = b"\x00\x01\x00\x00"

# rosidl basic type name → numpy dtype (little endian) of its wire form.
_DTYPES: dict[str, np.dtype] = {
    name: np.dtype(code).newbyteorder("<")
    for name, code in {
        "boolean": "u1", "octet": "u1", "char": "u1", "uint8": "u1", "int8": "i1",
        "uint16": "u2", "int16": "i2", "uint32": "u4", "int32": "i4", "uint64": "u8", "int64": "i8",
        "float": "f4", "double": "f8",
    }.items()
}


# rosidl basic type name → struct code of its wire form (one value, little endian): the
# scalar path of the writer (a numpy round trip per scalar cost ≈ 3 µs, ≈ 400 scalars per marker).
# Not byte/octet, char or boolean: rclpy holds those as bytes or bools, left to numpy as before.
_STRUCT_CODES: dict[str, str] = {
    "uint8": "B", "int8": "b", "uint16": "H", "int16": "h", "uint32": "I", "int32": "i",
    "uint64": "Q", "int64": "q", "float": "f", "double": "d",
}


class CdrError(ValueError):
    """A message that cannot be written, or bytes that are not the expected message."""


class PackedFields:
    """Sequence fields given as arrays: ``packed.set(marker, "points", xyz)`` then ``serialize``.

    The message's own field is ignored (leave it empty); the message object is kept alive
    here, so its identity names it until ``serialize`` has run.
    """

    def __init__(self) -> None:
        self._arrays: dict[tuple[int, str], tuple[Any, np.ndarray]] = {}

    def set(self, msg: Any, field: str, array: np.ndarray) -> None:
        if f"_{field}" not in type(msg).__slots__:
            raise CdrError(f"{type(msg).__name__} has no field {field!r}")
        self._arrays[(id(msg), field)] = (msg, np.asarray(array))

    def get(self, msg: Any, field: str) -> np.ndarray | None:
        entry = self._arrays.get((id(msg), field))
        return None if entry is None else entry[1]


def serialize(msg: Any, packed: PackedFields | None = None) -> bytes:
    """A ROS 2 message → its serialised bytes (equal to rclpy's ``serialize_message``).

    Raises:
        CdrError: a packed array whose dtype or width does not fit its field, or a field
            type this writer does not handle (wide strings and characters).
    """
    return _serialize(msg, packed)[0]


def _serialize(msg: Any, packed: PackedFields | None) -> tuple[bytes, list[range]]:
    """``serialize`` and the byte ranges of its alignment padding (rmw leaves those
    uninitialised, so a comparison with rclpy's bytes must skip them)."""
    writer = _Writer(packed)
    writer.message(msg)
    offset = len(CDR_LE_HEADER)
    return CDR_LE_HEADER + bytes(writer.buffer), [range(r.start + offset, r.stop + offset) for r in writer.padding]


@dataclasses.dataclass(frozen=True)
class _Element:
    """How a packed sequence's elements are laid out: ``width`` values of ``dtype`` each."""

    dtype: np.dtype
    width: int


_ELEMENT_LAYOUTS: dict[type, _Element] = {}


def _element_layout(msg_type: type) -> _Element:
    """The flat layout of a message whose fields are basic values or arrays of one numeric type."""
    layout = _ELEMENT_LAYOUTS.get(msg_type)
    if layout is not None:
        return layout
    names, width = set(), 0
    for slot in msg_type.SLOT_TYPES:
        if isinstance(slot, idl.BasicType):
            names.add(slot.typename)
            width += 1
        elif isinstance(slot, idl.Array) and isinstance(slot.value_type, idl.BasicType):
            names.add(slot.value_type.typename)
            width += slot.size
        else:
            names.add("")
    if len(names) != 1 or "" in names or "boolean" in names:
        raise CdrError(f"{msg_type.__name__} does not have one numeric field type; it cannot be packed")
    layout = _ELEMENT_LAYOUTS[msg_type] = _Element(_DTYPES[names.pop()], width)
    return layout


class _Writer:
    def __init__(self, packed: PackedFields | None) -> None:
        self.buffer = bytearray()
        self.packed = packed
        self.padding: list[range] = []

    def align(self, size: int) -> None:
        pad = -len(self.buffer) % size
        if pad:
            self.padding.append(range(len(self.buffer), len(self.buffer) + pad))
            self.buffer += b"\x00" * pad

    def u32(self, value: int) -> None:
        self.align(4)
        self.buffer += struct.pack("<I", value)

    def string(self, value: str) -> None:
        data = value.encode("utf-8")
        self.u32(len(data) + 1)
        self.buffer += data + b"\x00"

    def array(self, values: Any, dtype: np.dtype) -> None:
        self.align(min(dtype.itemsize, 8))
        self.buffer += np.asarray(values).astype(dtype, copy=False).tobytes()

    def message(self, msg: Any) -> None:
        flat = _flat_layout(type(msg))
        if flat is not None:  # all its values of one size: one alignment, one pack, no padding inside
            values = flat.values(msg)
            try:
                data = flat.struct.pack(*values)
            except (struct.error, OverflowError):  # a value out of its type's range: field by field, as numpy does
                pass
            else:
                self.align(flat.align)
                self.buffer += data
                return
        for field, kind, slot in _fields_plan(type(msg)):
            if kind is _Kind.SCALAR:
                self.scalar(slot.typename, getattr(msg, field))
            elif kind is _Kind.STRING:
                self.string(getattr(msg, field))
            elif kind is _Kind.MESSAGE:
                self.message(getattr(msg, field))
            else:  # sequences and arrays (only they can be packed), and what ``value`` refuses
                override = self.packed.get(msg, field) if self.packed is not None else None
                self.value(slot, getattr(msg, field) if override is None else None, override, type(msg), field)

    def scalar(self, typename: str, value: Any) -> None:
        code = _STRUCT_CODES.get(typename)
        if code is None:
            self.array([value], _DTYPES[typename])
            return
        self.align(min(struct.calcsize(code), 8))
        try:
            self.buffer += struct.pack("<" + code, value)
        except (struct.error, OverflowError):  # what numpy does with it (wraps, rounds to inf, refuses)
            self.buffer += np.asarray([value]).astype(_DTYPES[typename], copy=False).tobytes()

    def value(self, slot: Any, value: Any, packed: np.ndarray | None, owner: type, field: str) -> None:
        if isinstance(slot, idl.BasicType):
            self.scalar(slot.typename, value)
        elif isinstance(slot, idl.AbstractString):
            if isinstance(slot, idl.AbstractWString):
                raise CdrError(f"{owner.__name__}.{field}: wide strings are not supported")
            self.string(value)
        elif isinstance(slot, idl.NamespacedType):
            self.message(value)
        elif isinstance(slot, idl.AbstractNestedType):
            item = slot.value_type
            if packed is not None:
                self.packed_sequence(slot, packed, owner, field)
                return
            if not isinstance(slot, idl.Array):
                self.u32(len(value))
            if isinstance(item, idl.BasicType):
                self.array(value, _DTYPES[item.typename])
            else:
                for element in value:
                    self.value(item, element, None, owner, field)
        else:
            raise CdrError(f"{owner.__name__}.{field}: unsupported field type {type(slot).__name__}")

    def packed_sequence(self, slot: Any, array: np.ndarray, owner: type, field: str) -> None:
        item = slot.value_type
        if isinstance(item, idl.BasicType):
            layout = _Element(_DTYPES[item.typename], 1)
            count = array.size
        elif isinstance(item, idl.NamespacedType):
            layout = _element_layout(_message_class(item))
            if array.ndim != 2 or array.shape[1] != layout.width:
                raise CdrError(
                    f"{owner.__name__}.{field}: expected an (N, {layout.width}) array, got shape {array.shape}"
                )
            count = array.shape[0]
        else:
            raise CdrError(f"{owner.__name__}.{field}: a sequence of {type(item).__name__} cannot be packed")
        if array.dtype.kind != layout.dtype.kind or array.dtype.itemsize != layout.dtype.itemsize:
            raise CdrError(f"{owner.__name__}.{field}: expected {layout.dtype.name} values, got {array.dtype.name}")
        if isinstance(slot, idl.Array):
            if count != slot.size:
                raise CdrError(f"{owner.__name__}.{field}: expected {slot.size} elements, got {count}")
        else:
            self.u32(count)
        self.array(array, layout.dtype)


class _Kind(enum.Enum):
    """How ``_Writer.message`` writes a field (``_fields_plan``)."""

    SCALAR = enum.auto()
    STRING = enum.auto()
    MESSAGE = enum.auto()
    OTHER = enum.auto()  # through ``_Writer.value``


_PLANS: dict[type, list[tuple[str, _Kind, Any]]] = {}


def _fields_plan(msg_type: type) -> list[tuple[str, _Kind, Any]]:
    """(field name, kind, rosidl slot type) of each field of ``msg_type``, classified once per type."""
    plan = _PLANS.get(msg_type)
    if plan is None:
        plan = []
        for slot_name, slot in zip(msg_type.__slots__, msg_type.SLOT_TYPES):
            if isinstance(slot, idl.BasicType):
                kind = _Kind.SCALAR
            elif isinstance(slot, idl.AbstractString) and not isinstance(slot, idl.AbstractWString):
                kind = _Kind.STRING
            elif isinstance(slot, idl.NamespacedType):
                kind = _Kind.MESSAGE
            else:
                kind = _Kind.OTHER
            plan.append((slot_name[1:], kind, slot))
        _PLANS[msg_type] = plan
    return plan


@dataclasses.dataclass(frozen=True)
class _Flat:
    """A message type whose fields, nested messages' included, are basic values of one size
    (``geometry_msgs/Point``, ``Pose``, ``std_msgs/ColorRGBA``, ``builtin_interfaces/Time``):
    written as one struct after one alignment."""

    struct: struct.Struct
    align: int
    values: Callable[[Any], tuple]


_FLAT_LAYOUTS: dict[type, _Flat | None] = {}


def _flat_fields(msg_type: type, prefix: str) -> list[tuple[str, str]] | None:
    """(dotted attribute path, struct code) of every value of ``msg_type`` in wire order; None
    where a field is not a basic value (strings, sequences, arrays) or has no struct code."""
    fields: list[tuple[str, str]] = []
    for field, kind, slot in _fields_plan(msg_type):
        path = prefix + field
        if kind is _Kind.SCALAR and slot.typename in _STRUCT_CODES:
            fields.append((path, _STRUCT_CODES[slot.typename]))
        elif kind is _Kind.MESSAGE:
            nested = _flat_fields(_message_class(slot), path + ".")
            if nested is None:
                return None
            fields.extend(nested)
        else:
            return None
    return fields


def _flat_layout(msg_type: type) -> _Flat | None:
    if msg_type in _FLAT_LAYOUTS:
        return _FLAT_LAYOUTS[msg_type]
    fields = _flat_fields(msg_type, "")
    flat = None
    if fields and len({struct.calcsize(code) for _, code in fields}) == 1:
        getter = operator.attrgetter(*(path for path, _ in fields))
        flat = _Flat(struct=struct.Struct("<" + "".join(code for _, code in fields)),
                     align=min(struct.calcsize(fields[0][1]), 8),
                     values=(lambda msg: (getter(msg),)) if len(fields) == 1 else getter)
    _FLAT_LAYOUTS[msg_type] = flat
    return flat


_CLASSES: dict[tuple[str, ...], type] = {}


def _message_class(item: idl.NamespacedType) -> type:
    key = (*item.namespaces, item.name)
    cls = _CLASSES.get(key)
    if cls is None:
        module = __import__(".".join(item.namespaces), fromlist=[item.name])
        cls = _CLASSES[key] = getattr(module, item.name)
    return cls


# --- reading images from received bytes ---------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ImageView:
    """The fields of a serialised image message; ``data`` is a view of the received bytes.

    ``height``/``width``/``encoding``/``is_bigendian``/``step`` are set for ``sensor_msgs/Image``;
    ``format`` for ``CompressedImage`` (its size fields stay 0 and its encoding empty).
    """

    stamp_sec: int
    stamp_nanosec: int
    frame_id: str
    data: memoryview
    height: int = 0
    width: int = 0
    encoding: str = ""
    is_bigendian: int = 0
    step: int = 0
    format: str = ""

    @property
    def stamp_ns(self) -> int:
        return self.stamp_sec * NS_PER_S + self.stamp_nanosec


class _Reader:
    def __init__(self, raw: bytes | memoryview, what: str) -> None:
        self.view = memoryview(raw)
        self.what = what
        if bytes(self.view[:4]) != CDR_LE_HEADER:
            raise CdrError(f"{what}: not little-endian CDR (encapsulation {bytes(self.view[:4]).hex()})")
        self.body = self.view[4:]
        self.pos = 0

    def take(self, size: int, align: int) -> memoryview:
        self.pos += -self.pos % align
        end = self.pos + size
        if size < 0 or end > len(self.body):
            raise CdrError(f"{self.what}: truncated ({len(self.body)} bytes, a field needs {end})")
        chunk, self.pos = self.body[self.pos:end], end
        return chunk

    def scalar(self, code: str) -> int:
        size = struct.calcsize(code)
        return struct.unpack(f"<{code}", self.take(size, size))[0]

    def string(self) -> str:
        length = self.scalar("I")
        data = bytes(self.take(length, 1))
        if length == 0 or data[-1] != 0:
            raise CdrError(f"{self.what}: malformed string")
        return data[:-1].decode("utf-8", errors="replace")

    def octets(self) -> memoryview:
        return self.take(self.scalar("I"), 1)


def parse_image(raw: bytes | memoryview, what: str = "image") -> ImageView:
    """Serialised ``sensor_msgs/Image`` → its fields, pixels as a zero-copy view.

    Raises:
        CdrError: bytes that are not a complete Image message.
    """
    r = _Reader(raw, what)
    sec, nanosec, frame_id = r.scalar("i"), r.scalar("I"), r.string()
    height, width, encoding = r.scalar("I"), r.scalar("I"), r.string()
    is_bigendian, step = r.scalar("B"), r.scalar("I")
    return ImageView(sec, nanosec, frame_id, r.octets(), height=height, width=width, encoding=encoding,
                     is_bigendian=is_bigendian, step=step)


def parse_compressed_image(raw: bytes | memoryview, what: str = "compressed image") -> ImageView:
    """Serialised ``sensor_msgs/CompressedImage`` → its fields, data as a zero-copy view.

    Raises:
        CdrError: bytes that are not a complete CompressedImage message.
    """
    r = _Reader(raw, what)
    sec, nanosec, frame_id = r.scalar("i"), r.scalar("I"), r.string()
    fmt = r.string()
    return ImageView(sec, nanosec, frame_id, r.octets(), format=fmt)

