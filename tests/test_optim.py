"""The optimiser: ``StackedMuon`` takes the steps of ``torch.optim.Muon``; Muon on the attention matrices with
AdamW on the rest (``MuonAdamW``) takes exactly the steps of the two run apart, follows the schedule, and resumes
from its state."""

import copy

import pytest
import torch
from conftest import scratch_student

from distill.algorithms.optim import StackedMuon, attention_matrices, optimizer_with_schedule, orthogonalise


def student_model(arch: str = "llama") -> torch.nn.Module:
    torch.manual_seed(0)
    return scratch_student(["a b c d e f g h"], arch=arch, n_layer=2, d_model=16, n_head=2, d_ff=32).model


def take_steps(model: torch.nn.Module, optimizer, scheduler, steps: range) -> None:
    for step in steps:
        ids = torch.randint(0, model.config.vocab_size, (2, 6), generator=torch.Generator().manual_seed(step))
        optimizer.zero_grad()
        model(input_ids=ids, labels=ids).loss.backward()
        optimizer.step()
        scheduler.step()


@pytest.mark.parametrize(
    "arch,names",
    [
        ("llama", {f"self_attn.{m}_proj.weight" for m in "qkvo"}),
        ("gpt2", {"attn.c_attn.weight", "attn.c_proj.weight"}),
    ],
)
def test_attention_matrices_are_the_attention_weights_of_every_layer(arch, names):
    model = student_model(arch)
    chosen = {id(p) for p in attention_matrices(model)}
    found = {n for n, p in model.named_parameters() if id(p) in chosen}
    assert {n.split(".", 3)[-1] for n in found} == names and len(found) == 2 * len(names)


def test_muon_adamw_steps_as_its_two_optimisers_apart():
    ours = student_model()
    ref = copy.deepcopy(ours)
    built = optimizer_with_schedule(
        ours.parameters(), 1e-2, 0.1, 2, 6, muon_params=attention_matrices(ours), muon_lr=0.05
    )
    take_steps(ours, built["optimizer"], built["lr_scheduler"]["scheduler"], range(6))

    muon = attention_matrices(ref)
    rest = [p for p in ref.parameters() if all(p is not m for m in muon)]
    reference = [
        StackedMuon(muon, lr=0.05),
        torch.optim.AdamW(
            [
                {"params": [p for p in rest if p.ndim >= 2], "weight_decay": 0.1},
                {"params": [p for p in rest if p.ndim < 2], "weight_decay": 0.0},
            ],
            lr=1e-2,
            betas=(0.9, 0.95),
            fused=True,
        ),
    ]
    schedule = built["lr_scheduler"]["scheduler"].lr_lambdas[0]
    schedules = [torch.optim.lr_scheduler.LambdaLR(o, schedule) for o in reference]

    class Both:  # the two reference optimisers stepped one after the other
        def zero_grad(self):
            [o.zero_grad() for o in reference]

        def step(self):
            [o.step() for o in reference]

    class BothSchedules:
        def step(self):
            [s.step() for s in schedules]

    take_steps(ref, Both(), BothSchedules(), range(6))
    for (name, a), b in zip(ours.named_parameters(), ref.parameters()):
        assert torch.allclose(a, b, atol=1e-6), name
    # Muon really moved the attention matrices: AdamW alone ends elsewhere
    adamw_only = student_model()
    built = optimizer_with_schedule(adamw_only.parameters(), 1e-2, 0.1, 2, 6)
    take_steps(adamw_only, built["optimizer"], built["lr_scheduler"]["scheduler"], range(6))
    assert not torch.allclose(attention_matrices(adamw_only)[0], attention_matrices(ours)[0], atol=1e-3)


def test_muon_adamw_resumes_from_its_state_to_the_same_weights():
    def build(model):
        built = optimizer_with_schedule(
            model.parameters(), 1e-2, 0.1, 2, 8, muon_params=attention_matrices(model), muon_lr=0.05
        )
        return built["optimizer"], built["lr_scheduler"]["scheduler"]

    whole = student_model()
    take_steps(whole, *build(whole), range(8))
    first = student_model()
    optimizer, scheduler = build(first)
    take_steps(first, optimizer, scheduler, range(4))
    saved = copy.deepcopy((first.state_dict(), optimizer.state_dict(), scheduler.state_dict()))
    resumed = student_model()
    resumed.load_state_dict(saved[0])
    optimizer, scheduler = build(resumed)
    optimizer.load_state_dict(saved[1])
    scheduler.load_state_dict(saved[2])
    # the schedule reaches the Muon group through the optimiser's shared parameter groups, after loading too
    assert optimizer.param_groups[-1] is optimizer.muon.param_groups[0]
    take_steps(resumed, optimizer, scheduler, range(4, 8))
    assert optimizer.muon.param_groups[0]["lr"] == pytest.approx(0.05 * scheduler.lr_lambdas[0](8))
    for (name, a), b in zip(whole.named_parameters(), resumed.parameters()):
        assert torch.allclose(a, b, atol=1e-6), name


def test_a_recipe_sets_muon_for_bc_stages_and_none_sets_adamw(compose_cfg):
    speedrun = compose_cfg("train", ["recipe=small_speedrun"])
    assert speedrun.algorithm.pretrain.module.muon_lr == 0.005
    assert compose_cfg("train", ["recipe=small_speedrun", "algorithm=bc"]).algorithm.module.muon_lr == 0.005
    assert compose_cfg("train").algorithm.pretrain.module.muon_lr is None  # the searched recipes: AdamW alone


def test_stacked_muon_steps_as_torch_muon_on_matrices_of_several_shapes():
    torch.manual_seed(0)
    shapes = [(8, 8), (8, 8), (8, 24), (24, 8), (24, 8)]  # square, wide and tall, two of a shape together
    ours = [torch.nn.Parameter(torch.randn(*s)) for s in shapes]
    ref = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    optimizers = [
        StackedMuon(ours, lr=0.02, ns_dtype=torch.bfloat16),
        torch.optim.Muon(ref, lr=0.02, weight_decay=0.0, adjust_lr_fn="original"),
    ]
    for step in range(4):
        grads = [torch.randn(*s) for s in shapes]
        for params, optimizer in zip((ours, ref), optimizers):
            for p, g in zip(params, grads):
                p.grad = g.clone()
            optimizer.step()
        moved = max((a - b).abs().max().item() for a, b in zip(ours, ref))
        # the same steps up to bfloat16 rounding (a step moves each weight by about 0.02)
        assert moved < 2e-3, (step, moved)
    for a, b in zip(optimizers[0].state.values(), optimizers[1].state.values()):
        assert torch.allclose(a["momentum_buffer"], b["momentum_buffer"], atol=1e-6)


@pytest.mark.parametrize("fast_bfloat16", [False, True])
def test_stacked_muon_on_a_cpu_orthogonalises_in_float32_unless_it_has_bfloat16_hardware(monkeypatch, fast_bfloat16):
    """On a CPU without bfloat16 matrix hardware the default Newton-Schulz dtype is float32: the steps equal Muon's
    update worked in float64 to float32 rounding; with that hardware it is bfloat16, about 1e-3 off (as in the test
    against torch.optim.Muon)."""
    monkeypatch.setattr("distill.algorithms.optim.fast_cpu_bfloat16", lambda: fast_bfloat16)
    torch.manual_seed(0)
    shapes = [(8, 8), (8, 24), (24, 8)]
    params = [torch.nn.Parameter(torch.randn(*s)) for s in shapes]
    expected = [p.detach().double() for p in params]
    buffers = [torch.zeros(*s, dtype=torch.float64) for s in shapes]
    optimizer = StackedMuon(params, lr=0.02)
    for step in range(3):
        grads = [torch.randn(*s) for s in shapes]
        for p, g in zip(params, grads):
            p.grad = g.clone()
        optimizer.step()
        for i, g in enumerate(grads):
            buffers[i] = 0.95 * buffers[i] + 0.05 * g.double()
            nesterov = g.double() + 0.95 * (buffers[i] - g.double())
            update = orthogonalise(nesterov[None], dtype=torch.float64)[0]
            expected[i] -= 0.02 * max(1.0, shapes[i][0] / shapes[i][1]) ** 0.5 * update
        moved = max((p.double() - e).abs().max().item() for p, e in zip(params, expected))
        assert (1e-4 < moved < 1e-2) if fast_bfloat16 else (moved < 2e-5), (step, moved)
