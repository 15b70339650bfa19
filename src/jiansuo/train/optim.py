"""Optimizers by name: AdamW (torch) and Lion.

Lion (Chen et al., "Symbolic Discovery of Optimization Algorithms", 2023): the update is the sign of an
interpolation between momentum and gradient, with decoupled weight decay:
    u = sign(beta1 * m + (1 - beta1) * g);  theta -= lr * (u + wd * theta);  m = beta2 * m + (1 - beta2) * g
Every coordinate moves by exactly lr, so Lion wants a learning rate 3-10x smaller than AdamW's.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


class Lion(torch.optim.Optimizer):
    def __init__(self, params: Iterable, lr: float = 1e-5, betas: tuple[float, float] = (0.9, 0.99),
                 weight_decay: float = 0.0):
        if lr <= 0:
            raise ValueError(f"learning rate must be positive, not {lr}")
        super().__init__(params, {"lr": lr, "betas": betas, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if "momentum" not in state:
                    state["momentum"] = torch.zeros_like(param)
                momentum = state["momentum"]
                update = (momentum * beta1 + param.grad * (1 - beta1)).sign_()
                param.mul_(1 - group["lr"] * group["weight_decay"])
                param.add_(update, alpha=-group["lr"])
                momentum.mul_(beta2).add_(param.grad, alpha=1 - beta2)
        return loss


def make_optimizer(name: str, params: Iterable, lr: float, weight_decay: float = 0.01) -> torch.optim.Optimizer:
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "lion":
        return Lion(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}: choose adamw or lion")
