"""The optimiser side of pretraining.

* :class:`BF16OptimWrapper`: bf16 autocast on GPU without a GradScaler, fp32 on CPU; a step whose
  loss is not finite is skipped on the device, without waiting for the host, and
  :func:`non_finite_loss_error` is what stops the run where the count is read.
* :class:`TrainableOptimWrapperConstructor`: mmengine's constructor, leaving frozen modules (the
  EMA target encoder) out of the optimizer and merging parameter groups of equal options
  (:func:`merge_param_groups`; :func:`regroup_state` loads a state saved before the merge).
"""
import contextlib
from typing import Iterator, List, Optional, Tuple

import torch
import torch.distributed as dist
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS

from engine.checkpoint import resume_advice
from engine.model import unwrap_model

__all__ = ['BF16OptimWrapper', 'TrainableOptimWrapperConstructor', 'merge_param_groups',
           'non_finite_loss_error', 'regroup_state']


def non_finite_loss_error(steps: int, last_checkpoint: Optional[str],
                          first: Optional[int] = None) -> FloatingPointError:
    """The error that stops a run after ``steps`` iterations with a non-finite loss (the first at
    iteration ``first``, counted from 1, when known on this rank)."""
    at = f' from iteration {first}' if first is not None else ''
    return FloatingPointError(
        f'non-finite loss in {steps} iteration{"s" if steps != 1 else ""}{at}: no optimiser step '
        'was taken from the first of them on (skipped on the device), and the run stops before '
        f'anything is logged or saved. {resume_advice(last_checkpoint)}')


@OPTIM_WRAPPERS.register_module()
class BF16OptimWrapper(OptimWrapper):
    """bf16 autocast around the forward pass on CUDA (bf16 needs no loss scaling); fp32 elsewhere.

    A non-finite loss never reaches the weights, and finding it costs no wait for the host: each
    :meth:`backward` adds a device flag (the loss is inf or NaN on any rank: a MAX all-reduce, which
    NCCL runs asynchronously) to :attr:`non_finite_steps`, and from the first such step on every
    optimiser step is skipped on the device, the way ``torch.amp.GradScaler`` skips one: the
    optimizer reads ``found_inf`` and leaves parameters, moments and step counts as they were. The
    optimizer must be one that reads it (torch's fused Adam, AdamW or SGD:
    ``optimizer=dict(type='AdamW', fused=True, ...)``). The count is read where the host waits
    anyway (:class:`~pretrain.hooks.PretrainRuntimeInfoHook` at logging iterations, before
    checkpoints and at the end; :class:`~engine.checkpoint.SafeCheckpointHook` before every save),
    which stop the run with :func:`non_finite_loss_error` when it is not 0.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, *args, **kwargs) -> None:
        if not getattr(optimizer, '_step_supports_amp_scaling', False):
            fused = 'fused=False' if 'fused' in optimizer.defaults else ''
            raise TypeError(
                f'BF16OptimWrapper skips steps with a non-finite loss on the device, which '
                f'{type(optimizer).__name__}({fused}) cannot do: use an optimizer that reads '
                '`found_inf` as torch.amp.GradScaler sets it, '
                "such as torch's fused AdamW: optimizer=dict(type='AdamW', fused=True, ...)")
        super().__init__(optimizer, *args, **kwargs)
        self._non_finite: Optional[torch.Tensor] = None

    @contextlib.contextmanager
    def optim_context(self, model: torch.nn.Module) -> Iterator[None]:
        """mmengine's context, with bf16 autocast when the model is on CUDA."""
        with super().optim_context(model):
            device = next(unwrap_model(model).parameters()).device
            with torch.autocast('cuda', dtype=torch.bfloat16, enabled=device.type == 'cuda'):
                yield

    @property
    def non_finite_steps(self) -> Optional[torch.Tensor]:
        """The number of backward passes with a non-finite loss so far on any rank, a float32
        tensor on the loss's device (``None`` before the first); reading it waits for the device."""
        return self._non_finite

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        """mmengine's backward, after adding this loss's non-finite flag to the count."""
        bad = torch.isfinite(loss.detach()).logical_not_().float()
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(bad, op=dist.ReduceOp.MAX)  # every rank skips the same steps
        if self._non_finite is None:
            self._non_finite = bad
        else:
            self._non_finite.add_(bad)
        super().backward(loss, **kwargs)

    def step(self, **kwargs) -> None:
        """mmengine's step, skipped on the device from the first non-finite loss on."""
        if self._non_finite is not None:
            # 1.0 from the first non-finite step on: the fused kernels skip when found_inf == 1
            self.optimizer.found_inf = self._non_finite.clamp_max(1.0)
        super().step(**kwargs)

    def load_state_dict(self, state_dict: dict) -> None:
        """mmengine's load, regrouping a state saved before the parameter groups were merged."""
        merged = getattr(self, 'merged_groups', None)
        groups = state_dict.get('param_groups', [])
        if merged and len(groups) != len(self.optimizer.param_groups) and \
                len(groups) == sum(len(m) for m in merged):  # saved before groups were merged
            state_dict = regroup_state(state_dict, merged)
        super().load_state_dict(state_dict)

    def raise_if_non_finite(self) -> None:
        """Stop the run with :func:`non_finite_loss_error` if any step so far had a non-finite loss
        (one wait for the device)."""
        steps = 0 if self._non_finite is None else int(self._non_finite.item())
        if steps:
            raise non_finite_loss_error(steps, self.message_hub.get_info('last_ckpt'))


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class TrainableOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """mmengine's constructor (``paramwise_cfg`` and all) over the modules that have a trainable
    parameter; fully frozen ones such as the EMA target encoder stay out of the optimizer.

    mmengine gives ``paramwise_cfg`` one parameter group per parameter (227 for ViT-B/16 and its
    predictor), and torch's optimizers step group by group: one fused kernel (and its launches
    and Python) per parameter. Groups with the same options are merged here (ViT-B/16: 2 groups,
    with and without weight decay), which changes no number: the update of a parameter depends only
    on its group's options. The wrapper keeps which groups were merged
    (``merged_groups``), so an optimizer state saved with one group per parameter still loads
    (:meth:`BF16OptimWrapper.load_state_dict`).
    """

    def add_params(self, params: List[dict], module: torch.nn.Module, prefix: str = '', *args,
                   **kwargs) -> None:
        """mmengine's groups of ``module`` if it trains anything; merged after the whole model."""
        if any(p.requires_grad for p in module.parameters()):
            super().add_params(params, module, prefix, *args, **kwargs)
        if not prefix:  # the call on the whole model, after its children's
            params[:], self.merged_groups = merge_param_groups(params)

    def __call__(self, model: torch.nn.Module) -> OptimWrapper:
        self.merged_groups = None
        wrapper = super().__call__(model)
        wrapper.merged_groups = self.merged_groups
        return wrapper


def merge_param_groups(groups: List[dict]) -> Tuple[List[dict], List[List[int]]]:
    """Parameter groups with equal options merged, in the order of their first members; and for
    each merged group, the indices of the groups it holds."""
    merged, sources, index = [], [], {}
    for i, group in enumerate(groups):
        key = repr(sorted((k, v) for k, v in group.items() if k != 'params'))
        if key not in index:
            index[key] = len(merged)
            merged.append(dict(group, params=[]))
            sources.append([])
        merged[index[key]]['params'] += list(group['params'])
        sources[index[key]].append(i)
    return merged, sources


def regroup_state(state: dict, merged_groups: List[List[int]]) -> dict:
    """An optimizer ``state_dict`` saved before its groups were merged, in the merged layout."""
    groups = state['param_groups']
    return dict(state, param_groups=[
        dict(groups[members[0]], params=[p for m in members for p in groups[m]['params']])
        for members in merged_groups])
