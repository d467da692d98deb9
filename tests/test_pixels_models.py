"""How the wheel's two networks are run (pixels/models.py): OpenVINO, CPU, f32, one thread,
the same answer every time."""

from __future__ import annotations

import string
import threading

import numpy as np
import openvino
from PIL import Image, ImageDraw, ImageFont

from dicom_deid.pixels.models import DETECTION, RECOGNITION, LazySession
from dicom_deid.pixels.ocr import DEFAULT_PASSES, DbnetDetector
from dicom_deid.pixels.recognize import CrnnRecognizer

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _label(text: str = "DOE^JOHN 1961", shape: tuple[int, int] = (160, 360)) -> np.ndarray:
    image = Image.new("L", (shape[1], shape[0]), 20)
    ImageDraw.Draw(image).text((20, 60), text, fill=220, font=ImageFont.truetype(FONT, 18))
    return np.asarray(image)


def test_both_networks_run_by_openvino_on_one_cpu_thread_in_f32() -> None:
    # OpenVINO's own default on CPUs with bf16 units (AVX512_BF16, AMX: this machine) is bf16,
    # which would make findings depend on the machine: f32 must be asked for, and be what runs.
    for network in (DbnetDetector()._network, CrnnRecognizer()._network):
        compiled = network.get()
        assert isinstance(compiled, openvino.CompiledModel)
        assert compiled.get_property("EXECUTION_DEVICES") == ["CPU"]
        assert compiled.get_property("INFERENCE_NUM_THREADS") == 1
        assert network.precision() == "f32"
        precisions = network.layer_precisions()
        assert "f32" in precisions and not precisions & {"bf16", "f16", "i8", "u8"}, precisions


def test_character_table_is_read_from_the_model_file() -> None:
    table = LazySession(RECOGNITION, "recognition").metadata("character").splitlines()
    assert len(table) == 6623
    assert set(string.ascii_letters + string.digits) <= set(table)
    assert LazySession(DETECTION, "detection").metadata("character") == ""


def test_same_image_gives_the_same_map_and_boxes_every_time() -> None:
    image = _label()
    first, second = DbnetDetector(), DbnetDetector()
    maps = [d.probability_map(image, scan) for d in (first, second) for scan in DEFAULT_PASSES[:3]]
    for a, b in zip(maps[:3], maps[3:], strict=True):
        assert a.shape == b.shape and np.array_equal(a, b)
    assert maps[0].max() > 0.5  # the label is seen: the maps compared are not empty
    again = first.probability_map(image, DEFAULT_PASSES[0])  # same session, a second run
    assert np.array_equal(again, maps[0])
    boxes = first.detect(image)
    assert boxes and boxes == second.detect(image)


def test_threads_sharing_a_network_get_the_answer_of_one_thread() -> None:
    # one OpenVINO inference request must not be run by two threads at once: each has its own
    detector = DbnetDetector()
    images = [_label(f"ACC {n:06d}") for n in range(4)]
    alone = [detector.probability_map(image) for image in images]
    together: dict[int, np.ndarray] = {}

    def search(index: int) -> None:
        together[index] = detector.probability_map(images[index])

    threads = [threading.Thread(target=search, args=(i,)) for i in range(len(images))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(together) == len(images)
    for index, expected in enumerate(alone):
        assert np.array_equal(together[index], expected)


def test_a_result_is_not_overwritten_by_the_next_run() -> None:
    # the inference request is reused: what run() returned must be the caller's own copy
    network = DbnetDetector()._network
    blob = np.zeros((1, 3, 64, 64), np.float32)
    first = network.run(blob)
    kept = first.copy()
    blob[:, :, 16:48, 16:48] = 1.0
    second = network.run(blob)
    assert not np.array_equal(second, kept)  # the inputs differ enough to change the map
    assert np.array_equal(first, kept)
