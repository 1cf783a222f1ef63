"""``hf-causal``: any transformers causal LM (hub id or local path) as a frozen taxobench backbone.

Options: ``init`` ("pretrained" | "random": same config, fresh weights from ``derive_seed(seed,
"backbone-init")``, the paper's no-text-exposure control), ``seed``, ``dtype`` (default float32),
``device`` (default cpu), ``revision``, ``attn_implementation`` (default sdpa: packed batches then run their
real tokens only, attending within pieces, see :mod:`plugins.backbones.block_attention`; eager: the dense
block mask, the reference), ``bos`` ("auto": use the BOS token only if the tokenizer prepends it when
encoding, as Llama-3 does and Qwen3/SmolLM2 do not; "always"; "never"), ``compile`` (torch.compile the
decoder, which also turns piece attention off; off by default; not part of the fingerprint),
``config_overrides`` (with ``init = "random"`` only: config fields to change before building the model,
e.g. ``{num_hidden_layers = 2, hidden_size = 64}`` for a tiny offline LM with the real tokenizer;
``head_dim`` follows ``hidden_size / num_attention_heads`` unless given).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

import torch
from pydantic import ValidationInfo, field_validator
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging as hf_logging

from harness.plugin.api import PieceBlocks, PluginOptions, UserError, declare, derive_seed
from plugins.backbones.block_attention import NAME as BLOCKS
from plugins.backbones.block_attention import using_blocks

if TYPE_CHECKING:
    from transformers import PreTrainedModel

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
TRUST_ENV = "TAXOBENCH_TRUST_REMOTE_CODE"  # set by ``taxobench run --trust-remote-code``
NO_TRUST_IN_CONFIG = (
    "load_kwargs.trust_remote_code cannot be set in a config (it runs the model repository's own "
    "code); pass --trust-remote-code to taxobench run / probe instead"
)


class HFCausalOptions(PluginOptions):
    """Options of backbones ``hf-causal`` and ``smollm2-135m`` (see the module docstring); the harness
    passes ``init`` and ``seed`` itself."""

    init: Literal["pretrained", "random"] = "pretrained"
    seed: int = 0
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    device: str = "cpu"
    revision: str | None = None
    # packing needs a 4D mask: sdpa (with piece attention) or eager (the dense block mask)
    attn_implementation: Literal["sdpa", "eager"] = "sdpa"
    bos: Literal["auto", "always", "never"] = "auto"
    compile: bool = False
    config_overrides: dict[str, Any] | None = None  # with init = "random" only
    load_kwargs: dict[str, Any] | None = None  # more from_pretrained keywords (never trust_remote_code)

    @field_validator("load_kwargs")
    @classmethod
    def _no_remote_code(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value and "trust_remote_code" in value:
            raise ValueError(NO_TRUST_IN_CONFIG)
        return value

    @field_validator("config_overrides")
    @classmethod
    def _overrides_need_random_init(cls, value: dict[str, Any] | None, info: ValidationInfo) -> Any:
        if value and info.data.get("init", "random") != "random":  # init is validated first (or failed)
            raise ValueError("config_overrides needs init = 'random'")
        return value


@contextmanager
def quiet_transformers():
    """Silence transformers' progress bars while loading, restoring the previous setting."""
    was = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            hf_logging.enable_progress_bar()


def _single_token(tokenizer: Any, text: str) -> int | None:
    ids = tokenizer.encode(text, add_special_tokens=False)
    if len(ids) == 1 and ids[0] != tokenizer.unk_token_id:
        return ids[0]
    return None


def answer_tokens(tokenizer: Any) -> tuple[str, int, str, int]:
    """The (yes text, yes id, no text, no id): " Yes"/" No" if single tokens, else "Yes"/"No"."""
    for yes, no in ((" Yes", " No"), ("Yes", "No")):
        y, n = _single_token(tokenizer, yes), _single_token(tokenizer, no)
        if y is not None and n is not None and y != n:
            return yes, y, no, n
    raise UserError("backbone tokenizer encodes neither ' Yes'/' No' nor 'Yes'/'No' as single tokens")


def _bos_id(tokenizer: Any, mode: str) -> int | None:
    bos = tokenizer.bos_token_id
    if mode == "never" or bos is None:
        if mode == "always":
            raise UserError("backbone option bos='always' but the tokenizer has no BOS token")
        return None
    if mode == "always":
        return bos
    ids = tokenizer.encode("a", add_special_tokens=True)
    return bos if ids and ids[0] == bos else None


def checked_load_kwargs(load_kwargs: dict[str, Any] | None) -> dict[str, Any]:
    """``load_kwargs`` for ``from_pretrained``; ``trust_remote_code`` (running a hub repository's own
    Python) never comes from a config file, only from the CLI flag ``--trust-remote-code``."""
    kwargs = dict(load_kwargs or {})
    if "trust_remote_code" in kwargs:  # also refused by HFCausalOptions; kept for direct construction
        raise UserError(NO_TRUST_IN_CONFIG)
    if os.environ.get(TRUST_ENV) == "1":
        kwargs["trust_remote_code"] = True
    return kwargs


def override_config(config: Any, overrides: dict[str, Any]) -> Any:
    """A copy of ``config`` with ``overrides`` applied (unknown fields are a UserError)."""
    unknown = sorted(k for k in overrides if not hasattr(config, k))
    if unknown:
        raise UserError(f"backbone option config_overrides: {config.model_type} configs have no {unknown}")
    data = {**config.to_dict(), **overrides}
    resized = {"hidden_size", "num_attention_heads"} & set(overrides)
    if resized and data.get("head_dim") is not None and "head_dim" not in overrides:
        data["head_dim"] = data["hidden_size"] // data["num_attention_heads"]
    return type(config).from_dict(data)


class HFCausalBackbone:
    """A frozen transformers causal LM; see the module docstring for options (the factories check them
    through :class:`HFCausalOptions` before building one)."""

    def __init__(
        self,
        source: str,
        *,
        name: str = "hf-causal",
        init: str = "pretrained",
        seed: int = 0,
        dtype: str = "float32",
        device: str = "cpu",
        revision: str | None = None,
        attn_implementation: str = "sdpa",
        bos: str = "auto",
        compile: bool = False,
        config_overrides: dict[str, Any] | None = None,
        load_kwargs: dict[str, Any] | None = None,
        extra_fingerprint: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.source, self.init, self.seed, self.dtype_name = source, init, int(seed), dtype
        kwargs = {"revision": revision, **checked_load_kwargs(load_kwargs)}
        with quiet_transformers():
            try:
                self.tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
                config = AutoConfig.from_pretrained(source, **kwargs)
            except OSError as exc:
                raise UserError(f"cannot load backbone {source!r}: {exc}") from None
            if config_overrides:
                config = override_config(config, config_overrides)
            self.module = self._load(source, config, {**kwargs, "attn_implementation": attn_implementation})
        # transformers types PreTrainedModel.to as @wraps(torch.nn.Module.to), an unbound method (no self)
        self.module.to(device=device, dtype=DTYPES[dtype])  # type: ignore[call-arg]
        self.module.eval().requires_grad_(False)
        self.config = self.module.config
        self.hidden_size = int(self.config.hidden_size)
        self.yes_token, self.yes_id, self.no_token, self.no_id = answer_tokens(self.tokenizer)
        self.bos_id = _bos_id(self.tokenizer, bos)
        self.eos_id = self.tokenizer.eos_token_id
        self._base: Callable[..., Any] = self.module.base_model
        if attn_implementation == "sdpa" and not compile:
            self.module.set_attn_implementation(BLOCKS)  # sdpa, plus piece attention in hidden_blocks
        if self.config._attn_implementation != BLOCKS:
            # the contract's optional member set to None (over the method): the harness then packs with
            # the dense block mask
            self.hidden_blocks = None  # type: ignore[method-assign,assignment]
        if compile:  # fewer kernel launches on GPU; shapes vary per batch, hence dynamic
            self._base = torch.compile(self._base, dynamic=True)
        self._head = self.module.get_output_embeddings()
        self._softcap = getattr(self.config, "final_logit_softcapping", None)
        self._fp = {
            "backbone": name,
            "source": source,
            "revision": revision or getattr(config, "_commit_hash", None),
            "config": hashlib.sha256(self.config.to_json_string(use_diff=False).encode()).hexdigest()[:16],
            "init": init,
            "dtype": dtype,
            "yes": self.yes_token,
            "bos": self.bos_id is not None,
            **({"seed": self.seed} if init == "random" else {}),
            **(extra_fingerprint or {}),
        }

    def _load(self, source: str, config: Any, kwargs: dict[str, Any]) -> PreTrainedModel:
        if self.init == "pretrained":
            return AutoModelForCausalLM.from_pretrained(source, config=config, dtype=torch.float32, **kwargs)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(self.seed, "backbone-init"))
            return AutoModelForCausalLM.from_config(
                config, dtype=torch.float32, attn_implementation=kwargs["attn_implementation"]
            )

    def _float_head(self) -> torch.Tensor:
        """A float32 copy of the (frozen) output projection, made once per weight tensor."""
        weight = self._head.weight
        key = (weight.data_ptr(), weight.dtype, weight.device)
        if getattr(self, "_head_key", None) != key:
            self._head_float, self._head_key = weight.detach().float(), key
        return self._head_float

    @property
    def device(self) -> torch.device:
        return self._head.weight.device

    def fingerprint(self) -> str:
        return json.dumps(self._fp, sort_keys=True, separators=(",", ":"))

    def tokenize(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def chat_prompt(self, text: str) -> str | None:
        """``text`` as one user turn in the tokenizer's chat template, ready for the assistant's answer
        (thinking off where the template has it); None when the tokenizer has no template."""
        if not getattr(self.tokenizer, "chat_template", None):
            return None
        messages = [{"role": "user", "content": text}]
        # transformers types the result as a union for every tokenize=; with tokenize=False it is a str
        return self.tokenizer.apply_chat_template(  # type: ignore[return-value]
            messages, tokenize=False, add_generation_prompt=True, enable_thinking=False
        )

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.module.get_input_embeddings()(ids)

    def hidden(
        self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor
    ) -> torch.Tensor:
        if attention_mask.ndim == 4 and attention_mask.dtype == torch.bool:
            if self.config._attn_implementation == "eager":  # eager adds the mask to the scores
                zero = torch.zeros((), dtype=inputs_embeds.dtype, device=inputs_embeds.device)
                neg = torch.tensor(torch.finfo(inputs_embeds.dtype).min, dtype=inputs_embeds.dtype)
                attention_mask = torch.where(attention_mask, zero, neg.to(inputs_embeds.device))
        out = self._base(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            use_cache=False,
        )
        return out.last_hidden_state

    def hidden_blocks(
        self, inputs_embeds: torch.Tensor, position_ids: torch.Tensor, blocks: PieceBlocks
    ) -> torch.Tensor:
        """Final hidden states ``[1, N, H]`` of a packed batch's real tokens ``[1, N, H]`` (see
        :mod:`harness.training.piece_attention`): attention computes only the blocks the shared-prefix mask
        allows."""
        with using_blocks(blocks):
            out = self._base(inputs_embeds=inputs_embeds, position_ids=position_ids, use_cache=False)
        return out.last_hidden_state

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits, computed in float32 even when the model runs in bf16/fp16 (a low-precision
        head would round the Yes/No margin to its ~3 significant digits)."""
        head = self._head
        if head.weight.dtype == torch.float32:
            logits = head(hidden)
        else:
            weight = self._float_head()
            bias = head.bias.float() if head.bias is not None else None
            logits = torch.nn.functional.linear(hidden.float(), weight, bias)
        if self._softcap:
            logits = torch.tanh(logits / self._softcap) * self._softcap
        return logits


@declare(HFCausalOptions)
def hf_causal(arg: str | None, **options: Any) -> HFCausalBackbone:
    """Factory for ``hf-causal:<hub id or local path>``."""
    if not arg:
        raise UserError("hf-causal needs a model, e.g. backbone = 'hf-causal:Qwen/Qwen3-0.6B'")
    opts = HFCausalOptions.parse("backbone 'hf-causal'", options)
    return HFCausalBackbone(arg, **opts.model_dump())
