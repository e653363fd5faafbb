"""Packed rows: exact per-row attention on both kernels, lossless packing, drop path per row."""
import pytest
import torch
import torch.nn.functional as F
from timm.layers import DropPath

from backbones.packed import pack, pack_rows, packed_attention, padded_attention, unpack
from backbones.vit import Block


def _rows(seed=0, rows=6, length=11):
    g = torch.Generator().manual_seed(seed)
    valid = torch.rand(rows, length, generator=g) > 0.4  # real entries anywhere in a row
    valid[:, 3] = True  # no empty row
    valid[1] = True  # one full row: the longest
    return pack_rows(valid)


def _qkv(rows, heads=3, dim=8, **kw):
    total = rows.index.numel()
    return [torch.randn(total, heads, dim, requires_grad=True, **kw) for _ in range(3)]


def test_pack_rows_records_row_major_positions_and_lengths():
    rows = _rows()
    valid = rows.valid
    assert torch.equal(rows.index, valid.flatten().nonzero().squeeze(1))
    lengths = valid.sum(1)
    assert rows.offsets.tolist() == [0] + lengths.cumsum(0).tolist()
    assert rows.max_len == int(lengths.max())
    x = torch.randn(*valid.shape, 5)
    back = unpack(pack(x, rows), rows)
    assert torch.equal(back[valid], x[valid]) and not back[~valid].any()


def test_host_lengths_give_the_same_packing_without_reading_the_device():
    from benchmarks.host_reads import HostReadCounter
    valid = _rows().valid
    lengths = valid.sum(1).tolist()
    with HostReadCounter() as read:
        reading = pack_rows(valid)
    with HostReadCounter() as told:
        given = pack_rows(valid, lengths)
    assert read.count == 1 and told.count == 0, (read.reads, told.reads)
    assert torch.equal(given.index, reading.index) and torch.equal(given.offsets, reading.offsets)
    assert given.max_len == reading.max_len == max(lengths)
    wrong = list(lengths)
    wrong[0] += 1  # a total that does not match the mask
    with pytest.raises(RuntimeError, match='do not match'):
        pack_rows(valid, wrong)
    with pytest.raises(RuntimeError, match='do not match'):  # the same total, a longer row
        longer = max(lengths) + 1
        pack_rows(valid, [sum(lengths) - longer, longer] + [0] * (len(lengths) - 2))


def _per_row_reference(q, k, v, rows):
    starts = rows.offsets.tolist()
    return torch.cat([
        F.scaled_dot_product_attention(*(t[a:b].transpose(0, 1) for t in (q, k, v))).transpose(0, 1)
        for a, b in zip(starts[:-1], starts[1:])])


def test_each_token_attends_to_its_own_row_only():
    torch.manual_seed(0)
    rows = _rows()
    q, k, v = _qkv(rows)
    out = packed_attention(q, k, v, rows)
    torch.testing.assert_close(out, _per_row_reference(q, k, v, rows), atol=1e-6, rtol=1e-5)
    grad = torch.randn(out.shape)
    ours = torch.autograd.grad(out, (q, k, v), grad)
    reference = torch.autograd.grad(_per_row_reference(q, k, v, rows), (q, k, v), grad)
    for a, b in zip(ours, reference):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_varlen_flash_kernel_matches_the_masked_padded_one_in_bf16():
    torch.manual_seed(0)
    rows = pack_rows(_rows(seed=2, rows=64, length=150).valid.cuda())
    qkv = torch.randn(rows.index.numel(), 3, 12, 32, device='cuda', dtype=torch.bfloat16)
    q, k, v = qkv.requires_grad_().unbind(1)  # strided views, as the attention layer makes them
    grad = torch.randn_like(q)
    outs, grads = [], []
    for attention in (packed_attention, padded_attention):
        out = attention(q, k, v, rows)
        outs.append(out.float())
        grads.append(torch.autograd.grad(out, qkv, grad)[0].float())
    torch.testing.assert_close(outs[0], outs[1], atol=2e-2, rtol=2e-2)
    torch.testing.assert_close(grads[0], grads[1], atol=5e-2, rtol=5e-2)


def test_drop_path_on_packed_tokens_drops_whole_rows():
    torch.manual_seed(0)
    rows = _rows(rows=64)
    drop = DropPath(0.5).train()
    kept = Block.apply_drop_path(drop, torch.ones(rows.index.numel(), 4), rows)
    per_row = unpack(kept, rows)[..., 0]
    for row, valid in zip(per_row, rows.valid):
        assert len(set(row[valid].tolist())) == 1  # all 0 (dropped) or all 2 (kept, rescaled)
    assert set(per_row[rows.valid].tolist()) == {0.0, 2.0}
