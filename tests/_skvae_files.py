"""Helpers the persistence tests share (not a test module)."""

import json
import struct


def edit_metadata(data: bytes, edit) -> bytes:
    """A ``.skvae`` file's bytes with ``edit`` applied to its decoded skvae metadata
    (the JSON inside the safetensors header), everything else unchanged."""
    (n,) = struct.unpack_from("<Q", data)
    header = json.loads(data[8 : 8 + n])
    part = json.loads(header["__metadata__"]["skvae"])
    edit(part)
    header["__metadata__"]["skvae"] = json.dumps(part)
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data[8 + n :]
