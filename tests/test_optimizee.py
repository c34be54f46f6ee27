"""The optimizee alone, without the env: proxy guidance and per-coordinate SGD."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from asg_gym.backbones import build_backbone
from asg_gym.optimizee import ClassificationOptimizee
from asg_gym.proxy_guidance import proxy_guidance_kl


def make_optimizee(**kwargs) -> ClassificationOptimizee:
    opt = ClassificationOptimizee(build_backbone("toy", None), 10, base_lr=1e-2, **kwargs)
    opt.reset(seed=0)
    return opt


def batch(seed=0, n=8):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)


def test_proxy_guidance_kl_matches_definition():
    g = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(4, 16, generator=g), torch.randn(4, 16, generator=g)
    p = F.softmax(teacher, 1)
    expected = (p * (F.log_softmax(teacher, 1) - F.log_softmax(student, 1))).sum(1).mean()
    assert proxy_guidance_kl(student, F.log_softmax(teacher, 1)) == pytest.approx(float(expected), rel=1e-6)
    assert proxy_guidance_kl(teacher, F.log_softmax(teacher, 1)) == pytest.approx(0.0, abs=1e-7)


def test_loss_is_xe_plus_lambda_kl_and_head_only_gradients_reach_new_head():
    opt = make_optimizee(lam=0.5)
    images, labels = batch()
    opt.set_scales([1.0] * 7)
    terms = opt.forward_backward(images, labels)
    assert terms.kl == 0.0
    opt.sgd_step()
    terms = opt.forward_backward(*batch(1))
    assert terms.kl > 0.0
    assert terms.total == pytest.approx(terms.xe + 0.5 * terms.kl, rel=1e-6)
    assert all(p.grad is None for p in opt.imagenet_head.parameters())  # θ_o stays frozen
    assert all(not p.requires_grad for p in opt.teacher_features.parameters())


def test_lambda_zero_does_not_backpropagate_kl_but_reports_it():
    a, b = make_optimizee(lam=0.0), make_optimizee(lam=0.0)
    for opt in (a, b):
        opt.set_scales([1.0] * 7)
        opt.forward_backward(*batch())
        opt.sgd_step()
    terms = a.forward_backward(*batch(1))
    assert terms.total == terms.xe and terms.kl > 0


def test_set_scales_sets_group_learning_rates():
    opt = make_optimizee()
    lrs = opt.set_scales([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 1.0])
    assert [g["lr"] for g in opt.optimizer.param_groups] == pytest.approx(lrs)
    assert lrs[-1] == pytest.approx(1e-2)
    with pytest.raises(ValueError, match="7 scales"):
        opt.set_scales([1.0])


def test_reset_restores_pretrained_weights_and_is_seeded():
    opt = make_optimizee()
    initial = {k: v.clone() for k, v in opt.features.state_dict().items()}
    head = [p.clone() for p in opt.new_head.parameters()]
    opt.set_scales([1.0] * 7)
    for s in range(3):
        opt.forward_backward(*batch(s))
        opt.sgd_step()
    opt.reset(seed=0)
    for k, v in opt.features.state_dict().items():
        assert torch.equal(v, initial[k])
    assert all(torch.equal(a, b) for a, b in zip(head, opt.new_head.parameters(), strict=True))
    opt.reset(seed=1)
    assert not all(torch.equal(a, b) for a, b in zip(head, opt.new_head.parameters(), strict=True))


def test_teacher_cache_returns_same_log_probs():
    opt = make_optimizee()
    opt.enable_teacher_cache(100)
    images, _ = batch(n=8)
    keys = torch.arange(8)
    direct = opt.teacher_log_probs(images)
    cached = opt.teacher_log_probs(images, keys)
    again = opt.teacher_log_probs(torch.zeros_like(images), keys)  # served from the cache
    torch.testing.assert_close(cached, direct)
    assert torch.equal(again, cached)


def test_non_finite_loss_is_not_backpropagated():
    opt = make_optimizee()
    images, labels = batch()
    terms = opt.forward_backward(images * float("nan"), labels)
    assert not terms.is_finite()
    assert all(p.grad is None for p in opt.trainable_parameters())


def test_training_before_reset_is_an_error():
    opt = ClassificationOptimizee(build_backbone("toy", None), 10)
    with pytest.raises(RuntimeError, match="reset"):
        opt.set_scales([1.0] * 7)
