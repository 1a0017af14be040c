"""Evasive artefacts, one builder per class of evasion; built byte by byte, never loaded.

Each builder makes the smallest file that a real loader would accept (and so run)
while a stricter or single-view scanner would not see the payload.
"""

from __future__ import annotations

import io
import json
import struct
import tarfile
import zipfile
import zlib

from tests.supplychain import corpus

SYSTEM_CALL = b"cos\nsystem\n(S'id'\ntR."
"""Protocol 0 ``os.system('id')``: GLOBAL, MARK, STRING, TUPLE, REDUCE, STOP."""


# --- 1. format detection by what loaders accept -------------------------------------------


def hex_int_pickle() -> bytes:
    """``int('0x1f', 0)`` is how the unpickler reads INT, so a hex first integer is valid."""
    return b"I0x1f\n0" + SYSTEM_CALL


def long_string_pickle(length: int = 70_000) -> bytes:
    """A first STRING longer than any line limit a sniffer might use."""
    return b"S'" + b"A" * length + b"'\n0" + SYSTEM_CALL


def ssti(prefix: str = "") -> str:
    return prefix + "{% for message in messages %}{{ message.__class__.__mro__ }}{% endfor %}"


def safetensors_header_past_eof() -> bytes:
    return (
        struct.pack("<Q", 1 << 20)
        + b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}'
    )


def pickle_with_zip_tail() -> bytes:
    """``pickle.load``/legacy ``torch.load`` read the front; zip readers read the back."""
    tail = io.BytesIO()
    with zipfile.ZipFile(tail, "w") as zf:
        zf.writestr("readme.txt", "benign")
    return corpus.os_system_reduce() + tail.getvalue()


# --- 3. NumPy headers NumPy tolerates -----------------------------------------------------


def object_npy(header: str, *, major: int = 1) -> bytes:
    """An object-dtype ``.npy`` whose data is the ``os.system`` pickle."""
    raw = header.encode("latin1") + b"\n"
    size = struct.pack("<H", len(raw)) if major == 1 else struct.pack("<I", len(raw))
    return b"\x93NUMPY" + bytes([major, 0]) + size + raw + corpus.os_system_reduce()


# --- 4. zip readers that disagree ---------------------------------------------------------


def _local(name: str, data: bytes) -> bytes:
    crc = zlib.crc32(data)
    head = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0, 0, crc, len(data),
                       len(data), len(name), 0)  # fmt: skip
    return head + name.encode() + data


def _central(name: str, data: bytes, offset: int) -> bytes:
    crc = zlib.crc32(data)
    head = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, crc,
                       len(data), len(data), len(name), 0, 0, 0, 0, 0, offset)  # fmt: skip
    return head + name.encode()


def _eocd(entries: int, cd_size: int, cd_offset: int) -> bytes:
    return struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, entries, entries, cd_size, cd_offset, 0)


def two_central_directories() -> bytes:
    """miniz follows the declared offset to the malicious directory; ``zipfile`` finds the
    benign one just before the end record (and shifts offsets to match).
    """
    evil, good = corpus.os_system_reduce(), corpus.state_dict_pickle()
    evil_local = _local("archive/data.pkl", evil)
    good_local = _local("archive/data.pkl", good)
    good_at = len(evil_local)
    cd_evil = _central("archive/data.pkl", evil, 0)
    shift = len(cd_evil)  # zipfile adds (end record - cd size - declared offset) to offsets
    cd_good = _central("archive/data.pkl", good, good_at - shift)
    cd_offset = len(evil_local) + len(good_local)
    return evil_local + good_local + cd_evil + cd_good + _eocd(1, len(cd_good), cd_offset)


# --- 2. containers and formats without their own checker before ---------------------------


def legacy_tar_checkpoint(payload: bytes) -> bytes:
    """The pre-1.6 tar layout: ``sys_info``, ``pickle``, ``storages``, ``tensors``."""
    storage_key = corpus.Ops(2).binunicode("0").binunicode("cpu")
    storage_key.glob("torch", "FloatStorage").raw(b"\x87")
    storages = (
        corpus.Ops(2).int1(1).stop()
        + storage_key.stop()
        + struct.pack("<q", 2)
        + b"\x00" * 8
        + corpus.Ops(2).raw(b"]").stop()
    )
    tensors = corpus.Ops(2).int1(0).stop()
    members = {
        "sys_info": corpus.Ops(2).empty_dict().stop(),
        "pickle": payload,
        "storages": storages,
        "tensors": tensors,
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes | int) -> bytes:
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def onnx_model(*, location: str, domain: str, op: str = "Relu") -> bytes:
    """ModelProto{ir_version, graph{node, initializer with external data}, opset_import}."""
    node = _field(1, b"x") + _field(2, b"y") + _field(4, op.encode()) + _field(7, domain.encode())
    entry = _field(1, b"location") + _field(2, location.encode())
    tensor = _field(1, 4) + _field(2, 1) + _field(8, b"w") + _field(13, entry) + _field(14, 1)
    graph = _field(1, node) + _field(2, b"g") + _field(5, tensor)
    opset = _field(1, b"") + _field(2, 17)
    return _field(1, 8) + _field(2, b"exporter") + _field(7, graph) + _field(8, opset)


def keras_v3(layer: dict[str, object]) -> bytes:
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "config": {"name": "seq", "layers": [layer]},
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.5.0"}))
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 504)
    return out.getvalue()


LAMBDA_LAYER: dict[str, object] = {
    "module": "keras.layers",
    "class_name": "Lambda",
    "config": {
        "name": "lambda",
        "function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAA"}},
    },
}
FOREIGN_FUNCTION: dict[str, object] = {
    "module": "keras.layers",
    "class_name": "Dense",
    "config": {"units": 1, "activation": {"module": "os", "class_name": "function",
                                          "config": "system", "registered_name": "system"}},
}  # fmt: skip


def keras_h5(layer: dict[str, object]) -> bytes:
    """Keras 2 HDF5: the model config is a JSON string attribute somewhere in the file."""
    config = json.dumps({"class_name": "Sequential", "config": {"layers": [layer]}})
    return b"\x89HDF\r\n\x1a\n" + b"\x00" * 200 + config.encode() + b"\x00" * 300


def zip_of(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(name, data)
    return out.getvalue()


def header_name_mismatch() -> bytes:
    """``zipfile`` refuses a member whose local header names another file; miniz reads it."""
    evil = corpus.os_system_reduce()
    local = _local("archive/notes.txt", evil)
    central = _central("archive/data.pkl", evil, 0)
    return local + central + _eocd(1, len(central), len(local))
