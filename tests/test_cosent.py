"""CoSENT loss and Lion, checked by hand."""

import math

import pytest

torch = pytest.importorskip("torch", reason="the dense extra is not installed")

from jiansuo.train.cosent import bce_loss, cosent_loss  # noqa: E402
from jiansuo.train.optim import Lion, make_optimizer  # noqa: E402


def test_two_pairs_by_hand():
    # one ordered pair (0 above 1): log(1 + exp(20 * (0.1 - 0.9)))
    loss = cosent_loss(torch.tensor([0.9, 0.1]), torch.tensor([1.0, 0.0]))
    assert loss.item() == pytest.approx(math.log1p(math.exp(-16)), abs=1e-6)
    wrong = cosent_loss(torch.tensor([0.1, 0.9]), torch.tensor([1.0, 0.0]))
    assert wrong.item() == pytest.approx(math.log1p(math.exp(16)))


def test_graded_labels_use_every_ordered_pair():
    scores, labels = torch.tensor([0.2, 0.5, 0.4]), torch.tensor([2.0, 1.0, 0.0])
    # ordered pairs: (0>1): s1-s0 = .3, (0>2): .2, (1>2): -.1
    expected = math.log(1 + sum(math.exp(20 * d) for d in (0.3, 0.2, -0.1)))
    assert cosent_loss(scores, labels).item() == pytest.approx(expected, rel=1e-6)


def test_ties_contribute_nothing_and_scale_is_a_parameter():
    assert cosent_loss(torch.tensor([0.3, 0.9]), torch.tensor([1.0, 1.0])).item() == pytest.approx(0.0)
    loss = cosent_loss(torch.tensor([2.0, 3.0]), torch.tensor([1.0, 0.0]), scale=1.0)
    assert loss.item() == pytest.approx(math.log1p(math.e))


def test_gradient_pushes_the_right_way():
    scores = torch.tensor([0.1, 0.9], requires_grad=True)
    cosent_loss(scores, torch.tensor([1.0, 0.0])).backward()
    assert scores.grad[0] < 0 < scores.grad[1]


def test_bce_scales_graded_labels():
    loss = bce_loss(torch.tensor([0.0, 0.0]), torch.tensor([5.0, 0.0]))
    assert loss.item() == pytest.approx(math.log(2))


def test_lion_moves_every_coordinate_by_lr_times_sign():
    param = torch.nn.Parameter(torch.tensor([1.0, -2.0, 3.0]))
    optimizer = Lion([param], lr=0.1, betas=(0.9, 0.99), weight_decay=0.0)
    param.grad = torch.tensor([0.5, -0.01, 0.0])
    optimizer.step()
    assert param.detach().tolist() == pytest.approx([0.9, -1.9, 3.0])
    momentum = optimizer.state[param]["momentum"]
    assert momentum.tolist() == pytest.approx([0.005, -0.0001, 0.0])


def test_lion_decoupled_weight_decay_and_factory():
    param = torch.nn.Parameter(torch.tensor([1.0]))
    optimizer = make_optimizer("lion", [param], lr=0.1, weight_decay=0.5)
    param.grad = torch.tensor([1.0])
    optimizer.step()
    assert param.item() == pytest.approx(1.0 * (1 - 0.05) - 0.1)
    with pytest.raises(ValueError):
        make_optimizer("sgd", [param], lr=0.1)
