"""The training monitor (RICE-21) and its TensorBoard writer."""
import struct

import numpy as np
import pytest

import course_lib as cl
from workbook_tools.monitor import Monitor, layer_names, parameter_names, summarize


def tiny_run(callback, epochs=2):
    rng = np.random.default_rng(0)
    net = cl.cnn(rng=0, channels=(2, 3), fc=5, image=(1, 8, 8), classes=3)
    X, y = rng.standard_normal((40, 1, 8, 8)), rng.integers(0, 3, 40)
    cl.train(net, (X, y), optimizer=cl.Adam(0.01), epochs=epochs, batch_size=8, rng=0, callbacks=[callback])
    return net, X, y


def test_names_of_layers_and_parameters():
    net = cl.cnn(rng=0, channels=(2, 3), fc=5, image=(1, 8, 8), classes=3)
    assert layer_names(net) == ["conv1", "conv1.relu", "pool1", "conv2", "conv2.relu", "pool2", None, "fc1",
                                "fc1.relu", None, "fc2"]
    assert parameter_names(net)["W2"] == "conv2 weights" and parameter_names(net)["b4"] == "fc2 biases"
    maxout = cl.cnn(rng=0, channels=(2,), fc=4, image=(1, 6, 6), classes=2, activation="maxout")
    assert layer_names(maxout)[:3] == ["conv1", "conv1.maxout", "pool1"]


def test_summarize():
    s = summarize(np.array([[1.0, 2.0], [3.0, 6.0]]), bins=5)
    assert (s["min"], s["max"], s["mean"]) == (1.0, 6.0, 3.0) and s["std"] == pytest.approx(np.std([1, 2, 3, 6]))
    counts, edges = s["hist"]
    assert counts.sum() == 4 and len(edges) == 6


def test_the_monitor_records_every_n_steps_and_the_errors_every_epoch():
    rng = np.random.default_rng(1)
    val = rng.standard_normal((12, 1, 8, 8)), rng.integers(0, 3, 12)
    monitor = Monitor(val[0][:6], every=2, val=val, test=val)
    net, X, y = tiny_run(monitor)
    assert monitor.steps == [0, 2, 4, 6, 8, 10]  # 5 steps per epoch, 2 epochs, and the start
    kinds = monitor.kinds
    assert {n for n, k in kinds.items() if k == "parameter"} == set(net.params)
    assert {n for n, k in kinds.items() if k == "net input"} == {"conv1", "conv2", "fc1", "fc2"}
    assert {n for n, k in kinds.items() if k == "activation"} == {"conv1.relu", "pool1", "conv2.relu", "pool2",
                                                                  "fc1.relu"}
    for name, stats in monitor.stats.items():
        assert all(len(v) == 6 for v in stats.values()) and len(monitor.hists[name]) == 6
    assert min(monitor.stats["conv1.relu"]["min"]) == 0.0  # after a ReLU
    np.testing.assert_allclose(monitor.stats["W1"]["std"][-1], net.params["W1"].std())
    assert monitor.eval_steps == [5, 10] and len(monitor.val_error) == 2
    assert monitor.val_error[-1] == pytest.approx(1 - cl.evaluate(net, *val)[1])
    assert not net.training  # the monitor's passes leave the trainer's mode alone; fit ends evaluating


def _events(path):
    """(tag, kind) of every value in a TensorBoard event file (TFRecord framing: length, crc, data, crc)."""
    from tensorboardX.proto import event_pb2

    data, i, found = path.read_bytes(), 0, []
    while i < len(data):
        (length,) = struct.unpack("<Q", data[i:i + 8])
        event = event_pb2.Event()
        event.ParseFromString(data[i + 12:i + 12 + length])
        found += [(v.tag, v.WhichOneof("value"), event.step) for v in event.summary.value]
        i += 12 + length + 4
    return found


def test_tensorboard_files_hold_the_same_scalars_and_histograms(tmp_path):
    pytest.importorskip("tensorboardX")
    from workbook_tools.tensorboard import TensorBoardMonitor

    rng = np.random.default_rng(2)
    val = rng.standard_normal((12, 1, 8, 8)), rng.integers(0, 3, 12)
    tb = TensorBoardMonitor(tmp_path / "run", val[0][:6], every=5, val=val, test=val)
    tiny_run(tb)
    tb.close()
    files = list((tmp_path / "run").glob("events.out.tfevents.*"))
    assert len(files) == 1
    events = _events(files[0])
    tags = {(tag, kind) for tag, kind, _ in events}
    assert ("loss/train", "simple_value") in tags and ("error/val", "simple_value") in tags
    for name in ("W1", "b3", "conv2", "pool1", "fc1.relu"):
        assert (name, "histo") in tags
        assert {(f"{name}/{s}", "simple_value") for s in ("min", "max", "mean", "std")} <= tags
    assert sorted({step for tag, _, step in events if tag == "W1"}) == [0, 5, 10]
    assert len([e for e in events if e[0] == "loss/train"]) == 10
