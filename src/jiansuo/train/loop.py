"""The shared fine-tuning loop: batches, optimizer, periodic dev evaluation, early stopping, best checkpoint."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from jiansuo.train.pairs import Pair


@dataclass
class TrainConfig:
    epochs: int = 1
    batch_size: int = 16
    lr: float = 2e-5
    optimizer: str = "adamw"
    weight_decay: float = 0.01
    max_tokens: int = 128
    eval_every: int = 50
    patience: int = 4
    max_steps: int | None = None
    seed: int = 0


def train_loop(model, step: Callable[[list[Pair]], Any], evaluate: Callable[[], float],
               save: Callable[[Path], None], pairs: list[Pair], out_dir: Path, config: TrainConfig,
               progress: bool = True) -> dict:
    """Optimise `step(batch) -> loss` over `pairs`; keep the checkpoint with the best `evaluate()`."""
    import torch

    from jiansuo.train.optim import make_optimizer

    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer(config.optimizer, parameters, config.lr, config.weight_decay)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    history = [{"step": 0, "dev": evaluate()}]
    best, since_best, steps = history[0]["dev"], 0, 0
    save(out_dir)
    started = time.perf_counter()
    total = config.max_steps or config.epochs * ((len(pairs) + config.batch_size - 1) // config.batch_size)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, desc="training", unit="step")
    stop = False
    for _ in range(config.epochs):
        order = list(pairs)
        rng.shuffle(order)
        for start in range(0, len(order), config.batch_size):
            model.train()
            loss = step(order[start : start + config.batch_size])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, 1.0)
            optimizer.step()
            steps += 1
            if bar:
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}", best=f"{best:.4f}")
            if steps % config.eval_every == 0 or steps == total:
                model.eval()
                score = evaluate()
                history.append({"step": steps, "dev": score, "loss": float(loss.item())})
                if score > best:
                    best, since_best = score, 0
                    save(out_dir)
                else:
                    since_best += 1
                    stop = since_best >= config.patience
            if stop or steps >= total:
                break
        if stop or steps >= total:
            break
    if bar:
        bar.close()
    report = {"best_dev": best, "steps": steps, "seconds": time.perf_counter() - started,
              "history": history, "config": asdict(config), "early_stopped": stop}
    (out_dir / "training.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report
