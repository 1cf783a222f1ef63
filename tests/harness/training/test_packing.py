"""Projector and shared-prefix packing: layout, batching, and exact equivalence with unpacked sequences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from harness.training.packing import Item, pack
from harness.training.piece_attention import piece_attention
from harness.training.projector import Projector, build_projector
from harness.training.vision_lm import VisionLM, plan_batches
from plugins.backbones.block_attention import using_blocks
from plugins.backbones.hf_causal import HFCausalBackbone
from tests.helpers.models import question_groups, save_tiny_model


@pytest.fixture(scope="module")
def tiny_paths(tmp_path_factory):
    return {arch: save_tiny_model(tmp_path_factory.mktemp(arch), arch) for arch in ("llama", "qwen3")}


def test_projector_shapes_and_seeded_init():
    x = torch.randn(3, 7, 12)
    proj = build_projector(12, 32, seed=1)
    assert isinstance(proj, Projector)
    assert proj(x).shape == (3, 7, 32)
    assert [p.shape for p in proj.parameters()] == [(32, 12), (32,), (32, 32), (32,)]
    same, other = build_projector(12, 32, seed=1), build_projector(12, 32, seed=2)
    assert all(torch.equal(a, b) for a, b in zip(proj.parameters(), same.parameters(), strict=True))
    assert not torch.equal(proj.fc1.weight, other.fc1.weight)
    fixed = [build_projector(12, 32, seed=s, seeded=False).fc1.weight for s in (1, 2)]
    assert torch.equal(*fixed)


def test_pack_layout_positions_and_block_mask():
    packed = pack([Item([9, 0, 0], [[5, 6], [7]]), Item([9, 0, 0], [[4]])])
    assert packed.ids.tolist() == [[9, 0, 0, 5, 6, 7], [9, 0, 0, 4, 0, 0]]
    assert packed.position_ids[0].tolist() == [0, 1, 2, 3, 4, 3]  # the 2nd question restarts at 3
    assert packed.position_ids[1, :4].tolist() == [0, 1, 2, 3]
    assert packed.last.tolist() == [4, 5, 3] and packed.seg_row.tolist() == [0, 0, 1]
    m = packed.attention_mask[0, 0]
    assert m[5].tolist() == [True, True, True, False, False, True]  # sees prefix + itself, not question 1
    assert m[4].tolist() == [True, True, True, True, True, False]
    assert m[1].tolist() == [True, True, False, False, False, False]
    pad = packed.attention_mask[1, 0]
    assert pad[4].tolist() == [False, False, False, False, True, False]  # pads see only themselves
    assert packed.n_tokens == 6 + 4
    image = pack([Item([9, 0, 0], [[5]], image=(1, 3)), Item([9, 0, 0], [[4]], image=(1, 3))], combine=False)
    assert image.image_index.tolist() == [[-1, 0, 1, -1], [-1, 2, 3, -1]]
    flat = pack([Item([9, 0, 0], [[5, 6], [7]])], shared=False)
    assert flat.ids.tolist() == [[9, 0, 0, 5, 6], [9, 0, 0, 7, 0]]
    assert flat.attention_mask.tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]]
    assert flat.last.tolist() == [4, 3] and flat.n_tokens == 9


def test_pack_combines_short_items_into_one_row():
    items = [Item([1, 0], [[5], [6, 7]], image=(1, 2)), Item([2, 0], [[8]], image=(1, 2)), Item([3], [[9]])]
    with pytest.raises(ValueError, match="same number of image tokens"):
        pack([Item([1, 0], [[5]], image=(1, 2)), Item([2, 0, 0], [[8]], image=(1, 3))])
    packed = pack(items)
    assert packed.ids.tolist() == [[1, 0, 5, 6, 7], [2, 0, 8, 3, 9]]  # rows of 5; items 2 and 3 share one
    assert packed.position_ids[1].tolist() == [0, 1, 2, 0, 1]
    assert packed.image_index[1].tolist() == [-1, 1, -1, -1, -1]
    assert packed.seg_row.tolist() == [0, 0, 1, 1] and packed.last.tolist() == [2, 4, 2, 4]
    m = packed.attention_mask[1, 0]
    assert m[3].tolist() == [False, False, False, True, False]  # the third item never sees the second
    assert m[4].tolist() == [False, False, False, True, True]
    assert m[2].tolist() == [True, True, True, False, False]
    assert pack(items, combine=False).ids.shape == (3, 5)


def test_plan_batches_whole_images_near_batch_size():
    sizes = [3, 3, 3, 10, 6, 1]
    batches = plan_batches(sizes, [0, 1, 2, 3, 4, 5], batch_size=6)
    assert batches == [[0, 1], [2], [3], [4], [5]]
    assert sorted(g for b in batches for g in b) == list(range(6))
    assert plan_batches(sizes, [5, 4, 3, 0], batch_size=16) == [[5, 4, 3], [0]]


@pytest.mark.parametrize("arch", ["llama", "qwen3"])
@pytest.mark.parametrize("attn,combine", [("sdpa", True), ("eager", True), ("sdpa", False)])
def test_packed_losses_and_gradients_equal_unpacked(tiny_paths, arch, attn, combine):
    backbone = HFCausalBackbone(str(tiny_paths[arch]), attn_implementation=attn)
    assert (backbone.bos_id is not None) == (arch == "llama")
    features = torch.randn(4, 6, 12, generator=torch.Generator().manual_seed(3))
    vlm = VisionLM(backbone, build_projector(12, backbone.hidden_size, seed=5), n_image_tokens=6)
    groups = question_groups(backbone, [4, 1, 5, 2])
    results = []
    for shared in (True, False):
        vlm.projector.zero_grad()
        batch = vlm.batch(groups, shared=shared, combine=combine)
        losses = F.cross_entropy(vlm.answer_logits(batch, features, "cpu"), batch.targets, reduction="none")
        losses.mean().backward()
        results.append((losses.detach(), [p.grad.clone() for p in vlm.projector.parameters()], batch))
    (packed_loss, packed_grads, packed), (flat_loss, flat_grads, flat) = results
    assert (backbone.hidden_blocks is not None) == (attn == "sdpa")  # sdpa: piece attention, real tokens only
    assert packed.packed.ids.shape[0] == (3 if combine else 4) and flat.packed.ids.shape[0] == 12
    assert packed.packed.n_tokens < flat.packed.n_tokens
    assert np.array_equal(packed.positions, flat.positions)
    torch.testing.assert_close(packed_loss, flat_loss, atol=1e-5, rtol=0)
    for a, b in zip(packed_grads, flat_grads, strict=True):
        assert a.abs().sum() > 0
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_packing_without_block_mask_would_differ(tiny_paths):
    """Guard: the tiny model is sensitive enough that a leaky mask fails the equivalence above."""
    backbone = HFCausalBackbone(str(tiny_paths["qwen3"]))
    features = torch.randn(1, 6, 12, generator=torch.Generator().manual_seed(3))
    vlm = VisionLM(backbone, build_projector(12, backbone.hidden_size, seed=5), n_image_tokens=6)
    groups = question_groups(backbone, [3])
    with torch.no_grad():
        good = vlm.answer_logits(vlm.batch(groups, shared=False), features, "cpu")
        leaky = vlm.batch(groups)
        width = leaky.packed.ids.shape[1]
        leaky.packed.attention_mask = torch.ones(width, width, dtype=torch.bool).tril()[None, None]
        leaky.packed.blocks = None  # the dense path, with the leaky mask
        bad = vlm.answer_logits(leaky, features, "cpu")
        leaky_blocks = vlm.batch(groups)
        n = leaky_blocks.packed.blocks.mask.shape[-1]
        leaky_blocks.packed.blocks.mask = torch.ones(n, n, dtype=torch.bool).tril()[None, None]
        bad_blocks = vlm.answer_logits(leaky_blocks, features, "cpu")
    assert (bad - good).abs().max() > 1e-3
    assert (bad_blocks - good).abs().max() > 1e-3


def test_piece_attention_equals_dense_masked_attention():
    """Pieces of unequal prefixes (one empty) in shared rows: each real token's output equals dense SDPA
    under the row block mask; padded tokens are never returned."""
    items = [Item([1, 2, 3], [[4, 5], [6], [7, 8, 9]]), Item([1], [[4]]), Item([], [[5, 6], [7]])]
    packed = pack(items)
    blocks = packed.blocks
    assert packed.ids.shape[0] < len(items)  # rows are shared, so the mask matters
    rows, width = packed.ids.shape
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(rows, 4, width, 8, generator=gen)
    k, v = torch.randn(rows, 2, width, 8, generator=gen), torch.randn(rows, 2, width, 8, generator=gen)
    dense = F.scaled_dot_product_attention(q, k, v, attn_mask=packed.attention_mask, enable_gqa=True)

    def flat(x):  # [R, H, T, D] -> [1, H, N, D] over real tokens
        return x.transpose(1, 2)[blocks.real].transpose(0, 1)[None]

    out = piece_attention(flat(q), flat(k), flat(v), blocks, scale=None)
    assert out.shape == (1, packed.n_tokens, 4, 8)
    torch.testing.assert_close(out[0], dense.transpose(1, 2)[blocks.real], atol=1e-6, rtol=0)


def test_block_attention_fails_loudly_when_no_layer_uses_it():
    packed = pack([Item([1, 2], [[3], [4]])])
    with pytest.raises(RuntimeError, match="attn_implementation"):
        with using_blocks(packed.blocks):
            pass
