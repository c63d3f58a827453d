import torch
import torch.multiprocessing as mp

from graphparam.train.metrics import read_metrics
from train_helpers import ddp_worker, free_port, losses, run_tiny


def test_two_gloo_ranks_end_with_identical_weights(tmp_path):
    out, results = tmp_path / "ddp", tmp_path / "results"
    results.mkdir()
    mp.spawn(ddp_worker, args=(2, free_port(), str(out), 3, str(results)), nprocs=2, join=True)
    r0, r1 = (torch.load(results / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert r0["world"] == r1["world"] == 2 and r0["steps"] == r1["steps"] == 3
    assert r0["ghn"].keys() == r1["ghn"].keys()
    for k in r0["ghn"]:
        assert torch.equal(r0["ghn"][k], r1["ghn"][k]), k
    # rank 0 alone wrote the run directory; ranks split M=3 nets 2 + 1, and the loss is the mean over all 3
    assert [r["world_size"] for r in read_metrics(out / "metrics.jsonl", "event") if r["event"] == "start"] == [2]
    ddp_losses = losses(out)
    _, single = run_tiny(tmp_path / "single", steps=3, meta_batch=3, device="cpu")
    for step, loss in losses(tmp_path / "single").items():
        assert abs(ddp_losses[step] - loss) < 1e-4, (step, ddp_losses[step], loss)
