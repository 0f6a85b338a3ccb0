"""Turns numpy arrays into ONNX initializers, inline or streamed to one external data file.

Streaming each weight to model.onnx.data as the graph is built keeps peak memory near one copy of the model
(onnx's own convert_model_to_external_data needs the whole model inline in memory first, and protobuf cannot
even hold more than 2 GiB).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

# Offsets in the data file are aligned so onnxruntime can memory-map each tensor (page size on all platforms).
EXTERNAL_ALIGNMENT_BYTES = 4096
# Tiny tensors (shape constants, scalars) stay inline: external data is only worth it for weights.
EXTERNAL_MIN_BYTES = 1024


class TensorStore:
    """Context manager; make_tensor(name, array) returns the TensorProto to put in graph.initializer."""

    def __init__(self, external_path: Path | None):
        self.external_path = external_path
        self._file = None
        self._offset = 0

    def __enter__(self) -> "TensorStore":
        if self.external_path is not None:
            self._file = open(self.external_path, "wb")
        return self

    def __exit__(self, *exc) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def make_tensor(self, name: str, array: np.ndarray) -> onnx.TensorProto:
        # np.ascontiguousarray would turn 0-d scalars into shape [1]; Range and Gather need true scalars.
        array = np.asarray(array)
        if not array.flags.c_contiguous:
            array = array.copy(order="C")
        if self._file is None or array.nbytes < EXTERNAL_MIN_BYTES:
            return numpy_helper.from_array(array, name)
        return self._external_tensor(name, array)

    def _external_tensor(self, name: str, array: np.ndarray) -> onnx.TensorProto:
        padding = -self._offset % EXTERNAL_ALIGNMENT_BYTES
        if padding:
            self._file.write(b"\0" * padding)
            self._offset += padding
        # ONNX raw data is little-endian; astype with an explicit '<' dtype is a no-op on little-endian hosts.
        data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        self._file.write(data)
        tensor = onnx.TensorProto()
        tensor.name = name
        tensor.data_type = onnx.helper.np_dtype_to_tensor_dtype(array.dtype)
        tensor.dims.extend(array.shape)
        tensor.data_location = onnx.TensorProto.EXTERNAL
        for key, value in (("location", self.external_path.name), ("offset", self._offset), ("length", len(data))):
            entry = tensor.external_data.add()
            entry.key = key
            entry.value = str(value)
        self._offset += len(data)
        return tensor
