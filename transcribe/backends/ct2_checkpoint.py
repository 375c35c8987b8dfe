"""The verified CTranslate2 Whisper model as an openai-whisper checkpoint, so that backend runs offline.

In: a CT2 Whisper directory whose model.bin passed its sha256 check (`ensure_base_model`).
Out: `<cache>/openai-whisper/<name>-from-ct2.pt` ({"dims", "model_state_dict"}), written atomically
and rebuilt when its source hash changes. Never reads a model.bin that was not verified first.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")  # CT2 binary type ids
_SUPPORTED_BINARY_VERSION = 6


def _read(fh: BinaryIO, fmt: str):
    size = struct.calcsize(fmt)
    return struct.unpack(fmt, fh.read(size))[0]


def _read_string(fh: BinaryIO) -> str:
    length = _read(fh, "H")
    return fh.read(length)[:-1].decode("utf-8")


def read_ct2_variables(model_bin: Path) -> dict[str, np.ndarray]:
    """All variables of a CT2 model.bin (binary version 6), aliases resolved."""
    out: dict[str, np.ndarray] = {}
    with model_bin.open("rb") as fh:
        version = _read(fh, "I")
        if version != _SUPPORTED_BINARY_VERSION:
            raise ValueError(f"CTranslate2 binary version {version} is not supported")
        spec = _read_string(fh)
        if spec != "WhisperSpec":
            raise ValueError(f"not a Whisper model ({spec})")
        _read(fh, "I")  # spec revision
        for _ in range(_read(fh, "I")):
            name = _read_string(fh)
            shape = [_read(fh, "I") for _ in range(_read(fh, "B"))]
            dtype = _DTYPES[_read(fh, "B")]
            if dtype == "bfloat16":
                raise ValueError("bfloat16 CT2 weights are not supported")
            nbytes = _read(fh, "I")
            out[name] = np.frombuffer(fh.read(nbytes), dtype=dtype).reshape(shape)
        for _ in range(_read(fh, "I")):
            alias, target = _read_string(fh), _read_string(fh)
            out[alias] = out[target]
    return out


def _layers(variables: dict[str, np.ndarray], side: str) -> int:
    return len({k.split("/")[1] for k in variables if k.startswith(f"{side}/layer_") and k.count("/") > 2})


def openai_state_dict(variables: dict[str, np.ndarray]) -> tuple[dict, dict[str, np.ndarray]]:
    """(dims, state dict as float32 numpy arrays) in openai-whisper's naming."""
    v = {k: a.astype(np.float32) if a.dtype.kind == "f" else a for k, a in variables.items()}
    state: dict[str, np.ndarray] = {}
    n_audio_layer, n_text_layer = _layers(v, "encoder"), _layers(v, "decoder")
    n_state = v["encoder/conv1/weight"].shape[0]

    def linear(dst: str, src: str, bias: bool = True) -> None:
        state[f"{dst}.weight"] = v[f"{src}/weight"]
        if bias:
            state[f"{dst}.bias"] = v[f"{src}/bias"]

    def norm(dst: str, src: str) -> None:
        state[f"{dst}.weight"] = v[f"{src}/gamma"]
        state[f"{dst}.bias"] = v[f"{src}/beta"]

    def fused_qkv(dst: str, src: str) -> None:
        w, b = v[f"{src}/weight"], v[f"{src}/bias"]
        for i, part in enumerate(("query", "key", "value")):
            state[f"{dst}.{part}.weight"] = w[i * n_state:(i + 1) * n_state]
            if part != "key":  # Whisper's key projection has no bias (CT2 stores zeros)
                state[f"{dst}.{part}.bias"] = b[i * n_state:(i + 1) * n_state]

    for side, prefix, n in (("encoder", "encoder", n_audio_layer), ("decoder", "decoder", n_text_layer)):
        for i in range(n):
            src, dst = f"{side}/layer_{i}", f"{prefix}.blocks.{i}"
            fused_qkv(f"{dst}.attn", f"{src}/self_attention/linear_0")
            linear(f"{dst}.attn.out", f"{src}/self_attention/linear_1")
            norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
            linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
            linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
            norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")
            if side == "decoder":
                linear(f"{dst}.cross_attn.query", f"{src}/attention/linear_0")
                kv_w, kv_b = v[f"{src}/attention/linear_1/weight"], v[f"{src}/attention/linear_1/bias"]
                state[f"{dst}.cross_attn.key.weight"] = kv_w[:n_state]
                state[f"{dst}.cross_attn.value.weight"] = kv_w[n_state:]
                state[f"{dst}.cross_attn.value.bias"] = kv_b[n_state:]
                linear(f"{dst}.cross_attn.out", f"{src}/attention/linear_2")
                norm(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
    linear("encoder.conv1", "encoder/conv1")
    linear("encoder.conv2", "encoder/conv2")
    state["encoder.positional_embedding"] = v["encoder/position_encodings/encodings"]
    norm("encoder.ln_post", "encoder/layer_norm")
    state["decoder.token_embedding.weight"] = v["decoder/embeddings/weight"]
    state["decoder.positional_embedding"] = v["decoder/position_encodings/encodings"]
    norm("decoder.ln", "decoder/layer_norm")
    dims = {
        "n_mels": int(v["encoder/conv1/weight"].shape[1]),
        "n_audio_ctx": int(v["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(n_state),
        "n_audio_head": int(v["encoder/num_heads"]),
        "n_audio_layer": n_audio_layer,
        "n_vocab": int(v["decoder/embeddings/weight"].shape[0]),
        "n_text_ctx": int(v["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(v["decoder/embeddings/weight"].shape[1]),
        "n_text_head": int(v["decoder/num_heads"]),
        "n_text_layer": n_text_layer,
    }
    return dims, state


def ensure_openai_checkpoint(ct2_dir: Path, ct2_sha256: str, out_dir: Path, name: str) -> Path:
    """Write (once) the openai-whisper checkpoint for a verified CT2 model; returns its path."""
    import torch

    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{name}-from-ct2.pt"
    stamp = out_dir / f"{name}-from-ct2.json"
    try:
        if target.is_file() and json.loads(stamp.read_text())["source_sha256"] == ct2_sha256:
            return target
    except (OSError, ValueError, KeyError):
        pass
    dims, state = openai_state_dict(read_ct2_variables(ct2_dir / "model.bin"))
    checkpoint = {"dims": dims, "model_state_dict": {k: torch.from_numpy(np.ascontiguousarray(a))
                                                     for k, a in state.items()}}
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=out_dir)
    os.close(fd)
    try:
        torch.save(checkpoint, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    stamp.write_text(json.dumps({"source_sha256": ct2_sha256}))
    return target
