#!/usr/bin/python3
# SPDX-License-Identifier: MPL-2.0
"""The interop verdict from a Python GI client: libcuda.so.1 only (a stub libcuda.so first on the
path decides nothing), the consumer's CUDA device, one verdict per device, the consumer's refusal
of GL memory as the final judge, WSL2 detection.

No GPU: the test-only libcuda.so.1 stand-in, an imitation of the CUDA toolkit's stub libcuda.so
and the test-only consumer element stromtestconsumer (tests/stubs/, compiled here with cc) drive
the real plugin. They prove the branches, not that a GPU works. Each case runs in a child process
of this script, because the library path is read at start-up and verdicts are cached per process.
Run: GST_PLUGIN_PATH=target/release /usr/bin/python3 tests/python/test_interop.py"""

import json
import os
import subprocess
import sys
import tempfile

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

from gi_check import check, finish  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STUBS = os.path.join(ROOT, "tests", "stubs")
SOURCE = "videotestsrc num-buffers=12 ! video/x-raw,format=I420,width=160,height=120,framerate=30/1"
BOTH = "video/x-raw(memory:GLMemory),format=NV12;video/x-raw,format=NV12"


def pipeline(props, consumer):
    return f"{SOURCE} ! stromautoconvert name=conv {props} ! {consumer} ! fakesink name=out sync=false"


def consumer_on(device, refuse):
    return f"stromtestconsumer name=c cuda-device-id={device} refuse-gl={'true' if refuse else 'false'}"


# --- the child: runs the pipelines it is given and prints what each decided


def field(structure, name):
    ok, value = structure.get_int(name) if name == "cuda-device" else (True, structure.get_value(name))
    return value if ok else None


def run_pipeline(description):
    pipe = Gst.parse_launch(description)
    pts = []
    out = pipe.get_by_name("out")

    def on_buffer(_pad, info):
        pts.append(info.get_buffer().pts // Gst.MSECOND)
        return Gst.PadProbeReturn.OK

    out.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, on_buffer)
    bus = pipe.get_bus()
    pipe.set_state(Gst.State.PLAYING)
    decisions, warnings, error = [], [], None
    while True:
        msg = bus.timed_pop(30 * Gst.SECOND)
        if msg is None:
            error = "timeout"
            break
        if msg.type == Gst.MessageType.EOS:
            break
        if msg.type == Gst.MessageType.ERROR:
            error = msg.parse_error()[0].message
            break
        if msg.type == Gst.MessageType.WARNING:
            warnings.append(msg.parse_warning()[0].message)
        if msg.type == Gst.MessageType.ELEMENT:
            s = msg.get_structure()
            if s is not None and s.get_name() == "strom-autoconvert":
                decisions.append({n: field(s, n) for n in (
                    "path", "reason", "interop-status", "probe-ms", "cuda-device", "gl-devices")})
    result = {"decisions": decisions, "warnings": warnings, "error": error, "pts": pts}
    consumer = pipe.get_by_name("c")
    if consumer is not None:
        for name in ("refused", "accepted-gl", "accepted-system"):
            result[name] = consumer.get_property(name)
    pipe.set_state(Gst.State.NULL)
    return result


def child(pipelines):
    Gst.init(None)
    results = [run_pipeline(p) for p in pipelines]
    print("RESULT=" + json.dumps(results))


# --- the parent: builds the stand-ins and runs each case in a child


def cc(source, output, soname, extra=()):
    os.makedirs(os.path.dirname(output), exist_ok=True)
    subprocess.run(["cc", "-shared", "-fPIC", "-O1", f"-Wl,-soname,{soname}", "-o", output,
                    os.path.join(STUBS, source), *extra], check=True)


def build(tmp):
    cc("libcuda_stub.c", os.path.join(tmp, "driver", "libcuda.so.1"), "libcuda.so.1", ["-lpthread"])
    cc("libcuda_toolkit_stub.c", os.path.join(tmp, "cuda", "lib64", "stubs", "libcuda.so"),
       "libcuda.so.1")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "gstreamer-1.0"], check=True,
                           capture_output=True, text=True).stdout.split()
    cc("gst_test_consumer.c", os.path.join(tmp, "plugin", "libgststromtest.so"),
       "libgststromtest.so", flags)


def run_case(tmp, pipelines, library_path, **env):
    environment = dict(os.environ)
    environment["LD_LIBRARY_PATH"] = ":".join(library_path)
    plugin_path = [p for p in os.environ.get("GST_PLUGIN_PATH", "").split(":") if p]
    environment["GST_PLUGIN_PATH"] = ":".join(plugin_path + [os.path.join(tmp, "plugin")])
    environment.setdefault("GST_GL_WINDOW", "egl-device")
    environment.setdefault("GST_GL_PLATFORM", "egl")
    environment.update(env)
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", json.dumps(pipelines)],
                          env=environment, capture_output=True, text=True, timeout=120)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT="):
            return json.loads(line[len("RESULT="):])
    raise RuntimeError(f"child failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        build(tmp)
        driver = os.path.join(tmp, "driver")
        stub = os.path.join(tmp, "cuda", "lib64", "stubs")
        two_gpus = {"STROM_STUB_CUDA_DEVICES": "2"}
        frames = [n * 1000 // 30 for n in range(12)]

        # (1) A stub libcuda.so first on the path: named, but the driver decides.
        [r] = run_case(tmp, [pipeline("", BOTH)], [stub, driver])
        d = r["decisions"][0]
        check("stub libcuda.so first: the driver decides (path gl)", d["path"] == "gl", d)
        check("stub libcuda.so first: interop-status ok", d["interop-status"] == "ok", d)
        check("stub libcuda.so first: the reason names the stub",
              "stubs/libcuda.so" in d["reason"] and "CUDA_ERROR_STUB_LIBRARY" in d["reason"], d["reason"])

        # (2) The test runs on the consumer's cuda-device-id.
        [r] = run_case(tmp, [pipeline("", consumer_on(1, False))], [driver],
                       STROM_STUB_CUDA_GL_DEVICE_LIST="1", **two_gpus)
        d = r["decisions"][0]
        check("cuda-device is the consumer's (int 1)", d["cuda-device"] == 1, d)
        check("gl-devices names the CUDA ordinals behind GL", d["gl-devices"] == "1", d)
        check("all frames reach the consumer as GL", r["accepted-gl"] == 12, r)
        [r] = run_case(tmp, [pipeline("", BOTH)], [driver], STROM_STUB_CUDA_GL_DEVICE_LIST="1", **two_gpus)
        check("without cuda-device-id the first device behind GL is tested",
              r["decisions"][0]["cuda-device"] == 1, r["decisions"])
        [r] = run_case(tmp, [pipeline("", consumer_on(0, False))], [driver],
                       STROM_STUB_CUDA_GL_DEVICE_LIST="1", STROM_STUB_CUDA_REGISTER_DEV0="304", **two_gpus)
        d = r["decisions"][0]
        check("a consumer on another GPU than GL is tested there",
              d["path"] == "software" and d["interop-status"] == "failed: CUDA_ERROR_OPERATING_SYSTEM"
              and d["cuda-device"] == 0, d)

        # (3) One verdict per device: probe-ms > 0 the first time on each device, 0 after.
        results = run_case(tmp, [pipeline("", consumer_on(n, False)) for n in (0, 1, 0)], [driver],
                           STROM_STUB_CUDA_GL_DEVICES="2", **two_gpus)
        probe = [r["decisions"][0]["probe-ms"] for r in results]
        print(f"     probe-ms device 0, 1, 0: {probe}")
        check("a new device gets its own test", probe[0] > 0 and probe[1] > 0, probe)
        check("the same device again reuses it", probe[2] == 0, probe)

        # (4) The consumer refusing GL memory: software, same frames, a warning, no error.
        results = run_case(tmp, [pipeline("", consumer_on(0, True)), pipeline("", consumer_on(0, True))],
                           [driver])
        first, second = results
        paths = [d["path"] for d in first["decisions"]]
        check("refusal: no error reaches the application", first["error"] is None, first["error"])
        check("refusal: gl then software", paths == ["gl", "software"], paths)
        check("refusal: every frame once, in order", first["pts"] == frames, first["pts"])
        check("refusal: the refused frame was pushed again in software",
              first["refused"] == 1 and first["accepted-system"] == 12, first)
        check("refusal: the reason names the consumer's refusal",
              "refused the first GL frame" in first["decisions"][1]["reason"], first["decisions"])
        check("refusal: a warning says so",
              any("continuing with software conversion" in w for w in first["warnings"]), first["warnings"])
        check("refusal: the next pipeline on that device is software at once",
              [d["path"] for d in second["decisions"]] == ["software"]
              and second["decisions"][0]["interop-status"] == "failed: stromtestconsumer refused GL memory",
              second["decisions"])
        [r] = run_case(tmp, [pipeline("mode=gl", consumer_on(0, True))], [driver])
        check("refusal in mode=gl fails loudly, naming the consumer",
              r["error"] is not None and "refused GL memory" in r["error"], r["error"])

        # (5) WSL2 as Strom detects it.
        [r] = run_case(tmp, [pipeline("", BOTH)], [driver], WSL_INTEROP="/run/WSL/1_interop")
        check("WSL_INTEROP marks WSL2", r["decisions"][0]["interop-status"] == "skipped: WSL2", r["decisions"])
    finish("interop-gi")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(json.loads(sys.argv[2]))
    else:
        Gst.init(None)
        main()
